//! Binance spot's WebSocket API, user data only: one [`WsApiSession`] per connection to
//! `/ws-api/v3` (`binance-spot-api-docs` `web-socket-api.md`, NOTES-orders.md §1 "WS-API" and
//! "User data stream"; samples in `testdata/binance_spot/orders/`).
//!
//! Envelope: requests `{"id","method","params"}`; answers `{"id","status","result",
//! "rateLimits"}` or `{"id","status","error":{"code","msg"},"rateLimits"}` (the REST codes,
//! `status` the REST HTTP status); `rateLimits` left out with `returnRateLimits=false` on the
//! connection URL or in a request's `params`. Methods:
//! - `ping` (`{}`), `time` (`{"serverTime"}`);
//! - `session.logon` (`apiKey`, `timestamp`, `signature`, optional `recvWindow`): the session's
//!   account, answered with `apiKey`, `authorizedSince`, `connectedSince`, `returnRateLimits`,
//!   `serverTime`, `userDataStream`; `session.status`, `session.logout`;
//! - `userDataStream.subscribe.signature` (`apiKey`, `timestamp`, `signature`, optional
//!   `recvWindow`; works without a logon), `userDataStream.subscribe` (the logged-on account):
//!   `{"subscriptionId":N}`, N counting from 0 per connection; one subscription per account
//!   (a second gets -2035); `userDataStream.unsubscribe` (optional `subscriptionId`: that one, else
//!   all) and `session.subscriptions` (`[{"subscriptionId":N},..]`).
//!
//! Signatures: lower-case hex HMAC-SHA256 over every parameter but `signature`, sorted by name,
//! `name=value` joined with `&` (the docs' SIGNED rule for the WebSocket API; the docs say
//! `session.logon` takes Ed25519 keys only and `subscribe.signature` any key type: the simulator
//! has HMAC keys and accepts them for both, a guess README lists). Timing as on REST (-1021).
//!
//! Events: `{"subscriptionId":N,"event":{..}}` with the account's `executionReport` and
//! `outboundAccountPosition`, the same payloads as the listen-key stream. The simulator has no
//! deposits or withdrawals, so no `balanceUpdate`.
//!
//! Weight: `rateLimits` reports REQUEST_WEIGHT per minute counted on this connection (2 for the
//! connection, 2 per subscribe, 1 per other request) against the REST limit (a guess: Binance
//! counts per IP across REST and the WebSocket API).
//!
//! Faults: dropped WebSockets and outages end the session; a stall holds events back; malformed
//! and truncated frames and malformed account frames replace or cut the next event.
//!
//! Runs on its connection thread for the session's life; allocates per message.

use super::BinanceSpot;
use super::wire::account_position_json;
use crate::kit::binance_errors::BinanceError;
use crate::kit::binance_params::{Params, check_signed};
use crate::market::AccountEvent;
use crate::protocol::{Ctx, WsIncoming, WsSession};
use crate::stream::{SessionGuard, send_data};
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::AccountId;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The WebSocket API path.
pub const WS_API_PATH: &str = "/ws-api/v3";
/// How often the session polls its socket.
const POLL: Duration = Duration::from_millis(5);
/// What a malformed account frame fault sends instead of the next event.
const MALFORMED: &[u8] = b"{\"subscriptionId\":0,\"event\":{\"e\":\"executionReport\",\"E\":,]";

/// One user data subscription.
struct Subscription {
    id: u64,
    account: AccountId,
    rx: Receiver<Arc<AccountEvent>>,
}

/// One `/ws-api/v3` connection.
pub(super) struct WsApiSession<'a> {
    venue: &'a BinanceSpot,
    ctx: &'a Ctx,
    return_rate_limits: bool,
    connected_ms: i64,
    /// The logged-on account and key, and when.
    logon: Option<(AccountId, String, i64)>,
    subs: Vec<Subscription>,
    next_sub: u64,
    /// Weight used this minute: (minute, weight).
    weight: (i64, u32),
}

impl std::fmt::Debug for WsApiSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsApiSession").field("subscriptions", &self.subs.len()).finish_non_exhaustive()
    }
}

/// Request parameters as the signing check reads them: JSON strings as they are, numbers and
/// booleans as their JSON text.
fn params_of(params: &Map<String, Value>) -> Params {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Params { pairs: params.iter().map(|(k, v)| (k.clone(), text(v))).collect() }
}

/// The signed payload: every parameter but `signature`, sorted by name, `k=v` joined by `&`.
fn signing_payload(p: &Params) -> String {
    let mut pairs: Vec<&(String, String)> = p.pairs.iter().filter(|(k, _)| k != "signature").collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

impl<'a> WsApiSession<'a> {
    pub(super) fn new(venue: &'a BinanceSpot, ctx: &'a Ctx, query: &str) -> Self {
        let return_rate_limits = !query.split('&').any(|kv| kv == "returnRateLimits=false");
        let now = ctx.market.now_ms();
        Self {
            venue,
            ctx,
            return_rate_limits,
            connected_ms: now,
            logon: None,
            subs: Vec::new(),
            next_sub: 0,
            weight: (now.div_euclid(60_000), 2),
        }
    }

    fn charge(&mut self, weight: u32) -> u32 {
        let minute = self.ctx.market.now_ms().div_euclid(60_000);
        if self.weight.0 != minute {
            self.weight = (minute, 0);
        }
        self.weight.1 = self.weight.1.saturating_add(weight);
        self.weight.1
    }

    /// The account of a signed request's `apiKey`, its signature and timing checked.
    fn signed_account(&self, p: &Params) -> Result<(AccountId, String), BinanceError> {
        let key = p.required("apiKey")?;
        let (account, secret) = self.ctx.market.account_by_key(key).ok_or(BinanceError::RejectedApiKey)?;
        check_signed(self.ctx, &secret, signing_payload(p).as_bytes(), p)?;
        Ok((account, key.to_string()))
    }

    /// Adds a subscription to `account`'s events.
    fn subscribe(&mut self, account: AccountId) -> Result<Value, BinanceError> {
        if self.subs.iter().any(|s| s.account == account) {
            return Err(BinanceError::SubscriptionActive);
        }
        let rx = self.ctx.market.subscribe_account(account).ok_or(BinanceError::Unknown)?;
        let id = self.next_sub;
        self.next_sub += 1;
        self.subs.push(Subscription { id, account, rx });
        Ok(json!({ "subscriptionId": id }))
    }

    /// The answer to one request (`method`, `params`).
    fn call(&mut self, method: &str, params: &Map<String, Value>) -> Result<Value, BinanceError> {
        let p = params_of(params);
        let now = self.ctx.market.now_ms();
        match method {
            "ping" => Ok(json!({})),
            "time" => Ok(json!({ "serverTime": now })),
            "session.logon" => {
                let (account, key) = self.signed_account(&p)?;
                self.logon = Some((account, key, now));
                Ok(self.session_status(now))
            }
            "session.status" => Ok(self.session_status(now)),
            "session.logout" => {
                self.logon = None;
                Ok(self.session_status(now))
            }
            "userDataStream.subscribe.signature" => {
                let (account, _) = self.signed_account(&p)?;
                self.subscribe(account)
            }
            "userDataStream.subscribe" => {
                let account = self.logon.as_ref().map(|(a, _, _)| *a).ok_or(BinanceError::Unauthorized)?;
                self.subscribe(account)
            }
            "userDataStream.unsubscribe" => {
                match p.get("subscriptionId") {
                    None => self.subs.clear(),
                    Some(id) => {
                        let id: u64 = id.parse().map_err(|_| BinanceError::InvalidParamData("subscriptionId"))?;
                        let before = self.subs.len();
                        self.subs.retain(|s| s.id != id);
                        if self.subs.len() == before {
                            return Err(BinanceError::SubscriptionInactive);
                        }
                    }
                }
                Ok(json!({}))
            }
            "session.subscriptions" => {
                Ok(Value::Array(self.subs.iter().map(|s| json!({ "subscriptionId": s.id })).collect()))
            }
            _ => Err(BinanceError::UnsupportedOperation { status: 400 }),
        }
    }

    fn session_status(&self, now: i64) -> Value {
        let (key, since) = match &self.logon {
            Some((_, key, since)) => (Value::from(key.clone()), Value::from(*since)),
            None => (Value::Null, Value::Null),
        };
        json!({
            "apiKey": key,
            "authorizedSince": since,
            "connectedSince": self.connected_ms,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": now,
            "userDataStream": !self.subs.is_empty(),
        })
    }

    /// Answers one client text frame.
    fn on_request(&mut self, text: &str) -> String {
        let Ok(req) = serde_json::from_str::<Value>(text) else {
            let e = json!({ "code": -1000, "msg": "Malformed request." });
            return json!({ "id": Value::Null, "status": 400, "error": e }).to_string();
        };
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let method = req.get("method").and_then(Value::as_str).unwrap_or("");
        let empty = Map::new();
        let params = req.get("params").and_then(Value::as_object).unwrap_or(&empty);
        let weight = if method.starts_with("userDataStream.subscribe") { 2 } else { 1 };
        let used = self.charge(weight);
        let show_limits = self.return_rate_limits && params.get("returnRateLimits") != Some(&Value::Bool(false));
        let mut params = params.clone();
        params.remove("returnRateLimits");
        let mut out = match self.call(method, &params) {
            Ok(result) => json!({ "id": id, "status": 200, "result": result }),
            Err(e) => {
                json!({ "id": id, "status": e.http_status(), "error": { "code": e.code(), "msg": e.to_string() } })
            }
        };
        if show_limits && let Some(obj) = out.as_object_mut() {
            let limit = self.venue.limits.request_weight_per_minute;
            obj.insert(
                "rateLimits".into(),
                json!([{ "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                         "limit": limit, "count": used }]),
            );
        }
        out.to_string()
    }

    /// Each subscription's pending events, wrapped; `Err` if the market dropped one.
    fn events(&mut self) -> Result<Vec<String>, ()> {
        let market = &self.ctx.market;
        let now = market.now_ms();
        let mut out = Vec::new();
        for sub in &self.subs {
            loop {
                let ev = match sub.rx.try_recv() {
                    Ok(ev) => ev,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(()),
                };
                let event = match &*ev {
                    AccountEvent::Order { exec, order } => {
                        match self.venue.execution_report(market, exec, order, sub.account) {
                            Some(v) => v,
                            None => continue,
                        }
                    }
                    AccountEvent::Balances { ts, balances } => account_position_json(*ts, balances, now),
                    AccountEvent::Position { .. } => continue,
                };
                out.push(format!("{{\"subscriptionId\":{},\"event\":{event}}}", sub.id));
            }
        }
        Ok(out)
    }

    /// The session loop.
    pub(super) fn run(&mut self, ws: &mut dyn WsSession) {
        let guard = SessionGuard::new(self.ctx);
        let mut next_ping = Instant::now() + self.venue.limits.ws_ping_interval;
        loop {
            if !guard.keep_serving(self.ctx, ws) {
                return;
            }
            match ws.recv(POLL) {
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
                Ok(Some(WsIncoming::Text(text))) => {
                    let reply = self.on_request(&text);
                    if ws.send_text(&reply).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            }
            if self.ctx.faults.ws_stalled() {
                continue;
            }
            let Ok(events) = self.events() else { return ws.close(false) };
            for text in events {
                let sent = if self.ctx.faults.take_malformed_account_frame() {
                    ws.send_raw_text(MALFORMED)
                } else {
                    send_data(ws, &self.ctx.faults, &text)
                };
                if sent.is_err() {
                    return;
                }
            }
            let now = Instant::now();
            if now >= next_ping {
                next_ping = now + self.venue.limits.ws_ping_interval;
                if ws.send_ping(self.ctx.market.now_ms().to_string().as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The self-computed `userDataStream.subscribe.signature` vector of the team's notes
    /// (`venues/samples/binance_spot/orders/sign_vectors.txt`, the docs' HMAC key pair): the
    /// payload is the sorted parameters, and its HMAC is the vector's.
    #[test]
    fn the_signed_payload_is_the_sorted_parameters() {
        let params: Map<String, Value> = serde_json::from_str(
            r#"{"timestamp":1747385641636,"apiKey":"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A","signature":"x"}"#,
        )
        .unwrap();
        let payload = signing_payload(&params_of(&params));
        assert_eq!(
            payload,
            "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&timestamp=1747385641636"
        );
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        assert_eq!(
            crate::signing::hmac_sha256_hex(secret, payload.as_bytes()),
            "681110a6057ad58657af22f5640fab9dd17418834cdfccdc81be8b0f7b2cde3e"
        );
    }
}
