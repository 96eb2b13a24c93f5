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
use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use qt_core::{AccountId, Clock};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

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

/// Sends `text` and reads until the control answer of `op` ([`private_stream::exchange`]).
fn exchange(ws: &mut Ws, text: String, op: &str, timeout: Duration) -> Result<(), String> {
    private_stream::exchange(ws, text, op, timeout, |t| {
        let a = serde_json::from_str::<OpAnswer>(t).ok().filter(|a| a.op == op)?;
        Some(if a.success == Some(true) { Ok(()) } else { Err(format!("{op} refused: {}", a.ret_msg)) })
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::http::{Endpoint, server_name, tls_config};
    use qt_core::WallClock;

    fn session() -> PrivateStream {
        let endpoint = Endpoint::parse("wss://127.0.0.1:1", &["wss"]).unwrap();
        let name = server_name(&endpoint, None).unwrap();
        let target = WsTarget { endpoint, name, tls: tls_config(None).unwrap(), timeout: Duration::from_millis(10) };
        let key = BybitKey::new("k", "s", 5000);
        PrivateStream::new(AccountId(0), key, target, Arc::new(WallClock), Arc::new(AtomicI64::new(0)))
    }

    #[test]
    fn pushes_go_to_the_gateway_control_answers_do_not_and_a_refusal_reconnects() {
        let mut s = session();
        let doc = include_str!("../../../testdata/bybit/orders/ws_private_execution.json");
        assert_eq!(s.classify(doc), FrameAction::Forward);
        assert_eq!(s.classify(r#"{"topic":"malformed","data":[{"s":"#), FrameAction::Forward);
        assert_eq!(s.classify("not json"), FrameAction::Forward, "counted as malformed by the gateway");
        let pong = r#"{"req_id":"1","op":"pong","args":["1700000000000"],"conn_id":"c"}"#;
        assert_eq!(s.classify(pong), FrameAction::Ignore);
        assert_eq!(s.classify(r#"{"success":true,"ret_msg":"","op":"subscribe","conn_id":"c"}"#), FrameAction::Ignore);
        let refused = r#"{"success":false,"ret_msg":"Request not authorized","op":"auth","conn_id":"c"}"#;
        assert!(matches!(s.classify(refused), FrameAction::Reconnect(r) if r.contains("Request not authorized")));
    }

    #[test]
    fn a_ping_goes_out_every_twenty_seconds() {
        let mut s = session();
        let now = Instant::now();
        assert_eq!(s.heartbeat(now), None);
        let due = now + PING_EVERY + Duration::from_millis(1);
        assert_eq!(s.heartbeat(due).as_deref(), Some(r#"{"op":"ping"}"#));
        assert_eq!(s.heartbeat(due + Duration::from_secs(1)), None);
        assert!(s.heartbeat(due + PING_EVERY).is_some());
    }

    #[test]
    fn the_auth_payload_signs_the_expiry() {
        let s = session();
        let auth: serde_json::Value = serde_json::from_str(&s.key.ws_auth(1_700_000_010_000).unwrap()).unwrap();
        assert_eq!(auth["op"], "auth");
        assert_eq!((auth["args"][0].as_str(), auth["args"][1].as_i64()), (Some("k"), Some(1_700_000_010_000)));
        assert_eq!(auth["args"][2].as_str().map(str::len), Some(64));
    }
}
