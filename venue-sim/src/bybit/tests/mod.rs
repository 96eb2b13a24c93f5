//! Unit tests of the Bybit v5 protocol: shared fixtures here, REST in `rest`, WebSocket sessions
//! in `streams`.

use super::params::{percent_decode, string_to_sign};
use super::wire::{json_str, parse_active_time, parse_uuid, uuid_text};
use super::{BybitV5, LINEAR_WS_PATH, ORDER_UUID_SALT, PRIVATE_WS_PATH, SPOT_WS_PATH};
use crate::exchange::flow::FlowParams;
use crate::exchange::matching::FeeSchedule;
use crate::faults::Faults;
use crate::market::Market;
use crate::market::{AccountConfig, MarketConfig, SymbolConfig};
use crate::protocol::{Ctx, HttpRequest, Protocol, WsIncoming, WsSession};
use crate::signing;
use crossbeam_channel::{Receiver, Sender};
use qt_core::{AccountId, Instrument, InstrumentKind, Notional, Price, Qty};
use qt_core::{InstrumentId, InstrumentSpec, Rate, Venue};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod rest;
mod streams;

const KEY: &str = "key-a";
const SECRET: &str = "secret-a";
const KEY_B: &str = "key-b";
const SECRET_B: &str = "secret-b";

fn sample(name: &str) -> String {
    let path = format!("{}/../testdata/bybit/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sample_json(name: &str) -> Value {
    serde_json::from_str(&sample(name)).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// BTCUSDT spot (tick 0.01, lot 0.00001), ETHUSDT spot whose tick (0.05) and lot (0.0005)
/// are coarser than the decimals it parses (so off-grid values reach the engine's filters),
/// SOLUSDT linear perpetual; two accounts.
fn market(events_per_sec: f64) -> Arc<Market> {
    let spec =
        |symbol: &str, base: &str, kind, tick: &str, lot: &str, min_qty: &str, price_scale, qty_scale| InstrumentSpec {
            venue: Venue::Bybit,
            symbol: symbol.into(),
            base: base.into(),
            quote: "USDT".into(),
            kind,
            tick_size: tick.into(),
            lot_size: lot.into(),
            min_qty: Some(min_qty.into()),
            min_notional: Some("5".into()),
            multiplier: None,
            price_scale,
            qty_scale,
        };
    let specs = [
        (spec("BTCUSDT", "BTC", InstrumentKind::Spot, "0.01", "0.00001", "0.00001", None, None), "65000"),
        (spec("ETHUSDT", "ETH", InstrumentKind::Spot, "0.05", "0.0005", "0.001", None, Some(4)), "3200"),
        (spec("SOLUSDT", "SOL", InstrumentKind::LinearPerpetual, "0.001", "0.1", "0.1", None, None), "150"),
    ];
    let symbols = specs
        .iter()
        .enumerate()
        .map(|(i, (s, mid))| {
            let instrument = Instrument::from_spec(InstrumentId(i as u32), s).unwrap();
            let start_mid = instrument.parse_price(mid).unwrap();
            let flow = FlowParams {
                events_per_sec,
                start_mid: Some(start_mid),
                size_median_lots: 20.0,
                seed_levels: 60,
                ..FlowParams::default()
            };
            SymbolConfig { instrument, flow }
        })
        .collect();
    let account = |key: &str, secret: &str| AccountConfig {
        api_key: key.into(),
        secret: secret.into(),
        balances: vec![("USDT".into(), "1000000".into()), ("BTC".into(), "10".into()), ("ETH".into(), "100".into())],
    };
    Market::new(MarketConfig {
        symbols,
        fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
        accounts: vec![account(KEY, SECRET), account(KEY_B, SECRET_B)],
        seed: 11,
    })
    .unwrap()
}

fn ctx_of(market: Arc<Market>) -> Ctx {
    Ctx { market, faults: Faults::new(), stop: Arc::new(AtomicBool::new(false)) }
}

fn request(method: &str, path: &str, query: &str, headers: Vec<(String, String)>, body: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.as_bytes().to_vec(),
        peer: "127.0.0.1:40000".parse().unwrap(),
    }
}

fn auth_headers(key: &str, secret: &str, ts: i64, payload: &str) -> Vec<(String, String)> {
    let ts = ts.to_string();
    let sign = signing::hmac_sha256_hex(secret, string_to_sign(&ts, key, "5000", payload).as_bytes());
    vec![
        ("x-bapi-api-key".into(), key.into()),
        ("x-bapi-timestamp".into(), ts),
        ("x-bapi-recv-window".into(), "5000".into()),
        ("x-bapi-sign".into(), sign),
        ("content-type".into(), "application/json".into()),
    ]
}

fn call(v: &BybitV5, ctx: &Ctx, req: &HttpRequest) -> (u16, Value) {
    let resp = v.handle_http(ctx, req);
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("{e}: {:?}", resp.body));
    (resp.status, body)
}

fn post_as(v: &BybitV5, ctx: &Ctx, key: &str, secret: &str, path: &str, body: &str) -> Value {
    let req = request("POST", path, "", auth_headers(key, secret, ctx.market.now_ms(), body), body);
    call(v, ctx, &req).1
}

fn post(v: &BybitV5, ctx: &Ctx, path: &str, body: &str) -> Value {
    post_as(v, ctx, KEY, SECRET, path, body)
}

fn get_signed(v: &BybitV5, ctx: &Ctx, path: &str, query: &str) -> Value {
    let req = request("GET", path, query, auth_headers(KEY, SECRET, ctx.market.now_ms(), query), "");
    call(v, ctx, &req).1
}

fn get_public(v: &BybitV5, ctx: &Ctx, path: &str, query: &str) -> Value {
    call(v, ctx, &request("GET", path, query, Vec::new(), "")).1
}

fn code(v: &Value) -> i64 {
    v["retCode"].as_i64().unwrap_or(-1)
}

fn best(ctx: &Ctx, symbol: usize) -> (Price, Price) {
    let s = ctx.market.snapshot(symbol, 1).unwrap();
    (s.bids[0].0, s.asks[0].0)
}

fn px(ctx: &Ctx, symbol: usize, p: Price) -> String {
    ctx.market.instruments()[symbol].price_text(p).as_str().to_owned()
}
