//! Binance spot's user data through the WebSocket API — the way Binance now documents it, the
//! listen-key stream (`user_stream`) being deprecated: one connection per account to
//! `<ws_api_url>/ws-api/v3`, on which [`WsApiStream`] (a [`StreamSession`] the kit's
//! private-stream thread drives) asks for the venue's time (`time`), then subscribes the account
//! with `userDataStream.subscribe.signature` (`apiKey`, `timestamp`, `recvWindow`, HMAC
//! `signature` over the parameters sorted by name: `crate::sign::binance`), and from then on
//! receives the account's events as `{"subscriptionId":N,"event":{..}}` — the same
//! `executionReport` payloads the listen-key stream carries, which the gateway unwraps
//! (`gateway/stream_events.rs`).
//!
//! Facts (binance-spot-api-docs `web-socket-api.md`, "User Data Stream requests" and
//! `user-data-stream.md`; NOTES-orders.md §1 "WS-API"; samples in
//! `testdata/binance_spot/orders/wsapi_*`): requests `{"id","method","params"}`, answers
//! `{"id","status","result"}` or `{"id","status","error":{"code","msg"}}`; `eventStreamTerminated`
//! ends the subscription (we reconnect and subscribe again). The subscription needs no keepalive.
//!
//! Time: the timestamp is our clock plus the offset measured on the same connection just before
//! (`time`, best of [`time_sync::SAMPLES`] round trips), so a host clock that is off does not get
//! the subscription refused (-1021).
//!
//! Runs on the account's stream thread (opening also on the caller of `spawn`); blocks for at
//! most the request timeout per answer; allocates per request.

use crate::binance::errors::{GatewayError, is_auth_refusal};
use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use crate::kit::time_sync::{self, Sample};
use crate::sign::binance::{Signer, ws_payload};
use qt_core::{AccountId, Clock};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;
use tungstenite::Message;

/// The WebSocket API's path.
pub(crate) const WS_API_PATH: &str = "/ws-api/v3";
/// The subscribing method.
const SUBSCRIBE: &str = "userDataStream.subscribe.signature";

/// An answer's error.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: i64,
    msg: String,
}

/// An answer to one of our requests (`id` is ours).
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    status: u16,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<ApiError>,
}

/// Why opening failed.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// No connection, no answer, or an answer we could not read.
    Transport(String),
    /// The venue refused a request.
    Venue {
        /// The request's method.
        method: &'static str,
        /// HTTP-like status of the answer.
        status: u16,
        /// Binance code.
        code: i64,
        /// Message.
        msg: String,
    },
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Transport(r) => write!(f, "{r}"),
            OpenError::Venue { method, status, code, msg } => {
                write!(f, "{method}: status {status}, code {code}, msg {msg:?}")
            }
        }
    }
}

/// One account's WebSocket API user data session.
pub(crate) struct WsApiStream {
    account: AccountId,
    api_key: String,
    signer: Signer,
    recv_window_ms: u64,
    clock: Arc<dyn Clock>,
    target: WsTarget,
    /// Request ids, counting per session.
    next_id: u64,
    /// The current subscription, once subscribed.
    subscription: Option<u64>,
}

impl std::fmt::Debug for WsApiStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsApiStream")
            .field("account", &self.account)
            .field("target", &self.target)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

impl WsApiStream {
    /// A session for `account`, not yet open.
    pub(crate) fn new(
        account: AccountId,
        api_key: String,
        secret: &str,
        recv_window_ms: u64,
        clock: Arc<dyn Clock>,
        target: WsTarget,
    ) -> Self {
        Self {
            account,
            api_key,
            signer: Signer::new(secret),
            recv_window_ms,
            clock,
            target,
            next_id: 1,
            subscription: None,
        }
    }

    /// The first connection, at start-up; a refused key is [`GatewayError::AuthRejected`].
    pub(crate) fn start(&mut self) -> Result<Ws, GatewayError> {
        let url = format!("{}{WS_API_PATH}", self.target.endpoint.url);
        self.connect_and_subscribe().map_err(|e| match e {
            OpenError::Transport(reason) => GatewayError::Connect { url, reason },
            OpenError::Venue { method, status, code, msg } => {
                GatewayError::Venue { method, url, status, code, msg }.for_account(self.account, is_auth_refusal)
            }
        })
    }

    fn connect_and_subscribe(&mut self) -> Result<Ws, OpenError> {
        self.subscription = None;
        let mut ws = private_stream::connect(&self.target, WS_API_PATH).map_err(OpenError::Transport)?;
        let offset = self.venue_offset_ms(&mut ws)?;
        let timestamp = (self.clock.now().0.div_euclid(1_000_000) + offset).to_string();
        let recv_window = self.recv_window_ms.to_string();
        let params = [("apiKey", self.api_key.as_str()), ("recvWindow", &recv_window), ("timestamp", &timestamp)];
        let signature = self.signer.sign(ws_payload(&params).as_bytes());
        let id = self.next_request_id();
        let request = serde_json::json!({
            "id": id,
            "method": SUBSCRIBE,
            "params": {
                "apiKey": self.api_key,
                "recvWindow": self.recv_window_ms,
                "timestamp": timestamp.parse::<i64>().unwrap_or_default(),
                "signature": signature,
            },
        });
        let result = request_answer(&mut ws, &self.target, id, SUBSCRIBE, &request.to_string())?;
        let subscription = result
            .get("subscriptionId")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| OpenError::Transport(format!("{SUBSCRIBE}: no subscriptionId in {result}")))?;
        self.subscription = Some(subscription);
        Ok(ws)
    }

    /// The venue's clock minus ours, from `time` requests on `ws` (the shortest round trip).
    fn venue_offset_ms(&mut self, ws: &mut Ws) -> Result<i64, OpenError> {
        let mut samples = [Sample { sent_ms: 0, received_ms: 0, server_ms: 0 }; time_sync::SAMPLES];
        for sample in &mut samples {
            let id = self.next_request_id();
            let sent_ms = self.clock.now().0.div_euclid(1_000_000);
            let request = format!(r#"{{"id":{id},"method":"time"}}"#);
            let result = request_answer(ws, &self.target, id, "time", &request)?;
            let received_ms = self.clock.now().0.div_euclid(1_000_000);
            let server_ms = result
                .get("serverTime")
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| OpenError::Transport(format!("time: no serverTime in {result}")))?;
            *sample = Sample { sent_ms, received_ms, server_ms };
        }
        time_sync::estimate(&samples)
            .map(|e| e.offset_ms)
            .ok_or_else(|| OpenError::Transport("time: no usable sample (our clock went backwards)".into()))
    }

    fn next_request_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// Sends `text` on `ws` and waits (up to the target's timeout) for the answer with `id`,
/// returning its `result`. Frames before it that are not answers are not expected before a
/// subscription and are skipped.
fn request_answer(
    ws: &mut Ws,
    target: &WsTarget,
    id: u64,
    method: &'static str,
    text: &str,
) -> Result<serde_json::Value, OpenError> {
    let transport = |what: &str, e: &dyn std::fmt::Display| OpenError::Transport(format!("{method}: {what}: {e}"));
    ws.send(Message::text(text)).map_err(|e| transport("sending", &e))?;
    let deadline = Instant::now() + target.timeout;
    loop {
        if Instant::now() > deadline {
            return Err(OpenError::Transport(format!("{method}: no answer within {:?}", target.timeout)));
        }
        let frame = match ws.read() {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(c)) => {
                return Err(OpenError::Transport(format!("{method}: closed by the server ({c:?})")));
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if crate::kit::http::is_timeout(&e) => continue,
            Err(e) => return Err(transport("reading", &e)),
        };
        let Ok(answer) = serde_json::from_str::<Answer>(frame.as_str()) else { continue };
        if answer.id.as_ref().and_then(serde_json::Value::as_u64) != Some(id) {
            continue;
        }
        if let Some(e) = answer.error {
            return Err(OpenError::Venue { method, status: answer.status, code: e.code, msg: e.msg });
        }
        return answer.result.ok_or_else(|| OpenError::Transport(format!("{method}: answer without result")));
    }
}

/// What one frame of the subscribed connection is.
pub(crate) fn classify(text: &str) -> FrameAction {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        event: Option<EventType>,
        #[serde(default)]
        id: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct EventType {
        #[serde(default)]
        e: Option<String>,
    }
    match serde_json::from_str::<Probe>(text) {
        Ok(Probe { event: Some(ev), .. }) if ev.e.as_deref() == Some("eventStreamTerminated") => {
            FrameAction::Reconnect("eventStreamTerminated".into())
        }
        // An answer to a request of ours (none are sent once subscribed; kept harmless).
        Ok(Probe { event: None, id: Some(_) }) => FrameAction::Ignore,
        // Events, and anything unreadable: the gateway counts what it cannot read.
        _ => FrameAction::Forward,
    }
}

impl StreamSession for WsApiStream {
    /// Connects, measures the venue's clock and subscribes the account again.
    #[cold]
    fn open(&mut self) -> Result<Ws, String> {
        self.connect_and_subscribe().map_err(|e| e.to_string())
    }

    fn classify(&mut self, text: &str) -> FrameAction {
        classify(text)
    }

    /// A WebSocket API subscription needs no keepalive (pings are answered by the loop).
    fn maintain(&mut self, _now: Instant, _connected: bool) -> Result<(), String> {
        Ok(())
    }

    /// Closing the connection ends the subscription.
    fn close(&mut self) {
        self.subscription = None;
    }

    fn describe(&self) -> String {
        format!("{}{WS_API_PATH} (account {})", self.target.endpoint.url, self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_forwarded_answers_ignored_and_termination_reconnects() {
        let ev = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1}}"#;
        assert_eq!(classify(ev), FrameAction::Forward);
        assert_eq!(classify(r#"{"id":3,"status":200,"result":{}}"#), FrameAction::Ignore);
        assert_eq!(
            classify(r#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1}}"#),
            FrameAction::Reconnect("eventStreamTerminated".into())
        );
        assert_eq!(classify("{not json"), FrameAction::Forward);
    }
}
