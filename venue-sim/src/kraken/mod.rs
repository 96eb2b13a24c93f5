//! [`KrakenV2`]: the simulator speaking Kraken's spot WebSocket v2 public market data at `/v2`
//! — `book` (snapshot + updates with the v2 CRC32 checksum), `trade`, `heartbeat`, `status` and
//! the `ping` method — with the shared [`crate::market::Market`] behind it; over REST the public
//! market data a client reads first (`GET /0/public/Time`, `SystemStatus`, `Assets`,
//! `AssetPairs`, `Depth`, `Trades`, `Ticker`; [`rest`]) — and order entry: signed
//! `POST /0/private/AddOrder`, `CancelOrder`, `CancelAll`, `CancelAllOrdersAfter` (the dead-man's
//! switch), `OpenOrders`, `ClosedOrders`, `QueryOrders`, `TradesHistory`, `Balance`, `GetWebSocketsToken`
//! (`auth.rs` the `API-Key`/`API-Sign` check with the per-key nonce, `private.rs`, `desk.rs`),
//! and the private WebSocket v2 `executions` channel at [`PRIVATE_WS_PATH`] (`executions.rs`).
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
//!   quantities are bare JSON numbers printed at the pair's full precision (the instrument's
//!   scales: `64999.9`, `0.00400000`), as Kraken prints them. Levels that leave the top because
//!   others entered are *not* deleted ("you won't receive qty 0 for price levels that fall out of
//!   scope"); levels removed from the book are sent with `qty` 0, before the rest of their side
//!   ([`book_update`]), so a client truncating to the depth after each level and one truncating
//!   after each message both stay correct. Every message carries `checksum`: CRC32 of the top 10
//!   asks (low → high) then the top 10 bids (high → low), each level's price then quantity as
//!   sent with the `.` removed and leading zeros stripped, as an unsigned 32-bit integer. Updates
//!   carry `timestamp` (RFC 3339).
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

use self::desk::Desk;
use self::executions::ExecSession;
use self::session::Session;
use crate::kit::session::{LoopRules, run_session};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use crate::public_stream::Outbox;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod auth;
mod desk;
mod executions;
mod private;
mod rest;
mod session;
#[cfg(test)]
mod tests;
mod wire;

pub use auth::api_sign;
pub use private::{parse_txid, txid};
pub use wire::{book_message, book_update, checksum, ws_symbol};

/// The v2 public stream's path.
pub const WS_PATH: &str = "/v2";
/// The private v2 stream's path. Kraken serves it on its own host (`ws-auth.kraken.com/v2`);
/// the simulator has one listener per venue, so the private stream has its own path there.
pub const PRIVATE_WS_PATH: &str = "/ws-auth/v2";
/// What a malformed-account-frame fault sends on the private stream (cut inside an update).
const MALFORMED_PRIVATE: &[u8] = b"{\"channel\":\"executions\",\"type\":\"update\",\"data\":[{\"order_id\":";
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

/// `GET /0/public/Time`'s `result` at `now_ms` (the market's clock, so a clock-skew fault
/// shows): `unixtime` in seconds and `rfc1123` as the docs' example writes it,
/// `"Thu, 06 Jul 23 18:50:48 +0000"` (two-digit year, numeric zone).
fn server_time(now_ms: i64) -> serde_json::Value {
    let secs = now_ms.div_euclid(1000);
    let date = crate::http::http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64));
    // IMF-fixdate "Thu, 06 Jul 2023 18:50:48 GMT" → "Thu, 06 Jul 23 18:50:48 +0000".
    let parts: Vec<&str> = date.split(' ').collect();
    let rfc1123 = match parts.as_slice() {
        [day, d, m, y, t, _] => format!("{day} {d} {m} {} {t} +0000", y.get(2..).unwrap_or(y)),
        _ => date.clone(),
    };
    json!({ "unixtime": secs, "rfc1123": rfc1123 })
}

/// Kraken spot WebSocket v2 public market data.
#[derive(Debug, Default)]
pub struct KrakenV2 {
    next_conn: AtomicU64,
    desk: std::sync::Arc<Desk>,
}

impl KrakenV2 {
    /// The venue.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Protocol for KrakenV2 {
    fn name(&self) -> &'static str {
        "kraken"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == WS_PATH || path == PRIVATE_WS_PATH
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        let now_ms = ctx.market.now_ms();
        if let Some(method) = req.path.strip_prefix("/0/private/").filter(|_| req.method == "POST") {
            return self.private(ctx, method, req);
        }
        if let Some(method) = req.path.strip_prefix("/0/public/").filter(|_| req.method == "GET") {
            if method == "Time" {
                return HttpResponse::json(200, &json!({"error": [], "result": server_time(now_ms)}));
            }
            if let Some(answer) = rest::public(&ctx.market, method, &req.query, now_ms) {
                return answer;
            }
        }
        HttpResponse::json(
            404,
            &json!({"error": [format!("EGeneral:Unknown method {} {} (the v2 WebSocket and /0/public/ market data are simulated)", req.method, req.path)]}),
        )
    }

    fn run_ws(&self, ctx: &Ctx, path: &str, _query: &str, ws: &mut dyn WsSession) {
        let rules = LoopRules {
            tick: SESSION_TICK,
            outbox_limit: OUTBOX_LIMIT,
            idle: None,
            idle_counts_sends: false,
            binary_as_empty_text: false,
        };
        if path == PRIVATE_WS_PATH {
            return run_session(&mut ExecSession::new(self, ctx, MALFORMED_PRIVATE), ctx, ws, &rules);
        }
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 1;
        let next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
        let mut session = Session { ctx, symbols: Vec::new(), out: Outbox::new(MALFORMED), next_heartbeat };
        let status = json!({"channel": "status", "type": "update", "data": [{
            "version": "2.0.0", "system": "online", "api_version": "v2", "connection_id": conn_id,
        }]});
        session.out.control(status.to_string());
        run_session(&mut session, ctx, ws, &rules);
    }
}
