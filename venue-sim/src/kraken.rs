//! [`KrakenV2`]: the simulator speaking Kraken's spot WebSocket v2 public market data at `/v2`
//! — `book` (snapshot + updates with the v2 CRC32 checksum), `trade`, `heartbeat`, `status` and
//! the `ping` method — with the shared [`crate::market::Market`] behind it.
//!
//! Facts follow docs.kraken.com (WebSocket v2 `book`, `trade`, `heartbeat`, `ping` pages and
//! the "book checksum v2" guide) as quoted in `venues/NOTES.md` §5; choices where the docs are
//! silent are written next to the code:
//!
//! - **Connect**: a `status` update (`system: "online"`, `api_version: "v2"`).
//! - **Subscribe**: `{"method":"subscribe","params":{"channel":"book","symbol":[..],"depth":10}}`,
//!   acknowledged once per symbol (`{"method":"subscribe","result":{"channel","depth",
//!   "snapshot","symbol"},"success":true,"time_in","time_out"}`, plus `req_id` when sent); an
//!   unknown symbol, channel or depth is answered with `"success":false` and an `error` text.
//!   `unsubscribe` is acknowledged the same way.
//! - **`book`** (depth 10/25/100/500/1000, default 10): a `snapshot` of the top `depth` levels,
//!   then an `update` whenever the top `depth` changes (checked every session turn). Prices and
//!   quantities are bare JSON numbers at the pair's precision (the instrument's scales). Levels
//!   that leave the top because others entered are *not* deleted ("you won't receive qty 0 for
//!   price levels that fall out of scope": the client applies the whole message, then truncates
//!   to the depth, then verifies); levels removed from the book are sent with `qty` 0; each side
//!   is sent best first ([`book_update`]). Every message carries `checksum`: CRC32 of the top 10 asks (low → high)
//!   then the top 10 bids (high → low), each level's price then quantity with the `.` removed and
//!   leading zeros stripped, as an unsigned 32-bit integer. Updates carry `timestamp` (RFC 3339).
//! - **`trade`**: one `update` per market trade batch; a requested trade snapshot is sent empty
//!   (the market keeps no trade history).
//! - **Heartbeat**: `{"channel":"heartbeat"}` every second while anything is subscribed;
//!   `{"method":"ping"}` is answered by `{"method":"pong",..}`.
//! - **Faults**: dropped connections, stalls, malformed and truncated frames, `corrupt_levels`
//!   (one level of an update is sent one lot off while the checksum covers the true book).
//!   Kraken has no sequence numbers, so `skip_sequence` does not apply.
//!
//! Threads: each session runs on its own connection thread inside [`Protocol::run_ws`].
//! Allocates freely; blocks only in the WebSocket `recv` tick; never panics on client input.

use crate::kit::session::{LoopRules, QueuedSession, run_session};
use crate::market::{BookUpdate, TradeView};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use crate::public_stream::{
    Levels, MirrorBook, Outbox, PublishedView, drain_updates, rfc3339_micros, subscribe_symbol, symbol_by_pair,
};
use crossbeam_channel::Receiver;
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument, Side};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The v2 public stream's path.
pub const WS_PATH: &str = "/v2";
/// Depths the `book` channel accepts.
pub const DEPTHS: [u64; 5] = [10, 25, 100, 500, 1000];
/// Levels per side in the checksum.
pub const CHECKSUM_DEPTH: usize = 10;
/// Heartbeat interval ("approximately once every second").
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// How long a session waits for a client frame before doing its periodic work.
const SESSION_TICK: Duration = Duration::from_millis(2);
/// A session whose unsent messages exceed this (a long stall) is dropped.
const OUTBOX_LIMIT: usize = 100_000;
/// What a malformed-frame fault sends (cut inside a `book` update).
const MALFORMED: &[u8] = b"{\"channel\":\"book\",\"type\":\"update\",\"data\":[{\"symbol\":";

/// Kraken spot WebSocket v2 public market data.
#[derive(Debug, Default)]
pub struct KrakenV2 {
    next_conn: AtomicU64,
}

impl KrakenV2 {
    /// The venue.
    pub fn new() -> Self {
        Self::default()
    }
}

/// An instrument's v2 symbol: the market symbol when it is already `BASE/QUOTE`, else built.
pub fn ws_symbol(inst: &Instrument) -> String {
    if inst.symbol().contains('/') { inst.symbol().to_owned() } else { format!("{}/{}", inst.base(), inst.quote()) }
}

/// A decimal as a bare JSON number, written from its exact text (never through `f64`, whose
/// shortest form may be `1e-5`).
fn number(units: i64, scale: u8) -> String {
    format_scaled(i128::from(units), scale, DecimalStyle::Trimmed).as_str().to_owned()
}

fn levels_json(inst: &Instrument, levels: &[(i64, i64)]) -> String {
    let items: Vec<String> = levels
        .iter()
        .map(|(p, q)| {
            format!("{{\"price\":{},\"qty\":{}}}", number(*p, inst.price_scale()), number(*q, inst.qty_scale()))
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A `book` message of `kind` (`snapshot` / `update`) for `inst` (named by [`ws_symbol`]) with
/// the given levels and `checksum`, exactly as a session sends it (updates carry `timestamp`,
/// from `ts_ns`).
pub fn book_message(
    inst: &Instrument,
    kind: &str,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
    sum: u32,
    ts_ns: i64,
) -> String {
    let timestamp =
        if kind == "update" { format!(",\"timestamp\":{}", quoted(&rfc3339_micros(ts_ns))) } else { String::new() };
    format!(
        "{{\"channel\":\"book\",\"type\":\"{kind}\",\"data\":[{{\"symbol\":{},\"bids\":{},\"asks\":{},\"checksum\":{sum}{timestamp}}}]}}",
        quoted(&ws_symbol(inst)),
        levels_json(inst, bids),
        levels_json(inst, asks),
    )
}

/// The `book` update a subscription whose last published view is `view` sends for `book`'s
/// current top: `(bids, asks, checksum)`, each side best first — the levels of the top `depth`
/// whose quantity changed or which entered it, and with `qty` 0 the levels removed from the
/// book — and the checksum of the new view; `None` when nothing in the view changed. The view
/// becomes `book`'s top.
///
/// A level that only fell below the subscribed depth is not sent: Kraken's client applies the
/// whole message, then truncates to the depth, then verifies ("you won't receive qty 0 for price
/// levels that fall out of scope"). Sent best first, an insert near the top comes before a
/// delete further down, so a client that truncated after each level would lose a level here.
pub fn book_update(view: &mut PublishedView, book: &MirrorBook) -> Option<(Levels, Levels, u32)> {
    let (mut bids, mut asks) = view.diff(book);
    bids.retain(|(p, q)| *q != 0 || !book.bids.contains_key(p));
    asks.retain(|(p, q)| *q != 0 || !book.asks.contains_key(p));
    if bids.is_empty() && asks.is_empty() {
        return None;
    }
    Some((bids, asks, checksum(view)))
}

/// Kraken's v2 checksum of a published view whose units are at the pair's precision: each
/// value's digits without the point and leading zeros are exactly its integer units.
pub fn checksum(view: &PublishedView) -> u32 {
    let mut text = String::new();
    for (p, q) in view.top_asks(CHECKSUM_DEPTH).chain(view.top_bids(CHECKSUM_DEPTH)) {
        for v in [p, q] {
            if v != 0 {
                text.push_str(&v.to_string());
            }
        }
    }
    crc32fast::hash(text.as_bytes())
}

impl Protocol for KrakenV2 {
    fn name(&self) -> &'static str {
        "kraken"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == WS_PATH
    }

    fn handle_http(&self, _ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        HttpResponse::json(
            404,
            &json!({"error": [format!("EGeneral:Unknown method {} {} (only the v2 WebSocket is simulated)", req.method, req.path)]}),
        )
    }

    fn run_ws(&self, ctx: &Ctx, _path: &str, _query: &str, ws: &mut dyn WsSession) {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 1;
        let next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
        let mut session = Session { ctx, symbols: Vec::new(), out: Outbox::new(MALFORMED), next_heartbeat };
        let status = json!({"channel": "status", "type": "update", "data": [{
            "version": "2.0.0", "system": "online", "api_version": "v2", "connection_id": conn_id,
        }]});
        session.out.control(status.to_string());
        let rules = LoopRules {
            tick: SESSION_TICK,
            outbox_limit: OUTBOX_LIMIT,
            idle: None,
            idle_counts_sends: false,
            binary_as_empty_text: false,
        };
        run_session(&mut session, ctx, ws, &rules);
    }
}

/// A subscribed `book`.
#[derive(Debug)]
struct BookChannel {
    view: PublishedView,
    dirty: bool,
}

/// A session's view of one symbol.
#[derive(Debug)]
struct SymbolFeed {
    symbol: usize,
    inst: Instrument,
    name: String,
    rx: Receiver<Arc<BookUpdate>>,
    book: MirrorBook,
    channel: Option<BookChannel>,
    trades: bool,
}

impl SymbolFeed {
    fn book_message(&self, kind: &str, bids: &[(i64, i64)], asks: &[(i64, i64)], sum: u32, ts_ns: i64) -> String {
        book_message(&self.inst, kind, bids, asks, sum, ts_ns)
    }

    fn trade_message(&self, trades: &[TradeView]) -> String {
        let items: Vec<String> = trades
            .iter()
            .map(|t| {
                format!(
                    "{{\"symbol\":{},\"side\":\"{}\",\"price\":{},\"qty\":{},\"ord_type\":\"limit\",\"trade_id\":{},\"timestamp\":{}}}",
                    quoted(&self.name),
                    if t.aggressor == Side::Buy { "buy" } else { "sell" },
                    number(t.price.units(), self.inst.price_scale()),
                    number(t.qty.units(), self.inst.qty_scale()),
                    t.trade_id,
                    quoted(&rfc3339_micros(t.ts.0)),
                )
            })
            .collect();
        format!("{{\"channel\":\"trade\",\"type\":\"update\",\"data\":[{}]}}", items.join(","))
    }
}

/// One `/v2` session.
#[derive(Debug)]
struct Session<'a> {
    ctx: &'a Ctx,
    symbols: Vec<SymbolFeed>,
    out: Outbox,
    /// When the next `heartbeat` is due.
    next_heartbeat: Instant,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

impl Session<'_> {
    fn reply(&mut self, method: &str, req_id: Option<&Value>, body: Value) {
        let stamp = rfc3339_micros(now_ns());
        let mut v = body;
        v["method"] = Value::String(method.into());
        v["time_in"] = Value::String(stamp.clone());
        v["time_out"] = Value::String(stamp);
        if let Some(id) = req_id {
            v["req_id"] = id.clone();
        }
        self.out.control(v.to_string());
    }

    fn on_subscription(&mut self, subscribe: bool, v: &Value, req_id: Option<&Value>) {
        let method = if subscribe { "subscribe" } else { "unsubscribe" };
        let params = v.get("params");
        let channel = params.and_then(|p| p.get("channel")).and_then(Value::as_str).unwrap_or("").to_owned();
        let symbols: Vec<String> = params
            .and_then(|p| p.get("symbol"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let depth = params.and_then(|p| p.get("depth")).map_or(Some(10), Value::as_u64);
        let snapshot = params.and_then(|p| p.get("snapshot")).and_then(Value::as_bool).unwrap_or(true);
        let refuse = |s: &mut Self, error: String, symbol: Option<&str>| {
            let mut body = json!({"error": error, "success": false});
            if let Some(sym) = symbol {
                body["symbol"] = Value::String(sym.into());
            }
            s.reply(method, req_id, body);
        };
        if channel != "book" && channel != "trade" {
            return refuse(self, format!("Channel {channel} not found"), None);
        }
        let Some(depth) = depth.filter(|d| DEPTHS.contains(d)) else {
            return refuse(self, "Invalid depth".into(), None);
        };
        if symbols.is_empty() {
            return refuse(self, "Missing symbol".into(), None);
        }
        for name in symbols {
            let Some(idx) = symbol_by_pair(&self.ctx.market, &name, '/') else {
                refuse(self, format!("Currency pair not supported {name}"), Some(&name));
                continue;
            };
            let mut result = json!({"channel": channel, "symbol": name});
            if channel == "book" {
                result["depth"] = json!(depth);
            }
            if subscribe {
                result["snapshot"] = json!(snapshot);
            }
            self.reply(method, req_id, json!({"result": result, "success": true}));
            match (subscribe, channel.as_str()) {
                (true, "book") => self.subscribe_book(idx, depth as usize, snapshot),
                (true, _) => self.subscribe_trades(idx, snapshot),
                (false, chan) => self.unsubscribe(idx, chan == "book"),
            }
        }
    }

    fn feed(&mut self, idx: usize) -> Option<&mut SymbolFeed> {
        if let Some(pos) = self.symbols.iter().position(|f| f.symbol == idx) {
            return self.symbols.get_mut(pos);
        }
        let (inst, rx, book) = subscribe_symbol(&self.ctx.market, idx)?;
        self.symbols.push(SymbolFeed {
            symbol: idx,
            name: ws_symbol(&inst),
            inst,
            rx,
            book,
            channel: None,
            trades: false,
        });
        self.symbols.last_mut()
    }

    /// (Re)subscribing `book` sends a fresh snapshot (how a client resyncs).
    fn subscribe_book(&mut self, idx: usize, depth: usize, snapshot: bool) {
        let Some(feed) = self.feed(idx) else { return };
        let (view, bids, asks) = PublishedView::snapshot(&feed.book, depth);
        let sum = checksum(&view);
        let message = snapshot.then(|| feed.book_message("snapshot", &bids, &asks, sum, now_ns()));
        feed.channel = Some(BookChannel { view, dirty: false });
        if let Some(m) = message {
            self.out.data(m);
        }
    }

    fn subscribe_trades(&mut self, idx: usize, snapshot: bool) {
        let Some(feed) = self.feed(idx) else { return };
        feed.trades = true;
        if snapshot {
            self.out.data("{\"channel\":\"trade\",\"type\":\"snapshot\",\"data\":[]}".into());
        }
    }

    fn unsubscribe(&mut self, idx: usize, book: bool) {
        if let Some(feed) = self.symbols.iter_mut().find(|f| f.symbol == idx) {
            if book {
                feed.channel = None;
            } else {
                feed.trades = false;
            }
        }
        self.symbols.retain(|f| f.channel.is_some() || f.trades);
    }

    /// Sends a `book` update for every view whose top changed.
    fn produce_pushes(&mut self) {
        let faults = &self.ctx.faults;
        for feed in &mut self.symbols {
            let Some(c) = &mut feed.channel else { continue };
            if !c.dirty {
                continue;
            }
            c.dirty = false;
            let Some((mut bids, mut asks, sum)) = book_update(&mut c.view, &feed.book) else { continue };
            if faults.take_corrupt_level() {
                let lot = feed.inst.lot().units();
                if let Some(level) = bids.first_mut().or(asks.first_mut()) {
                    level.1 += lot;
                }
            }
            let m = feed.book_message("update", &bids, &asks, sum, now_ns());
            self.out.data(m);
        }
    }
}

impl QueuedSession for Session<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    /// The heartbeat when one is due (only once something is subscribed), then the book and
    /// trade pushes.
    fn produce(&mut self, now: Instant) {
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + HEARTBEAT_INTERVAL;
            if !self.symbols.is_empty() {
                self.out.control("{\"channel\":\"heartbeat\"}".into());
            }
        }
        self.produce_pushes();
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.reply("", None, json!({"error": "Malformed request", "success": false}));
            return;
        };
        let method = v.get("method").and_then(Value::as_str).unwrap_or("").to_owned();
        let req_id = v.get("req_id").cloned();
        match method.as_str() {
            "ping" => self.reply("pong", req_id.as_ref(), json!({})),
            "subscribe" | "unsubscribe" => self.on_subscription(method == "subscribe", &v, req_id.as_ref()),
            _ => self.reply(&method, req_id.as_ref(), json!({"error": "Method not found", "success": false})),
        }
    }

    /// Takes in every market update; `false` if the market dropped a subscription.
    fn pump(&mut self) -> bool {
        for feed in &mut self.symbols {
            let Some(updates) = drain_updates(&feed.rx, &mut feed.book) else { return false };
            for (update, changed) in updates {
                if changed && let Some(c) = &mut feed.channel {
                    c.dirty = true;
                }
                if feed.trades && !update.trades.is_empty() {
                    self.out.data(feed.trade_message(&update.trades));
                }
            }
        }
        true
    }
}
