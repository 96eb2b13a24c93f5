//! [`OkxV5`]: the simulator speaking OKX's v5 public market data — the WebSocket
//! `/ws/v5/public` (`books`, `trades`, `bbo-tbt`) and REST `GET /api/v5/public/instruments`
//! and `GET /api/v5/market/books` — with the shared [`Market`] behind it.
//!
//! Facts follow OKX's v5 docs as quoted in `venues/NOTES.md` §3 and the samples in
//! `testdata/okx/` (choices where the docs are silent are written next to the code):
//!
//! - **Subscribe**: `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},..]}`;
//!   each arg is answered by `{"event":"subscribe","arg":{..},"connId":".."}`, a bad arg by
//!   `{"event":"error","code":"60018","msg":"Wrong URL or channel:..",..}`, a request that is
//!   not JSON or has no args by code `60012`. `unsubscribe` is answered the same way.
//! - **`books`** (400 levels, pushed every 100 ms): a subscription starts with
//!   `action:"snapshot"` (`prevSeqId` -1), then `action:"update"` messages with the levels whose
//!   size changed in the top 400 (size `"0"` for a level that left it); `seqId` is the market's
//!   update id the view reflects (the number `/_sim/book` reports as `updateId`, so a client can
//!   align the two) and `prevSeqId` is the previous message's `seqId`. Nothing changed for
//!   [`BOOKS_HEARTBEAT`] → an update with empty sides and `prevSeqId == seqId`. `checksum`: CRC32
//!   of the top 25 levels interleaved `bid1px:bid1sz:ask1px:ask1sz:..` (the remaining levels of
//!   the longer side appended), over the strings as sent, as a signed 32-bit integer. Levels are
//!   `[px, sz, "0", numOrders]`; the market does not count orders per level, so numOrders is
//!   `"1"`. Decimals are trimmed (`"8477"`, as in the doc samples).
//! - **`trades`**: one message per market trade batch, one item per trade (`count` `"1"`).
//! - **`bbo-tbt`**: the best bid and ask whenever they change, at most every 10 ms.
//! - **Heartbeat**: the text `ping` is answered by `pong`. A connection that has had no traffic
//!   either way for the idle limit (30 s, "the connection will break automatically if the
//!   subscription is not established or data has not been pushed for more than 30 seconds") is
//!   closed.
//! - **Faults**: dropped connections, stalls, `skip_sequence` (an update's `prevSeqId` does not
//!   name the previous `seqId`), malformed and truncated frames, and `corrupt_levels` (one level
//!   of an update is sent one lot off while the checksum covers the true book).
//!
//! Threads: each WebSocket session runs on its own connection thread inside
//! [`Protocol::run_ws`]; REST on the caller's connection thread. Allocates freely; blocks only
//! in the WebSocket `recv` tick; never panics on client input.

use crate::kit::session::{LoopRules, QueuedSession, run_session};
use crate::market::{BookUpdate, Market, TradeView};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use crate::public_stream::{
    BestLevels, Levels, MirrorBook, Outbox, PublishedView, drain_updates, subscribe_symbol, symbol_by_pair,
};
use crossbeam_channel::Receiver;
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument, InstrumentKind, Side};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The public stream's path.
pub const PUBLIC_WS_PATH: &str = "/ws/v5/public";
/// OKX's idle limit (30 s without traffic).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Depth of the `books` channel.
pub const BOOKS_DEPTH: usize = 400;
/// Levels per side in the checksum.
pub const CHECKSUM_DEPTH: usize = 25;
/// `books` push interval.
const BOOKS_INTERVAL: Duration = Duration::from_millis(100);
/// An unchanged `books` channel sends an empty update this often ("about every 60 s").
pub const BOOKS_HEARTBEAT: Duration = Duration::from_secs(60);
/// `bbo-tbt` pushes at most this often.
const BBO_INTERVAL: Duration = Duration::from_millis(10);
/// How long a session waits for a client frame before doing its periodic work.
const SESSION_TICK: Duration = Duration::from_millis(2);
/// A session whose unsent messages exceed this (a long stall) is dropped.
const OUTBOX_LIMIT: usize = 100_000;
/// What a malformed-frame fault sends (cut inside a `books` push).
const MALFORMED: &[u8] = b"{\"arg\":{\"channel\":\"books\",\"instId\":";

/// OKX v5 public market data. `new()` gives the documented idle limit; tests shorten it with
/// [`OkxV5::with_idle_timeout`].
#[derive(Debug)]
pub struct OkxV5 {
    idle_timeout: Duration,
    next_conn: AtomicU64,
}

impl Default for OkxV5 {
    fn default() -> Self {
        Self::new()
    }
}

impl OkxV5 {
    /// The venue with the documented idle limit.
    pub fn new() -> Self {
        Self { idle_timeout: DEFAULT_IDLE_TIMEOUT, next_conn: AtomicU64::new(1) }
    }

    /// The same venue closing connections idle for `d`.
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
}

/// An instrument's OKX `instId`: the market symbol when it is already OKX-shaped, else
/// `BASE-QUOTE`.
pub fn inst_id(inst: &Instrument) -> String {
    if inst.symbol().contains('-') { inst.symbol().to_owned() } else { format!("{}-{}", inst.base(), inst.quote()) }
}

fn inst_type(inst: &Instrument) -> &'static str {
    match inst.kind() {
        InstrumentKind::Spot => "SPOT",
        _ => "SWAP",
    }
}

fn px(inst: &Instrument, units: i64) -> String {
    format_scaled(i128::from(units), inst.price_scale(), DecimalStyle::Trimmed).as_str().to_owned()
}

fn sz(inst: &Instrument, units: i64) -> String {
    format_scaled(i128::from(units), inst.qty_scale(), DecimalStyle::Trimmed).as_str().to_owned()
}

fn levels_json(inst: &Instrument, levels: &[(i64, i64)]) -> Value {
    Value::Array(levels.iter().map(|(p, q)| json!([px(inst, *p), sz(inst, *q), "0", "1"])).collect())
}

/// OKX's checksum of a published view: top 25 per side interleaved, `px:sz` joined by `:`,
/// CRC32 as a signed 32-bit integer.
pub fn checksum(inst: &Instrument, view: &PublishedView) -> i32 {
    let bids: Vec<(i64, i64)> = view.top_bids(CHECKSUM_DEPTH).collect();
    let asks: Vec<(i64, i64)> = view.top_asks(CHECKSUM_DEPTH).collect();
    let mut parts = Vec::with_capacity(4 * CHECKSUM_DEPTH);
    for i in 0..bids.len().max(asks.len()) {
        for level in [bids.get(i), asks.get(i)].into_iter().flatten() {
            parts.push(px(inst, level.0));
            parts.push(sz(inst, level.1));
        }
    }
    crc32fast::hash(parts.join(":").as_bytes()) as i32
}

fn ok_body(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({"code": "0", "msg": "", "data": data}))
}

fn error_body(status: u16, code: &str, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"code": code, "msg": msg, "data": []}))
}

fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
}

impl Protocol for OkxV5 {
    fn name(&self) -> &'static str {
        "okx"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == PUBLIC_WS_PATH
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v5/public/instruments") => instruments(&ctx.market, &req.query),
            ("GET", "/api/v5/market/books") => rest_books(&ctx.market, &req.query),
            _ => error_body(404, "404", &format!("{} {} is not an OKX endpoint here", req.method, req.path)),
        }
    }

    fn run_ws(&self, ctx: &Ctx, _path: &str, _query: &str, ws: &mut dyn WsSession) {
        let conn_id = format!("{:08x}", self.next_conn.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9));
        let mut session = Session { ctx, conn_id, symbols: Vec::new(), out: Outbox::new(MALFORMED) };
        let rules = LoopRules {
            tick: SESSION_TICK,
            outbox_limit: OUTBOX_LIMIT,
            idle: Some(self.idle_timeout),
            idle_counts_sends: true,
            binary_as_empty_text: false,
        };
        run_session(&mut session, ctx, ws, &rules);
    }
}

/// `GET /api/v5/public/instruments?instType=SPOT[&instId=..]`.
fn instruments(market: &Market, query: &str) -> HttpResponse {
    let Some(kind) = query_value(query, "instType").filter(|t| !t.is_empty()) else {
        return error_body(400, "50014", "Parameter instType can not be empty");
    };
    let wanted = query_value(query, "instId");
    let data: Vec<Value> = market
        .instruments()
        .iter()
        .filter(|i| inst_type(i) == kind && wanted.is_none_or(|w| w == inst_id(i)))
        .map(|i| {
            json!({
                "instType": inst_type(i), "instId": inst_id(i), "baseCcy": i.base(), "quoteCcy": i.quote(),
                "tickSz": i.price_text(i.tick()).as_ref(), "lotSz": i.qty_text(i.lot()).as_ref(),
                "minSz": i.qty_text(i.min_qty()).as_ref(), "state": "live",
            })
        })
        .collect();
    if wanted.is_some() && data.is_empty() {
        return error_body(400, "51001", "Instrument ID does not exist");
    }
    ok_body(Value::Array(data))
}

/// `GET /api/v5/market/books?instId=..&sz=..` (default 1, at most 400).
fn rest_books(market: &Market, query: &str) -> HttpResponse {
    let Some(idx) = query_value(query, "instId").and_then(|id| symbol_by_pair(market, id, '-')) else {
        return error_body(400, "51001", "Instrument ID does not exist");
    };
    let depth = match query_value(query, "sz").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if (1..=BOOKS_DEPTH).contains(&n) => n,
        Some(_) => return error_body(400, "51000", "Parameter sz error"),
    };
    let (Some(snap), Some(inst)) = (market.snapshot(idx, depth), market.instruments().get(idx)) else {
        return error_body(400, "51001", "Instrument ID does not exist");
    };
    let side = |levels: &[(qt_core::Price, qt_core::Qty)]| -> Levels {
        levels.iter().map(|(p, q)| (p.units(), q.units())).collect()
    };
    ok_body(json!([{
        "asks": levels_json(inst, &side(&snap.asks)),
        "bids": levels_json(inst, &side(&snap.bids)),
        "ts": market.now_ms().to_string(),
    }]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Books,
    Trades,
    Bbo,
}

impl Channel {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "books" => Some(Self::Books),
            "trades" => Some(Self::Trades),
            "bbo-tbt" => Some(Self::Bbo),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Books => "books",
            Self::Trades => "trades",
            Self::Bbo => "bbo-tbt",
        }
    }
}

/// A subscribed `books` channel.
#[derive(Debug)]
struct BooksChannel {
    view: PublishedView,
    seq: u64,
    dirty: bool,
    next_due: Instant,
    last_sent: Instant,
}

/// A subscribed `bbo-tbt` channel: what it last sent.
#[derive(Debug)]
struct BboChannel {
    sent: BestLevels,
    next_due: Instant,
}

/// A session's view of one symbol.
#[derive(Debug)]
struct SymbolFeed {
    symbol: usize,
    inst: Instrument,
    inst_id: String,
    rx: Receiver<Arc<BookUpdate>>,
    book: MirrorBook,
    books: Option<BooksChannel>,
    trades: bool,
    bbo: Option<BboChannel>,
}

impl SymbolFeed {
    fn arg(&self, channel: Channel) -> Value {
        json!({"channel": channel.name(), "instId": self.inst_id})
    }

    fn books_message(
        &self,
        action: &str,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        prev: i64,
        sum: i32,
        ts: i64,
    ) -> String {
        let seq = self.books.as_ref().map_or(0, |b| b.seq);
        json!({
            "arg": self.arg(Channel::Books),
            "action": action,
            "data": [{
                "asks": levels_json(&self.inst, asks), "bids": levels_json(&self.inst, bids),
                "ts": ts.to_string(), "checksum": sum, "prevSeqId": prev, "seqId": seq,
            }],
        })
        .to_string()
    }

    fn snapshot_message(&mut self, now: Instant, ts: i64) -> String {
        let (view, bids, asks) = PublishedView::snapshot(&self.book, BOOKS_DEPTH);
        let sum = checksum(&self.inst, &view);
        self.books = Some(BooksChannel {
            view,
            seq: self.book.update_id,
            dirty: false,
            next_due: now + BOOKS_INTERVAL,
            last_sent: now,
        });
        self.books_message("snapshot", &bids, &asks, -1, sum, ts)
    }

    fn trades_message(&self, trades: &[TradeView]) -> String {
        let data: Vec<Value> = trades
            .iter()
            .map(|t| {
                json!({
                    "instId": self.inst_id, "tradeId": t.trade_id.to_string(),
                    "px": px(&self.inst, t.price.units()), "sz": sz(&self.inst, t.qty.units()),
                    "side": if t.aggressor == Side::Buy { "buy" } else { "sell" },
                    "ts": (t.ts.0 / 1_000_000).to_string(), "count": "1", "source": "0",
                })
            })
            .collect();
        json!({"arg": self.arg(Channel::Trades), "data": data}).to_string()
    }
}

/// One `/ws/v5/public` session.
#[derive(Debug)]
struct Session<'a> {
    ctx: &'a Ctx,
    conn_id: String,
    symbols: Vec<SymbolFeed>,
    out: Outbox,
}

impl Session<'_> {
    fn error(&mut self, code: &str, msg: &str) {
        let reply = json!({"event": "error", "code": code, "msg": msg, "connId": self.conn_id});
        self.out.control(reply.to_string());
    }

    fn on_arg(&mut self, subscribe: bool, arg: &Value) {
        let channel_name = arg.get("channel").and_then(Value::as_str).unwrap_or("");
        let id = arg.get("instId").and_then(Value::as_str).unwrap_or("");
        let channel = Channel::parse(channel_name);
        let idx = symbol_by_pair(&self.ctx.market, id, '-');
        let (Some(channel), Some(idx)) = (channel, idx) else {
            self.error(
                "60018",
                &format!(
                    "Wrong URL or channel:{channel_name},instId:{id} doesn't exist. Please use the correct URL, \
                     channel and parameters referring to API document."
                ),
            );
            return;
        };
        let event = if subscribe { "subscribe" } else { "unsubscribe" };
        let ack = json!({"event": event, "arg": {"channel": channel.name(), "instId": id}, "connId": self.conn_id});
        if subscribe {
            self.out.control(ack.to_string());
            self.subscribe(idx, channel);
        } else {
            self.unsubscribe(idx, channel);
            self.out.control(ack.to_string());
        }
    }

    fn feed(&mut self, idx: usize) -> Option<&mut SymbolFeed> {
        if let Some(pos) = self.symbols.iter().position(|f| f.symbol == idx) {
            return self.symbols.get_mut(pos);
        }
        let (inst, rx, book) = subscribe_symbol(&self.ctx.market, idx)?;
        self.symbols.push(SymbolFeed {
            symbol: idx,
            inst_id: inst_id(&inst),
            inst,
            rx,
            book,
            books: None,
            trades: false,
            bbo: None,
        });
        self.symbols.last_mut()
    }

    /// Subscribing again to `books` sends a fresh snapshot (how a client resyncs).
    fn subscribe(&mut self, idx: usize, channel: Channel) {
        let ts = self.ctx.market.now_ms();
        let now = Instant::now();
        let Some(feed) = self.feed(idx) else { return };
        match channel {
            Channel::Books => {
                let m = feed.snapshot_message(now, ts);
                self.out.data(m);
            }
            Channel::Trades => feed.trades = true,
            Channel::Bbo => feed.bbo = Some(BboChannel { sent: (None, None), next_due: now }),
        }
    }

    fn unsubscribe(&mut self, idx: usize, channel: Channel) {
        if let Some(feed) = self.symbols.iter_mut().find(|f| f.symbol == idx) {
            match channel {
                Channel::Books => feed.books = None,
                Channel::Trades => feed.trades = false,
                Channel::Bbo => feed.bbo = None,
            }
        }
        self.symbols.retain(|f| f.books.is_some() || f.trades || f.bbo.is_some());
    }
}

impl QueuedSession for Session<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn on_client(&mut self, text: &str) {
        if text == "ping" {
            self.out.control("pong".into());
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.error("60012", &format!("Invalid request: {text}"));
            return;
        };
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        let args = v.get("args").and_then(Value::as_array).filter(|a| !a.is_empty());
        match (op, args) {
            ("subscribe" | "unsubscribe", Some(args)) => {
                let subscribe = op == "subscribe";
                for a in args.clone() {
                    self.on_arg(subscribe, &a);
                }
            }
            _ => self.error("60012", &format!("Invalid request: {text}")),
        }
    }

    /// Takes in every market update; `false` if the market dropped a subscription.
    fn pump(&mut self) -> bool {
        for feed in &mut self.symbols {
            let Some(updates) = drain_updates(&feed.rx, &mut feed.book) else { return false };
            for (update, changed) in updates {
                if changed && let Some(b) = &mut feed.books {
                    b.dirty = true;
                }
                if feed.trades && !update.trades.is_empty() {
                    self.out.data(feed.trades_message(&update.trades));
                }
            }
        }
        true
    }

    /// Pushes what is due: `books` updates at their interval (or heartbeats), `bbo-tbt`.
    fn produce(&mut self, now: Instant) {
        let ts = self.ctx.market.now_ms();
        let faults = &self.ctx.faults;
        for feed in &mut self.symbols {
            if let Some(bbo) = &mut feed.bbo
                && now >= bbo.next_due
            {
                let best = feed.book.best();
                if best != bbo.sent {
                    bbo.sent = best;
                    bbo.next_due = now + BBO_INTERVAL;
                    let one = |l: Option<(i64, i64)>| -> Levels { l.into_iter().collect() };
                    let m = json!({
                        "arg": {"channel": "bbo-tbt", "instId": feed.inst_id},
                        "data": [{
                            "asks": levels_json(&feed.inst, &one(best.1)), "bids": levels_json(&feed.inst, &one(best.0)),
                            "ts": ts.to_string(), "seqId": feed.book.update_id,
                        }],
                    });
                    self.out.data(m.to_string());
                }
            }
            let update_id = feed.book.update_id;
            let Some(b) = &mut feed.books else { continue };
            if now < b.next_due || !(b.dirty || now.duration_since(b.last_sent) >= BOOKS_HEARTBEAT) {
                continue;
            }
            b.dirty = false;
            let (mut bids, mut asks) = b.view.diff(&feed.book);
            let prev = b.seq as i64;
            let heartbeat = bids.is_empty() && asks.is_empty();
            if heartbeat && now.duration_since(b.last_sent) < BOOKS_HEARTBEAT {
                continue; // the change was below the top 400
            }
            b.seq = update_id;
            b.next_due = now + BOOKS_INTERVAL;
            b.last_sent = now;
            let sum = checksum(&feed.inst, &b.view);
            let prev = if !heartbeat && faults.take_skip_sequence() { prev + 1 } else { prev };
            if !heartbeat && faults.take_corrupt_level() {
                let lot = feed.inst.lot().units();
                if let Some(level) = bids.first_mut().or(asks.first_mut()) {
                    level.1 += lot;
                }
            }
            let m = feed.books_message("update", &bids, &asks, prev, sum, ts);
            self.out.data(m);
        }
    }
}
