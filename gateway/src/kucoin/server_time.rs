//! KuCoin's server time, `GET /api/v1/timestamp` → `{"code":"200000","data":<ms>}` (public),
//! as the kit's time sync samples it ([`crate::kit::time_sync`]); and [`synced_clock`], the
//! estimate a cold helper makes once before its signed requests.
//!
//! Sample: `testdata/kucoin/orders/rest_server_time_response.json`. Blocks for one request;
//! allocates the answer.

use crate::kit::config::GatewayConfig;
use crate::kit::http::HttpsClient;
use crate::kit::time_sync::TimeSync;
use crate::kucoin::rest::envelope;
use std::time::Instant;

/// The server-time endpoint.
pub(crate) const TIME_PATH: &str = "/api/v1/timestamp";

/// One request for the venue's time, Unix ms; the error says why there is none.
pub(crate) fn server_time(http: &mut HttpsClient) -> Result<i64, String> {
    let resp = http.request("GET", TIME_PATH, "", &[]).map_err(|e| e.to_string())?;
    let env = envelope(&resp).filter(|e| resp.status == 200 && e.is_ok());
    let Some(env) = env else {
        return Err(format!("{TIME_PATH}: HTTP {}: {}", resp.status, resp.body_excerpt()));
    };
    env.data.as_i64().ok_or_else(|| format!("{TIME_PATH}: unreadable answer: {}", resp.body_excerpt()))
}

/// `cfg`'s clock synced once against the venue through `http` (on failure: logged, offset 0).
pub(crate) fn synced_clock(cfg: &GatewayConfig, http: &mut HttpsClient) -> TimeSync {
    let mut time = TimeSync::new(cfg.clock.clone(), cfg.time_sync_every);
    match time.sync(Instant::now(), || server_time(http)) {
        Ok(e) => log::info!("kucoin: venue clock offset {} ms (round trip {} ms)", e.offset_ms, e.rtt_ms),
        Err(e) => log::warn!("kucoin: venue clock not synced, signing with the local clock: {e}"),
    }
    time
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_answer_gives_milliseconds() {
        let doc = include_str!("../../../testdata/kucoin/orders/rest_server_time_response.json");
        let e: crate::kucoin::rest::Envelope = serde_json::from_str(doc).unwrap();
        assert!(e.is_ok());
        assert_eq!(e.data.as_i64(), Some(1_729_100_692_873));
    }
}
