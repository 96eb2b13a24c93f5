//! OKX's private stream of one account (`<ws_url>/ws/v5/private`) as a kit [`StreamSession`]:
//! `open` connects, logs in (`{"op":"login","args":[{apiKey, passphrase, timestamp, sign}]}`,
//! `timestamp` in seconds on the venue's clock) and subscribes to `orders` for every
//! instrument type, waiting for both answers, so a returned connection already carries every
//! event. The text `ping` goes out every [`PING_EVERY`] (OKX drops a connection idle for 30 s;
//! "send the string 'ping'… expect 'pong'"); `pong` and the `login` / `subscribe` answers are
//! housekeeping; an `error` event ends the connection; pushes (`arg` + `data`) go to the
//! gateway thread.
//!
//! `open` runs on the caller of [`crate::okx::spawn`] first, then on the account's stream thread
//! (`qt-gw-okx-ps<N>`) to reconnect. Allocates per frame.

use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use crate::okx::rest::OkxKey;
use qt_core::{AccountId, Clock};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// The private stream's path.
pub(crate) const PRIVATE_PATH: &str = "/ws/v5/private";
/// Heartbeat interval (under OKX's 30 s idle limit).
pub(crate) const PING_EVERY: Duration = Duration::from_secs(20);
/// What the stream subscribes to: every order of the account.
const SUBSCRIBE: &str = r#"{"id":"qtsub","op":"subscribe","args":[{"channel":"orders","instType":"ANY"}]}"#;

/// An `event` answer (`login`, `subscribe`, `error`).
#[derive(Debug, Deserialize)]
struct EventAnswer {
    event: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    msg: String,
}

/// One account's private stream.
pub(crate) struct PrivateStream {
    account: AccountId,
    key: OkxKey,
    target: WsTarget,
    clock: Arc<dyn Clock>,
    /// The venue's clock minus ours, ms (the gateway thread's estimate).
    offset_ms: Arc<AtomicI64>,
    next_ping: Instant,
}

impl PrivateStream {
    pub(crate) fn new(
        account: AccountId,
        key: OkxKey,
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

/// Sends `text` and reads until the `event` answer `want` or an `error`
/// ([`private_stream::exchange`]).
fn exchange(ws: &mut Ws, text: String, want: &str, timeout: Duration) -> Result<(), String> {
    private_stream::exchange(ws, text, want, timeout, |t| match serde_json::from_str::<EventAnswer>(t) {
        Ok(a) if a.event == want => Some(Ok(())),
        Ok(a) if a.event == "error" => Some(Err(format!("{want} refused: {} {}", a.code, a.msg))),
        _ => None,
    })
}

impl StreamSession for PrivateStream {
    fn open(&mut self) -> Result<Ws, String> {
        let mut ws = private_stream::connect(&self.target, PRIVATE_PATH)?;
        let login = self.key.ws_login(self.venue_ms().div_euclid(1000))?;
        exchange(&mut ws, login, "login", self.target.timeout)?;
        exchange(&mut ws, SUBSCRIBE.to_string(), "subscribe", self.target.timeout)?;
        self.next_ping = Instant::now() + PING_EVERY;
        Ok(ws)
    }

    fn classify(&mut self, text: &str) -> FrameAction {
        if text == "pong" {
            return FrameAction::Ignore;
        }
        if text.contains("\"data\"") {
            return FrameAction::Forward;
        }
        match serde_json::from_str::<EventAnswer>(text) {
            Ok(a) if a.event == "error" => FrameAction::Reconnect(format!("error {}: {}", a.code, a.msg)),
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
        Some("ping".to_string())
    }

    fn close(&mut self) {}

    fn describe(&self) -> String {
        format!("okx account {} ({}{PRIVATE_PATH})", self.account, self.target.endpoint.url)
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
        let key = OkxKey::new("k", "s", "p").unwrap();
        PrivateStream::new(AccountId(0), key, target, Arc::new(WallClock), Arc::new(AtomicI64::new(0)))
    }

    #[test]
    fn pushes_go_to_the_gateway_answers_do_not_and_an_error_reconnects() {
        let mut s = session();
        let doc = include_str!("../../../testdata/okx/order_update.json");
        assert_eq!(s.classify(doc), FrameAction::Forward);
        assert_eq!(
            s.classify(r#"{"arg":{"channel":"orders","instType":"SPOT"},"data":[{"accFillSz":"#),
            FrameAction::Forward
        );
        assert_eq!(s.classify("not json"), FrameAction::Forward, "counted as malformed by the gateway");
        assert_eq!(s.classify("pong"), FrameAction::Ignore);
        let login = include_str!("../../../testdata/okx/orders/ws_login_response.json");
        assert_eq!(s.classify(login), FrameAction::Ignore);
        let sub = include_str!("../../../testdata/okx/orders/ws_orders_subscribe_response.json");
        assert_eq!(s.classify(sub), FrameAction::Ignore);
        let refused = include_str!("../../../testdata/okx/orders/ws_login_error.json");
        assert!(matches!(s.classify(refused), FrameAction::Reconnect(r) if r.contains("60009")));
    }

    #[test]
    fn a_ping_goes_out_every_twenty_seconds() {
        let mut s = session();
        let now = Instant::now();
        assert_eq!(s.heartbeat(now), None);
        let due = now + PING_EVERY + Duration::from_millis(1);
        assert_eq!(s.heartbeat(due).as_deref(), Some("ping"));
        assert_eq!(s.heartbeat(due + Duration::from_secs(1)), None);
        assert!(s.heartbeat(due + PING_EVERY).is_some());
    }

    #[test]
    fn the_login_signs_the_seconds_timestamp() {
        let s = session();
        let login: serde_json::Value = serde_json::from_str(&s.key.ws_login(1_538_054_050).unwrap()).unwrap();
        assert_eq!(login["op"], "login");
        let a = &login["args"][0];
        assert_eq!(
            (a["apiKey"].as_str(), a["passphrase"].as_str(), a["timestamp"].as_str()),
            (Some("k"), Some("p"), Some("1538054050"))
        );
        assert_eq!(a["sign"].as_str().map(str::len), Some(44), "base64 of 32 bytes");
    }
}
