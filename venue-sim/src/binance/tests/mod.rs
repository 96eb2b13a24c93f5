//! Unit tests of the Binance spot protocol: shared fixtures here, REST in `rest`, streams in
//! `streams`.

use super::params::signing_payload;
use super::wire::{amount_text, diff_json};
use super::{BinanceLimits, BinanceSpot};
use crate::exchange::flow::FlowParams;
use crate::exchange::matching::FeeSchedule;
use crate::faults::Faults;
use crate::kit::decimal_text::{price_text, qty_text};
use crate::market::{AccountConfig, MarketConfig, SymbolConfig};
use crate::market::{BookUpdate, ClientOrderRequest, Market, OrderOutcome};
use crate::protocol::{Ctx, HttpRequest, Protocol, WsIncoming, WsSession};
use crate::signing;
use crossbeam_channel::Receiver;
use crossbeam_channel::{Sender, unbounded};
use qt_core::TimeInForce;
use qt_core::decimal::{self, DecimalStyle};
use qt_core::{AccountId, Instrument, InstrumentKind, Nanos, OrderType, Price, Qty, Side};
use qt_core::{InstrumentId, InstrumentSpec, Rate, Venue};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

mod rest;
mod streams;

/// The documented example key pair (`rest-api.md`, "SIGNED Endpoint Examples for POST
/// /api/v3/order"; `testdata/binance_spot/sign_example.txt`).
const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const TAKER_KEY: &str = "takerKey";
const TAKER_SECRET: &str = "takerSecret";

const ORDER_UPDATE: &str = include_str!("../../../../testdata/binance_spot/order_update.json");
const DEPTH_UPDATE: &str = include_str!("../../../../testdata/binance_spot/depth_update.json");
const BOOK_TICKER: &str = include_str!("../../../../testdata/binance_spot/book_ticker.json");
const TRADE: &str = include_str!("../../../../testdata/binance_spot/trade.json");
const PARTIAL_DEPTH: &str = include_str!("../../../../testdata/binance_spot/partial_depth.json");
const SNAPSHOT_REST: &str = include_str!("../../../../testdata/binance_spot/snapshot_rest.json");
const CAPTURED_DEPTH: &str = include_str!("../../../../testdata/binance_spot/depth.jsonl");
const CAPTURED_BOOK_TICKER: &str = include_str!("../../../../testdata/binance_spot/bookTicker.jsonl");

fn spec(symbol: &str, base: &str, tick: &str, lot: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Binance,
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: tick.into(),
        lot_size: lot.into(),
        min_qty: Some(lot.into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    }
}

/// BTCUSDT (tick 0.01, lot 0.00001, mid 65000) and ETHUSDT (tick 0.05, lot 0.002, mid 3200,
/// so that off-grid values parse and reach the engine's filters); no background flow runs,
/// so the seeded book only changes by the test's own orders.
fn market() -> Arc<Market> {
    let sym = |id: u32, s: InstrumentSpec, mid: &str| {
        let instrument = Instrument::from_spec(InstrumentId(id), &s).unwrap();
        let start_mid = Some(instrument.parse_price(mid).unwrap());
        SymbolConfig { instrument, flow: FlowParams { start_mid, size_median_lots: 200.0, ..FlowParams::default() } }
    };
    let account = |key: &str, secret: &str| AccountConfig {
        api_key: key.into(),
        secret: secret.into(),
        balances: vec![("USDT".into(), "100000".into()), ("BTC".into(), "2".into()), ("ETH".into(), "10".into())],
    };
    Market::new(MarketConfig {
        symbols: vec![
            sym(0, spec("BTCUSDT", "BTC", "0.01", "0.00001"), "65000"),
            sym(1, spec("ETHUSDT", "ETH", "0.05", "0.002"), "3200"),
        ],
        fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
        accounts: vec![account(DOC_KEY, DOC_SECRET), account(TAKER_KEY, TAKER_SECRET)],
        seed: 11,
    })
    .unwrap()
}

fn ctx() -> Ctx {
    Ctx { market: market(), faults: Faults::new(), stop: Arc::new(AtomicBool::new(false)) }
}

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn request(method: &str, path: &str, query: &str, body: &str, key: Option<&str>) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: key.map(|k| vec![("x-mbx-apikey".to_string(), k.to_string())]).unwrap_or_default(),
        body: body.as_bytes().to_vec(),
        peer: peer(),
    }
}

/// A SIGNED request with `params` in the body (POST) or the query (GET, DELETE), as the
/// documented examples build it: `params&recvWindow=5000&timestamp=<ts>&signature=<hex>`.
fn signed_at(method: &str, path: &str, params: &str, ts: i64, key: &str, secret: &str) -> HttpRequest {
    let sep = if params.is_empty() { "" } else { "&" };
    let payload = format!("{params}{sep}recvWindow=5000&timestamp={ts}");
    let sig = signing::hmac_sha256_hex(secret, payload.as_bytes());
    let full = format!("{payload}&signature={sig}");
    if method == "POST" {
        request(method, path, "", &full, Some(key))
    } else {
        request(method, path, &full, "", Some(key))
    }
}

fn signed(ctx: &Ctx, method: &str, path: &str, params: &str) -> HttpRequest {
    signed_at(method, path, params, ctx.market.now_ms(), DOC_KEY, DOC_SECRET)
}

fn call(venue: &BinanceSpot, ctx: &Ctx, req: &HttpRequest) -> (u16, Value) {
    let resp = venue.handle_http(ctx, req);
    let body: Value = serde_json::from_slice(&resp.body).expect("every answer is JSON");
    (resp.status, body)
}

fn assert_error(resp: (u16, Value), status: u16, code: i64, msg: &str) {
    assert_eq!(resp.1, json!({ "code": code, "msg": msg }), "body");
    assert_eq!(resp.0, status, "status of {}", resp.1);
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn best(ctx: &Ctx, symbol: usize) -> ((Price, Qty), (Price, Qty)) {
    let snap = ctx.market.snapshot(symbol, 1).unwrap();
    (snap.bids[0], snap.asks[0])
}

fn btc_text(p: Price) -> String {
    decimal::format_scaled(i128::from(p.units()), 2, DecimalStyle::Fixed).to_string()
}
