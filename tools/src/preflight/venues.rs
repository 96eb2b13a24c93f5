//! The venue checks of `qt preflight`: each configured venue answers its public server-time
//! endpoint over TLS (`venue <v>`), our wall clock is within `--max-skew` of its time
//! (`clock-skew <v>`), and, where its instruments endpoint is known (Binance spot and USD-M
//! `exchangeInfo`, OKX spot `instruments`, KuCoin `symbols`), its tick and lot sizes are ours
//! (`instruments <v>`).
//!
//! The time endpoints, from each venue's documentation (and served by `qt venue-sim`):
//!
//! | venue | request | server time in the answer |
//! |---|---|---|
//! | Binance spot | `GET /api/v3/time` | `serverTime` (ms) |
//! | Binance USD-M | `GET /fapi/v1/time` | `serverTime` (ms) |
//! | Bybit | `GET /v5/market/time` | `time` (ms) |
//! | OKX | `GET /api/v5/public/time` | `data[0].ts` (ms, text) |
//! | KuCoin | `GET /api/v1/timestamp` | `data` (ms) |
//! | Kraken | `GET /0/public/Time` | `result.unixtime` (s) |
//! | Firi | none verified: reachability by `GET /v2/markets`, skew skipped | — |
//!
//! Skew: how far the venue's time lies outside our request's send..receive window (a lower
//! bound of the true offset, whatever the round trip). Blocking (each request bounded by the
//! feed client's timeout); main thread.

use super::Check;
use crate::config::{Plan, VenuePlan};
use qt_core::Venue;
use qt_feed::endpoint::Endpoint;
use qt_feed::snapshot::HttpsClient;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Where a venue says what time it is, and how to read it.
#[derive(Debug, Clone, Copy)]
pub struct TimeEndpoint {
    /// Path (and query) of the request.
    pub path: &'static str,
    /// Reads the server's Unix time in ms from the answer.
    pub read: fn(&Value) -> Option<i64>,
    /// The answer's resolution in ms (Kraken answers in whole seconds).
    pub resolution_ms: i64,
}

/// The public time endpoint of `venue` (`None`: none verified).
pub fn time_endpoint(venue: Venue) -> Option<TimeEndpoint> {
    fn ms(v: &Value) -> Option<i64> {
        v.as_i64().or_else(|| v.as_str()?.parse().ok())
    }
    let (path, read): (&'static str, fn(&Value) -> Option<i64>) = match venue {
        Venue::Binance => ("/api/v3/time", |v| ms(&v["serverTime"])),
        Venue::BinanceUsdm => ("/fapi/v1/time", |v| ms(&v["serverTime"])),
        Venue::Bybit => ("/v5/market/time", |v| ms(&v["time"])),
        Venue::Okx => ("/api/v5/public/time", |v| ms(&v["data"][0]["ts"])),
        Venue::Kucoin => ("/api/v1/timestamp", |v| ms(&v["data"])),
        Venue::Kraken => ("/0/public/Time", |v| ms(&v["result"]["unixtime"]).map(|s| s.saturating_mul(1000))),
        _ => return None,
    };
    let resolution_ms = if venue == Venue::Kraken { 1000 } else { 1 };
    Some(TimeEndpoint { path, read, resolution_ms })
}

/// Every venue's checks, in configuration order; one `venues` SKIP for a simulated run.
pub fn check_all(plan: &Plan, max_skew: Duration) -> Vec<Check> {
    if !plan.is_live() {
        return vec![Check::skip("venues", "no [[venues]]: the run uses the built-in simulated venue")];
    }
    let mut checks = Vec::new();
    for v in &plan.venues {
        checks.extend(check_venue(plan, v, max_skew));
    }
    checks
}

/// The venue's public REST base, for venues whose feed needs none (`rest_url` not configured).
fn public_rest_base(venue: Venue) -> &'static str {
    match venue {
        Venue::Binance => "https://api.binance.com",
        Venue::BinanceUsdm => "https://fapi.binance.com",
        Venue::Bybit => "https://api.bybit.com",
        Venue::Okx => "https://www.okx.com",
        Venue::Kucoin => "https://api.kucoin.com",
        Venue::Kraken => "https://api.kraken.com",
        _ => "https://api.firi.com",
    }
}

/// Where to ask `v` for its time: its `rest_url`; else, when its `ws_url` names an IP address
/// or `localhost` (the venue simulator, which serves REST on the same listener), that host
/// over https; else the venue's public REST base.
pub fn rest_base(v: &VenuePlan) -> String {
    if !v.rest_url.is_empty() {
        return v.rest_url.clone();
    }
    if let Ok(ws) = Endpoint::parse(&v.ws_url, "ws_url")
        && (ws.host == "localhost" || ws.host.parse::<std::net::IpAddr>().is_ok())
    {
        return format!("https://{}:{}", ws.host, ws.port);
    }
    public_rest_base(v.venue).to_string()
}

pub(crate) fn client(v: &VenuePlan) -> Result<HttpsClient, String> {
    let base = rest_base(v);
    let endpoint = Endpoint::parse(&base, "rest_url").map_err(|e| e.to_string())?;
    let addrs = endpoint.resolve().map_err(|e| e.to_string())?;
    let name = endpoint.server_name(v.server_name.as_deref()).map_err(|e| e.to_string())?;
    let tls = qt_feed::tls::client_config(v.ca_file.as_deref()).map_err(|e| e.to_string())?;
    Ok(HttpsClient::new(endpoint, addrs, name, tls))
}

/// `GET target`, expecting 200 and a JSON body.
pub(crate) fn get_json(client: &HttpsClient, target: &str) -> Result<Value, String> {
    let (status, body) = client.get(target).map_err(|e| e.to_string())?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("GET {target}: HTTP {status} {}", text.chars().take(200).collect::<String>()));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {target}: not JSON ({e})"))
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn check_venue(plan: &Plan, v: &VenuePlan, max_skew: Duration) -> Vec<Check> {
    let (reach, skew, grids) =
        (format!("venue {}", v.venue), format!("clock-skew {}", v.venue), format!("instruments {}", v.venue));
    let client = match client(v) {
        Ok(c) => c,
        Err(why) => {
            return vec![
                Check::fail(reach, format!("{}: {why}", rest_base(v))),
                Check::skip(skew, "the venue is not reachable"),
                Check::skip(grids, "the venue is not reachable"),
            ];
        }
    };
    let mut checks = Vec::new();
    match time_endpoint(v.venue) {
        Some(te) => {
            let sent = SystemTime::now();
            let answer = get_json(&client, te.path);
            let received = SystemTime::now();
            match answer {
                Err(why) => {
                    checks.push(Check::fail(reach, format!("{}: {why}", rest_base(v))));
                    checks.push(Check::skip(skew, "the venue is not reachable"));
                    checks.push(Check::skip(grids, "the venue is not reachable"));
                    return checks;
                }
                Ok(body) => {
                    let rtt = received.duration_since(sent).unwrap_or_default();
                    checks.push(Check::pass(
                        reach,
                        format!("{} answered GET {} over TLS in {} ms", rest_base(v), te.path, rtt.as_millis()),
                    ));
                    let server = (te.read)(&body).map(|ms| (ms, te.resolution_ms));
                    checks.push(judge_skew(skew, server, sent, received, max_skew));
                }
            }
        }
        None => match get_json(&client, "/v2/markets") {
            Ok(_) => {
                checks.push(Check::pass(reach, format!("{} answered GET /v2/markets over TLS", rest_base(v))));
                checks.push(Check::skip(skew, format!("{} has no verified public time endpoint", v.venue)));
            }
            Err(why) => {
                checks.push(Check::fail(reach, format!("{}: {why}", rest_base(v))));
                checks.push(Check::skip(skew, "the venue is not reachable"));
            }
        },
    }
    checks.push(check_grids(plan, v, &client, grids));
    checks
}

/// Judges the venue's time — `(ms, resolution)`: somewhere in `ms .. ms + resolution` — against
/// our request's window `sent`..`received`: the venue stamped its answer in between, so our
/// clock is off by at least the distance between the two intervals (0 if they meet). A slow
/// round trip (a TLS handshake per request) widens the window but never makes a good clock fail.
pub fn judge_skew(
    name: String,
    server: Option<(i64, i64)>,
    sent: SystemTime,
    received: SystemTime,
    max_skew: Duration,
) -> Check {
    let Some((server_ms, resolution)) = server else {
        return Check::fail(name, "the time answer holds no server time");
    };
    let (lo, hi) = (unix_ms(sent), unix_ms(received));
    let server_hi = server_ms + resolution.max(1) - 1;
    let skew = if server_hi < lo {
        server_hi - lo
    } else if server_ms > hi {
        server_ms - hi
    } else {
        0
    };
    let limit = max_skew.as_millis() as i64;
    let what = format!("venue time − ours = {skew:+} ms at least (request took {} ms, limit {limit} ms)", hi - lo);
    if skew.abs() > limit {
        Check::fail(name, format!("clock skew too large: {what}; sync the clock (chrony/NTP)"))
    } else {
        Check::pass(name, what)
    }
}

/// `instruments <v>`: the venue's tick and lot of each of our instruments there
/// ([`crate::grids`]).
fn check_grids(plan: &Plan, v: &VenuePlan, client: &HttpsClient, name: String) -> Check {
    let found = crate::grids::compare(plan, v, |target| get_json(client, target));
    let (matched, unchecked) = (found.matched.join(", "), found.unchecked.join(", "));
    let mut problems: Vec<String> = found.mismatches;
    problems.extend(found.unanswered);
    match (problems.is_empty(), found.matched.is_empty()) {
        (false, _) => Check::fail(name, problems.join("; ")),
        (true, true) => Check::skip(name, format!("no instruments endpoint checked on {} ({unchecked})", v.venue)),
        (true, false) if found.unchecked.is_empty() => Check::pass(name, format!("tick and lot match for {matched}")),
        (true, false) => Check::pass(name, format!("tick and lot match for {matched}; not checked: {unchecked}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;
    use serde_json::json;

    #[test]
    fn each_documented_time_answer_is_read() {
        let cases = [
            (Venue::Binance, json!({"serverTime": 1_499_827_319_559_i64})),
            (Venue::BinanceUsdm, json!({"serverTime": 1_499_827_319_559_i64})),
            (
                Venue::Bybit,
                json!({"retCode": 0, "result": {"timeSecond": "1499827319"}, "time": 1_499_827_319_559_i64}),
            ),
            (Venue::Okx, json!({"code": "0", "msg": "", "data": [{"ts": "1499827319559"}]})),
            (Venue::Kucoin, json!({"code": "200000", "data": 1_499_827_319_559_i64})),
        ];
        for (venue, body) in cases {
            assert_eq!((time_endpoint(venue).unwrap().read)(&body), Some(1_499_827_319_559), "{venue}");
        }
        let kraken =
            json!({"error": [], "result": {"unixtime": 1_688_669_448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}});
        assert_eq!((time_endpoint(Venue::Kraken).unwrap().read)(&kraken), Some(1_688_669_448_000));
        assert!(time_endpoint(Venue::Firi).is_none());
    }

    #[test]
    fn skew_beyond_the_limit_fails_and_within_passes() {
        let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let received = sent + Duration::from_millis(20);
        let ours = 1_000_010;
        let limit = Duration::from_secs(1);
        let ok = judge_skew("s".into(), Some((ours + 300, 1)), sent, received, limit);
        assert_eq!(ok.status, Status::Pass, "{ok}");
        assert!(ok.why.contains("+290 ms"), "{ok}");
        let inside = judge_skew("s".into(), Some((ours, 1)), sent, received, limit);
        assert!(inside.why.contains("+0 ms"), "{inside}");
        let late = judge_skew("s".into(), Some((ours - 5_000, 1)), sent, received, limit);
        assert_eq!(late.status, Status::Fail);
        assert!(late.why.contains("clock skew too large") && late.why.contains("-4990 ms"), "{late}");
        assert_eq!(judge_skew("s".into(), None, sent, received, limit).status, Status::Fail);
        // A whole-second answer (Kraken) covers its second: 500 ms before the window is no skew.
        let second = judge_skew("s".into(), Some((999_500, 1000)), sent, received, limit);
        assert!(second.why.contains("+0 ms"), "{second}");
    }

    #[test]
    fn the_time_is_asked_at_rest_url_else_the_simulator_else_the_public_base() {
        let plan = |venue, rest: &str, ws: &str| VenuePlan {
            venue,
            rest_url: rest.into(),
            ws_url: ws.into(),
            ca_file: None,
            server_name: None,
            recv_window_ms: 5000,
            listen_key_only: false,
            ws_api_url: None,
            keys: Vec::new(),
            passphrases: Vec::new(),
            instruments: Vec::new(),
        };
        assert_eq!(rest_base(&plan(Venue::Binance, "https://127.0.0.1:9443", "")), "https://127.0.0.1:9443");
        assert_eq!(rest_base(&plan(Venue::Okx, "", "wss://127.0.0.1:9448")), "https://127.0.0.1:9448");
        assert_eq!(rest_base(&plan(Venue::Kraken, "", "wss://ws.kraken.com")), "https://api.kraken.com");
    }
}
