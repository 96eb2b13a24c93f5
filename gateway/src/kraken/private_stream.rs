//! One account's Kraken private stream as the kit's stream thread drives it
//! ([`crate::kit::private_stream::StreamSession`]): each (re)connection asks for a fresh token
//! (`POST /0/private/GetWebSocketsToken`, signed with the account's next nonce on the key's
//! [`NonceLane`], so it never overtakes the gateway thread's requests), connects to the private
//! WebSocket v2 and subscribes to `executions` with the token (`snap_orders` true: the open
//! orders come as a snapshot; `snap_trades` false: missed fills are recovered by query).
//! `executions` messages go to the gateway thread; `heartbeat`, `status` and method answers
//! are housekeeping; a `{"method":"ping"}` goes out every [`PING_EVERY`].
//!
//! Where: `GatewayConfig::private_stream_url` when set (Kraken's own host,
//! [`crate::kraken::PRODUCTION_PRIVATE_WS_URL`]), else `<ws_url>` + [`SIM_PRIVATE_PATH`] (the
//! simulator serves every stream on one listener). Facts: `NOTES-orders.md` §5 "WS v2 private"
//! ([MIRROR] of docs.kraken.com websocket-v2/executions): the token must be used within 15
//! minutes and stays valid while a subscription holds it.
//!
//! `open` runs on the caller of [`crate::kraken::spawn`] first, then on the account's stream
//! thread (`qt-gw-kraken-ps<N>`). Allocates per frame; blocks for one REST request per open.

use crate::kit::http::{Endpoint, HttpsClient, server_name};
use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use crate::kit::rest_link::{nonce_first, send_signed};
use crate::kraken::nonce::NonceLane;
use crate::kraken::rest::{WS_TOKEN_PATH, envelope};
use crate::sign::kraken::KrakenSigner;
use qt_core::AccountId;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The private stream's path on the simulator (Kraken's own is `/v2` on `ws-auth.kraken.com`).
pub const SIM_PRIVATE_PATH: &str = "/ws-auth/v2";
/// Heartbeat interval.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(20);

/// One account's private stream.
pub(crate) struct PrivateStream {
    account: AccountId,
    signer: Arc<KrakenSigner>,
    lane: NonceLane,
    /// The REST endpoint the token comes from (its own connection, opened per token).
    rest: (Endpoint, rustls_pki_types::ServerName<'static>),
    target: WsTarget,
    /// The path after the WebSocket endpoint (`""` when the endpoint's own path is the stream).
    path: &'static str,
    next_ping: Instant,
}

impl PrivateStream {
    pub(crate) fn new(
        account: AccountId,
        signer: Arc<KrakenSigner>,
        lane: NonceLane,
        rest: Endpoint,
        target: WsTarget,
        path: &'static str,
    ) -> Result<Self, String> {
        let name = server_name(&rest, Some(&name_of(&target))).map_err(|m| format!("server_name: {m}"))?;
        Ok(Self { account, signer, lane, rest: (rest, name), target, path, next_ping: Instant::now() + PING_EVERY })
    }

    /// A fresh token, over a connection of its own.
    fn token(&self) -> Result<String, String> {
        let (endpoint, name) = self.rest.clone();
        let mut http = HttpsClient::new(endpoint, name, self.target.tls.clone(), self.target.timeout);
        let sent = self.lane.with_next(|nonce| {
            let stamp = i64::try_from(nonce).unwrap_or(i64::MAX);
            send_signed(&mut http, self.signer.as_ref(), "POST", WS_TOKEN_PATH, "", &nonce_first(stamp, ""), stamp)
        });
        let resp = sent.map_err(|e| e.to_string())?.map_err(|e| format!("{WS_TOKEN_PATH}: {e}"))?;
        let result = envelope(&resp.body).map_err(|e| format!("{WS_TOKEN_PATH} refused: {e}"))?;
        result
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("{WS_TOKEN_PATH}: no token in the answer"))
    }
}

/// The TLS name the WebSocket target verifies (the REST connection verifies the same).
fn name_of(target: &WsTarget) -> String {
    match &target.name {
        rustls_pki_types::ServerName::DnsName(d) => d.as_ref().to_owned(),
        rustls_pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => target.endpoint.host.clone(),
    }
}

/// The subscription carrying `token`.
fn subscribe(token: &str) -> String {
    serde_json::json!({
        "method": "subscribe",
        "params": {"channel": "executions", "token": token, "snap_orders": true, "snap_trades": false},
        "req_id": 1,
    })
    .to_string()
}

/// What a method answer (`{"method":..,"success":..}`) says, if `text` is one for `method`.
fn answer(text: &str, method: &str) -> Option<Result<(), String>> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("method")?.as_str()? != method {
        return None;
    }
    if v.get("success").and_then(Value::as_bool) == Some(true) {
        return Some(Ok(()));
    }
    Some(Err(v.get("error").and_then(Value::as_str).unwrap_or("refused").to_owned()))
}

impl StreamSession for PrivateStream {
    fn open(&mut self) -> Result<Ws, String> {
        let token = self.token()?;
        let mut ws = private_stream::connect(&self.target, self.path)?;
        private_stream::exchange(&mut ws, subscribe(&token), "subscribe", self.target.timeout, |t| {
            answer(t, "subscribe").map(|r| r.map_err(|e| format!("subscribe refused: {e}")))
        })?;
        self.next_ping = Instant::now() + PING_EVERY;
        Ok(ws)
    }

    fn classify(&mut self, text: &str) -> FrameAction {
        let Ok(v) = serde_json::from_str::<Value>(text) else { return FrameAction::Forward };
        match (v.get("channel").and_then(Value::as_str), v.get("method").and_then(Value::as_str)) {
            (Some("executions"), _) => FrameAction::Forward,
            (Some(_), _) => FrameAction::Ignore,
            (None, Some(_)) => FrameAction::Ignore,
            // Neither: the gateway thread counts it as malformed.
            (None, None) => FrameAction::Forward,
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
        Some(r#"{"method":"ping"}"#.to_owned())
    }

    fn close(&mut self) {}

    fn describe(&self) -> String {
        format!("kraken account {} ({}{})", self.account, self.target.endpoint.url, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_go_to_the_gateway_housekeeping_does_not() {
        let doc = include_str!("../../../testdata/kraken/orders/ws_executions_update_trade.json");
        let ack = include_str!("../../../testdata/kraken/orders/ws_executions_subscribe_ack.json");
        let endpoint = Endpoint::parse("wss://127.0.0.1:1", &["wss"]).unwrap();
        let name = server_name(&endpoint, None).unwrap();
        let tls = crate::kit::http::tls_config(None).unwrap();
        let target = WsTarget { endpoint: endpoint.clone(), name, tls, timeout: Duration::from_millis(10) };
        let creds = crate::sign::Credentials {
            key: Some("k".into()),
            secret: crate::sign::Secret::new("c2VjcmV0"),
            passphrase: None,
        };
        let signer = Arc::new(KrakenSigner::new(creds).unwrap());
        let lane = NonceLane::open(None, "k").unwrap();
        let rest = Endpoint::parse("https://127.0.0.1:1", &["https"]).unwrap();
        let mut s = PrivateStream::new(AccountId(0), signer, lane, rest, target, SIM_PRIVATE_PATH).unwrap();
        assert_eq!(s.classify(doc), FrameAction::Forward);
        assert_eq!(s.classify(ack), FrameAction::Ignore);
        assert_eq!(s.classify(r#"{"channel":"heartbeat"}"#), FrameAction::Ignore);
        assert_eq!(s.classify(r#"{"method":"pong"}"#), FrameAction::Ignore);
        assert_eq!(s.classify("{\"channel\":\"executions\",\"data\":[{\"order_id\":"), FrameAction::Forward);
        assert_eq!(s.classify("[1]"), FrameAction::Forward, "counted as malformed by the gateway");
        assert_eq!(answer(ack, "subscribe"), Some(Ok(())));
        let refused = r#"{"method":"subscribe","success":false,"error":"EAccount:Invalid token"}"#;
        assert_eq!(answer(refused, "subscribe"), Some(Err("EAccount:Invalid token".into())));
        let sub: Value = serde_json::from_str(&subscribe("tok")).unwrap();
        assert_eq!(
            (sub["params"]["channel"].as_str(), sub["params"]["token"].as_str()),
            (Some("executions"), Some("tok"))
        );
    }
}
