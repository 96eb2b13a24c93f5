//! [`OkxV5`]: the simulator speaking OKX's v5 public market data — the WebSocket
//! `/ws/v5/public` (`books`, `trades`, `bbo-tbt`) and REST `GET /api/v5/public/time`,
//! `/public/instruments`, `/market/books`, `/market/ticker`, `/market/tickers` and
//! `/market/trades` (fields in `rest.rs`) — with the shared [`Market`] behind it.
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
//!
//! [`Market`]: crate::market::Market

use self::rest::{error_body, instruments, ok_body, rest_books, rest_trades, ticker, tickers};
use self::session::Session;
use crate::kit::session::{LoopRules, run_session};
use crate::kit::trade_log::TradeLogs;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use crate::public_stream::Outbox;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod rest;
mod session;
mod wire;

pub use wire::{BooksHead, books_message, checksum, inst_id};

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
    trades: TradeLogs,
}

impl Default for OkxV5 {
    fn default() -> Self {
        Self::new()
    }
}

impl OkxV5 {
    /// The venue with the documented idle limit.
    pub fn new() -> Self {
        Self { idle_timeout: DEFAULT_IDLE_TIMEOUT, next_conn: AtomicU64::new(1), trades: TradeLogs::default() }
    }

    /// The same venue closing connections idle for `d`.
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
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
            ("GET", "/api/v5/market/ticker") => ticker(&ctx.market, &self.trades, &req.query),
            ("GET", "/api/v5/market/tickers") => tickers(&ctx.market, &self.trades, &req.query),
            ("GET", "/api/v5/market/trades") => rest_trades(&ctx.market, &self.trades, &req.query),
            // `GET /api/v5/public/time`: `{"code":"0","msg":"","data":[{"ts":"<ms>"}]}` (the
            // market's clock, so a clock-skew fault shows here).
            ("GET", "/api/v5/public/time") => ok_body(serde_json::json!([{ "ts": ctx.market.now_ms().to_string() }])),
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
