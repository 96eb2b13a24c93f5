//! Binance's server time, `GET /api/v3/time` → `{"serverTime": <Unix ms>}` (unsigned, weight 1;
//! `/work/shared/venues/NOTES-orders.md`), as the kit's time sync samples it
//! ([`crate::kit::time_sync`]); and [`synced_clock`], the estimate a cold helper (balances,
//! settling) makes once before its signed requests.
//!
//! Blocks for one request per sample; allocates the answer.

use crate::binance::BinanceGatewayConfig;
use crate::kit::http::HttpsClient;
use crate::kit::time_sync::TimeSync;
use serde::Deserialize;
use std::time::Instant;

/// The server-time endpoint.
pub(crate) const TIME_PATH: &str = "/api/v3/time";

#[derive(Debug, Deserialize)]
struct TimeAnswer {
    #[serde(rename = "serverTime")]
    server_time: i64,
}

/// One request for the venue's time, Unix ms; the error says why there is none.
pub(crate) fn server_time(http: &mut HttpsClient, path: &str) -> Result<i64, String> {
    let resp = http.request("GET", path, "", &[]).map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(format!("{path}: HTTP {}: {}", resp.status, resp.body_excerpt()));
    }
    serde_json::from_slice::<TimeAnswer>(&resp.body)
        .map(|a| a.server_time)
        .map_err(|e| format!("{path}: unreadable ({e}): {}", resp.body_excerpt()))
}

/// `cfg`'s clock synced once against the venue's `time_path` through `http` (on failure:
/// logged, offset 0).
pub(crate) fn synced_clock(cfg: &BinanceGatewayConfig, http: &mut HttpsClient, time_path: &str) -> TimeSync {
    let mut time = TimeSync::new(cfg.clock.clone(), cfg.time_sync_every);
    match time.sync(Instant::now(), || server_time(http, time_path)) {
        Ok(e) => log::info!("binance: venue clock offset {} ms (round trip {} ms)", e.offset_ms, e.rtt_ms),
        Err(e) => log::warn!("binance: venue clock not synced, signing with the local clock: {e}"),
    }
    time
}
