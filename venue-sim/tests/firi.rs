//! The simulator's Firi public REST (issue #18) over real TLS on loopback: `/time`,
//! `/v2/markets/{market}`, `/v2/markets/{market}/ticker` and `/v2/markets/tickers` next to the
//! depth and history the feed polls, with the fields Firi's clients read (decimal strings on the
//! instrument's grid) and 404 for an unknown market.

mod util;

use qt_venue_sim::firi::FiriPublic;
use serde_json::Value;
use std::sync::Arc;
use util::TestClient;

fn get(c: &mut TestClient, path: &str) -> (u16, Value) {
    let (status, _, body) = c.get(path, &[]);
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

#[test]
fn firi_serves_time_market_and_tickers() {
    let server = util::start_sim(vec![Arc::new(FiriPublic::default())]);
    let mut c = TestClient::of(&server, "firi");
    let (status, t) = get(&mut c, "/time");
    assert_eq!(status, 200, "{t}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(t["time"].as_i64().is_some_and(|s| (s - now).abs() < 10), "epoch seconds: {t}");

    let (status, m) = get(&mut c, "/v2/markets/BTCUSDT");
    assert_eq!(status, 200, "{m}");
    for key in ["last", "high", "low", "change", "volume"] {
        assert!(m[key].as_str().is_some_and(|s| s.parse::<f64>().is_ok()), "{key}: {m}");
    }

    let (status, t) = get(&mut c, "/v2/markets/BTCUSDT/ticker");
    assert_eq!(status, 200, "{t}");
    let num =
        |v: &Value, k: &str| v[k].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or_else(|| panic!("{k}: {v}"));
    let (bid, ask, spread) = (num(&t, "bid"), num(&t, "ask"), num(&t, "spread"));
    assert!(bid < ask && (ask - bid - spread).abs() < 1e-6, "{t}");
    // On the grid: BTCUSDT's tick is 0.01, so at most two decimals.
    assert!(t["bid"].as_str().unwrap().split('.').nth(1).is_none_or(|d| d.len() <= 2), "{t}");

    let (status, all) = get(&mut c, "/v2/markets/tickers");
    assert_eq!(status, 200, "{all}");
    let names: Vec<_> = all.as_array().unwrap().iter().map(|t| t["market"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["BTCUSDT", "ETHUSDT"], "{all}");
    assert!(all[0]["bid"].is_string() && all[0]["ask"].is_string() && all[0]["spread"].is_string(), "{all}");

    for path in ["/v2/markets/NOPE", "/v2/markets/NOPE/ticker"] {
        let (status, body) = get(&mut c, path);
        assert_eq!((status, body["name"].as_str()), (404, Some("NotFound")), "{path}: {body}");
    }
}
