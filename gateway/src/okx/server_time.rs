//! OKX's server time, `GET /api/v5/public/time` → `data[0].ts` (string, ms; public), as the
//! kit's time sync samples it ([`crate::kit::time_sync`]); and [`synced_clock`], the estimate a
//! cold helper makes once before its signed requests.
//!
//! Sample: `testdata/okx/orders/rest_server_time_response.json`. Blocks for one request per
//! sample; allocates the answer.

use crate::kit::config::GatewayConfig;
use crate::kit::http::HttpsClient;
use crate::kit::time_sync::TimeSync;
use crate::okx::rest::envelope;
use std::time::Instant;

/// The server-time endpoint.
pub(crate) const TIME_PATH: &str = "/api/v5/public/time";

/// One request for the venue's time, Unix ms; the error says why there is none.
pub(crate) fn server_time(http: &mut HttpsClient) -> Result<i64, String> {
    let resp = http.request("GET", TIME_PATH, "", &[]).map_err(|e| e.to_string())?;
    let env = envelope(&resp).filter(|e| resp.status == 200 && e.code == "0");
    let Some(env) = env else {
        return Err(format!("{TIME_PATH}: HTTP {}: {}", resp.status, resp.body_excerpt()));
    };
    parse_time(&env.data).ok_or_else(|| format!("{TIME_PATH}: unreadable answer: {}", resp.body_excerpt()))
}

/// `data[0].ts`.
fn parse_time(data: &[serde_json::Value]) -> Option<i64> {
    data.first()?.get("ts")?.as_str()?.parse().ok()
}

/// `cfg`'s clock synced once against the venue through `http` (on failure: logged, offset 0).
pub(crate) fn synced_clock(cfg: &GatewayConfig, http: &mut HttpsClient) -> TimeSync {
    let mut time = TimeSync::new(cfg.clock.clone(), cfg.time_sync_every);
    match time.sync(Instant::now(), || server_time(http)) {
        Ok(e) => log::info!("okx: venue clock offset {} ms (round trip {} ms)", e.offset_ms, e.rtt_ms),
        Err(e) => log::warn!("okx: venue clock not synced, signing with the local clock: {e}"),
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_gives_milliseconds() {
        let doc = include_str!("../../../testdata/okx/orders/rest_server_time_response.json");
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        assert_eq!(parse_time(v["data"].as_array().unwrap()), Some(1_597_026_383_085));
    }
}
