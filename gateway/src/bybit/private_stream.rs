//! Bybit's private stream of one account (`<ws_url>/v5/private`) as a kit
//! [`StreamSession`]: `open` connects, authenticates (`{"op":"auth","args":[key, expires,
//! signature]}`, `expires` 10 s ahead on the venue's clock) and subscribes to `order` and
//! `execution`, waiting for both answers, so a returned connection already carries every event;
//! a `{"op":"ping"}` goes out every [`PING_EVERY`] ("send the ping heartbeat packet every 20
//! seconds", `docs/v5/ws/connect`); control answers (`op` pong / auth / subscribe) are
//! housekeeping, a failed one ends the connection; `topic` frames go to the gateway thread.
//!
//! `open` runs on the caller of [`crate::bybit::spawn`] first, then on the account's stream
//! thread (`qt-gw-bybit-ps<N>`) to reconnect. Allocates per frame.

use crate::bybit::rest::BybitKey;
use crate::kit::http::is_timeout;
use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use qt_core::{AccountId, Clock};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tungstenite::Message;

/// The private stream's path.
pub(crate) const PRIVATE_PATH: &str = "/v5/private";
/// Heartbeat interval.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(20);
/// How far ahead of the venue's clock the auth's `expires` is.
const AUTH_EXPIRES_MS: i64 = 10_000;
/// What the stream subscribes to.
const SUBSCRIBE: &str = r#"{"req_id":"qt-sub","op":"subscribe","args":["order","execution"]}"#;

/// A control answer (`{"success","ret_msg","op"}`).
#[derive(Debug, Deserialize)]
struct OpAnswer {
    op: String,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    ret_msg: String,
}

/// One account's private stream.
pub(crate) struct PrivateStream {
    account: AccountId,
    key: BybitKey,
    target: WsTarget,
    clock: Arc<dyn Clock>,
    /// The venue's clock minus ours, ms (the gateway thread's estimate).
    offset_ms: Arc<AtomicI64>,
    next_ping: Instant,
}

impl PrivateStream {
    pub(crate) fn new(
        account: AccountId,
        key: BybitKey,
        target: WsTarget,
        clock: Arc<dyn Clock>,
        offset_ms: Arc<AtomicI64>,
    ) -> Self {
        Self { account, key, target, clock, offset_ms, next_ping: Instant::now() + PING_EVERY }
    }

    fn venue_ms(&self) -> i64 {
        self.clock.now().0 / 1_000_000 + self.offset_ms.load(Ordering::Relaxed)
    }
}

/// Sends `text` and reads until the control answer of `op`, within `timeout`; data frames in
/// between are impossible (nothing is subscribed yet) and skipped.
fn exchange(ws: &mut Ws, text: String, op: &str, timeout: Duration) -> Result<(), String> {
    ws.send(Message::text(text)).map_err(|e| format!("sending {op}: {e}"))?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(t)) => {
                if let Ok(a) = serde_json::from_str::<OpAnswer>(t.as_str())
                    && a.op == op
                {
                    return if a.success == Some(true) { Ok(()) } else { Err(format!("{op} refused: {}", a.ret_msg)) };
                }
            }
            Ok(Message::Close(f)) => return Err(format!("closed during {op}: {f:?}")),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(e) => return Err(format!("during {op}: {e}")),
        }
    }
    Err(format!("no answer to {op} within {timeout:?}"))
}

impl StreamSession for PrivateStream {
    fn open(&mut self) -> Result<Ws, String> {
        let mut ws = private_stream::connect(&self.target, PRIVATE_PATH)?;
        let auth = self.key.ws_auth(self.venue_ms() + AUTH_EXPIRES_MS)?;
        exchange(&mut ws, auth, "auth", self.target.timeout)?;
        exchange(&mut ws, SUBSCRIBE.to_string(), "subscribe", self.target.timeout)?;
        self.next_ping = Instant::now() + PING_EVERY;
        Ok(ws)
    }

    fn classify(&mut self, text: &str) -> FrameAction {
        if text.contains("\"topic\"") {
            return FrameAction::Forward;
        }
        match serde_json::from_str::<OpAnswer>(text) {
            Ok(a) if a.success == Some(false) => FrameAction::Reconnect(format!("{} refused: {}", a.op, a.ret_msg)),
            Ok(_) => FrameAction::Ignore,
            // Neither: the gateway thread counts it as malformed.
            Err(_) => FrameAction::Forward,
        }
    }

    fn maintain(&mut self, _now: Instant, _connected: bool) -> Result<(), String> {
        Ok(())
    }

    fn heartbeat(&mut self, now: Instant) -> Option<String> {
        if now < self.next_ping {
            return None;
        }
        self.next_ping = now + PING_EVERY;
        Some(r#"{"op":"ping"}"#.to_string())
    }

    fn close(&mut self) {}

    fn describe(&self) -> String {
        format!("bybit account {} ({}{PRIVATE_PATH})", self.account, self.target.endpoint.url)
    }
}
