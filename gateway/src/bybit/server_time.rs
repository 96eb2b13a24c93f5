//! Bybit's server time, `GET /v5/market/time` → `result.timeNano` (string, ns; public), as
//! the kit's time sync samples it ([`crate::kit::time_sync`]); and [`synced_clock`], the
//! estimate a cold helper makes once before its signed requests.
//!
//! Sample: `testdata/bybit/orders/rest_server_time_response.json`. Blocks for one request per
//! sample; allocates the answer.

use crate::bybit::BybitGatewayConfig;
use crate::bybit::rest::envelope;
use crate::kit::http::HttpsClient;
use crate::kit::time_sync::TimeSync;
use std::time::Instant;

/// The server-time endpoint.
pub(crate) const TIME_PATH: &str = "/v5/market/time";

/// One request for the venue's time, Unix ms; the error says why there is none.
pub(crate) fn server_time(http: &mut HttpsClient) -> Result<i64, String> {
    let resp = http.request("GET", TIME_PATH, "", &[]).map_err(|e| e.to_string())?;
    let env = envelope(&resp).filter(|e| resp.status == 200 && e.code == 0);
    let Some(env) = env else {
        return Err(format!("{TIME_PATH}: HTTP {}: {}", resp.status, resp.body_excerpt()));
    };
    parse_time(&env.result).ok_or_else(|| format!("{TIME_PATH}: unreadable answer: {}", resp.body_excerpt()))
}

/// `timeNano` / 10⁶, else `timeSecond` × 1000.
fn parse_time(result: &serde_json::Value) -> Option<i64> {
    let field = |k: &str| result.get(k).and_then(|v| v.as_str()).and_then(|s| s.parse::<i128>().ok());
    if let Some(ns) = field("timeNano") {
        return i64::try_from(ns / 1_000_000).ok();
    }
    field("timeSecond").and_then(|s| i64::try_from(s * 1000).ok())
}

/// `cfg`'s clock synced once against the venue through `http` (on failure: logged, offset 0).
pub(crate) fn synced_clock(cfg: &BybitGatewayConfig, http: &mut HttpsClient) -> TimeSync {
    let mut time = TimeSync::new(cfg.clock.clone(), cfg.time_sync_every);
    match time.sync(Instant::now(), || server_time(http)) {
        Ok(e) => log::info!("bybit: venue clock offset {} ms (round trip {} ms)", e.offset_ms, e.rtt_ms),
        Err(e) => log::warn!("bybit: venue clock not synced, signing with the local clock: {e}"),
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_gives_milliseconds() {
        let doc = include_str!("../../../testdata/bybit/orders/rest_server_time_response.json");
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        let ms = parse_time(&v["result"]).unwrap();
        let secs: i64 = v["result"]["timeSecond"].as_str().unwrap().parse().unwrap();
        assert_eq!(ms / 1000, secs);
    }
}
