//! Binance's side of the user data stream of one account: its listen key (`POST`/`PUT`/`DELETE
//! /api/v3/userDataStream`, API key only), the WebSocket `<ws_url>/ws/<listenKey>` that carries
//! `executionReport`s, and [`UserStream`], the [`StreamSession`] the kit's private-stream thread
//! (`crate::kit::private_stream`, thread `qt-gw-binance-us<N>`) drives: it opens the connection
//! (asking for the key again first, which returns the live key or a new one if it expired),
//! keeps the listen key alive every [`KEEPALIVE_EVERY`], treats a `listenKeyExpired` event as
//! the end of the connection, and on stop deletes the listen key.
//!
//! [`UserStream::start`] runs on the caller of [`crate::binance::spawn`] (so the stream is open
//! before the gateway takes orders). Allocates per request.

use crate::binance::errors::{CODE_INVALID_LISTEN_KEY, GatewayError, is_auth_refusal};
use crate::kit::http::HttpsClient;
use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use qt_core::AccountId;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// Listen key keepalive interval (Binance: keys live 60 minutes; "ping it every 30 minutes").
pub(crate) const KEEPALIVE_EVERY: Duration = Duration::from_secs(30 * 60);

/// How a listen key request failed.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// No answer.
    Transport(String),
    /// The venue refused it.
    Venue {
        /// HTTP status.
        status: u16,
        /// Binance code.
        code: i64,
        /// Message.
        msg: String,
    },
    /// The answer had no listen key.
    BadAnswer(String),
}

impl KeyError {
    pub(crate) fn into_gateway_error(self, method: &'static str, url: String) -> GatewayError {
        match self {
            KeyError::Transport(reason) => GatewayError::Connect { url, reason },
            KeyError::Venue { status, code, msg } => GatewayError::Venue { method, url, status, code, msg },
            KeyError::BadAnswer(body) => GatewayError::BadAnswer { method, url, body },
        }
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Transport(r) => write!(f, "{r}"),
            KeyError::Venue { status, code, msg } => write!(f, "HTTP {status}, code {code}, msg {msg:?}"),
            KeyError::BadAnswer(b) => write!(f, "unexpected answer {b:?}"),
        }
    }
}

/// Binance's error body.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiError {
    /// Error code.
    pub(crate) code: i64,
    /// Message.
    pub(crate) msg: String,
}

/// The `(code, msg)` of an error body; `(0, body excerpt)` if it is not Binance's shape.
pub(crate) fn api_error(body: &[u8]) -> (i64, String) {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => (e.code, e.msg),
        Err(_) => {
            let end = body.len().min(200);
            (0, String::from_utf8_lossy(&body[..end]).into_owned())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListenKeyAnswer {
    #[serde(rename = "listenKey")]
    listen_key: String,
}

/// The user-data-stream path.
pub(crate) const USER_DATA_STREAM: &str = "/api/v3/userDataStream";

/// `method <path>` (`/api/v3/userDataStream`, `/fapi/v1/listenKey`) with the API key; for
/// PUT/DELETE the listen key as a parameter.
pub(crate) fn listen_key_request(
    http: &mut HttpsClient,
    path: &str,
    method: &str,
    api_key: &str,
    key: Option<&str>,
) -> Result<Option<String>, KeyError> {
    let query = key.map(|k| format!("listenKey={k}")).unwrap_or_default();
    let resp = http
        .request(method, path, &query, &[("X-MBX-APIKEY", api_key)])
        .map_err(|e| KeyError::Transport(e.to_string()))?;
    if resp.status != 200 {
        let (code, msg) = api_error(&resp.body);
        return Err(KeyError::Venue { status: resp.status, code, msg });
    }
    if method != "POST" {
        return Ok(None);
    }
    match serde_json::from_slice::<ListenKeyAnswer>(&resp.body) {
        Ok(a) if !a.listen_key.is_empty() && a.listen_key.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Ok(Some(a.listen_key))
        }
        _ => Err(KeyError::BadAnswer(resp.body_excerpt())),
    }
}

/// The stream URL of `listen_key` on `target`, for messages (the key is secret-ish: only its
/// start).
pub(crate) fn describe(target: &WsTarget, listen_key: &str) -> String {
    let shown: String = listen_key.chars().take(8).collect();
    format!("{}/ws/{shown}…", target.endpoint.url)
}

/// Opens `<ws_url>/ws/<listen_key>`.
pub(crate) fn connect(target: &WsTarget, listen_key: &str) -> Result<Ws, String> {
    private_stream::connect(target, &format!("/ws/{listen_key}"))
}

#[derive(Debug, Deserialize)]
struct EventProbe {
    #[serde(default)]
    e: Option<String>,
}

/// Whether a frame is Binance's `listenKeyExpired` event.
fn is_listen_key_expired(text: &str) -> bool {
    text.contains("listenKeyExpired")
        && serde_json::from_str::<EventProbe>(text).is_ok_and(|p| p.e.as_deref() == Some("listenKeyExpired"))
}

/// One account's stream session.
pub(crate) struct UserStream {
    /// Our account id (for errors).
    account: AccountId,
    /// API key (for the listen key endpoints).
    api_key: String,
    /// REST client for the listen key endpoints.
    rest: HttpsClient,
    /// Where the stream is.
    target: WsTarget,
    /// The listen key endpoint.
    path: &'static str,
    /// The current listen key (empty until the first is created).
    listen_key: String,
    /// When the listen key is next kept alive.
    next_keepalive: Instant,
}

impl std::fmt::Debug for UserStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStream")
            .field("account", &self.account)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl UserStream {
    /// A session for `account` whose listen key lives at `path`, not yet open.
    pub(crate) fn new(
        account: AccountId,
        api_key: String,
        rest: HttpsClient,
        target: WsTarget,
        path: &'static str,
    ) -> Self {
        let next_keepalive = Instant::now() + KEEPALIVE_EVERY;
        Self { account, api_key, rest, target, path, listen_key: String::new(), next_keepalive }
    }

    /// The first connection, at start-up: creates the listen key and connects; the error names
    /// what failed (a refused key is [`GatewayError::AuthRejected`]).
    pub(crate) fn start(&mut self) -> Result<Ws, GatewayError> {
        let url = format!("{}{}", self.rest.endpoint().url, self.path);
        let key = listen_key_request(&mut self.rest, self.path, "POST", &self.api_key, None)
            .map_err(|e| e.into_gateway_error("POST", url.clone()).for_account(self.account, is_auth_refusal))?
            .ok_or_else(|| GatewayError::BadAnswer { method: "POST", url, body: String::new() })?;
        self.listen_key = key;
        connect(&self.target, &self.listen_key)
            .map_err(|reason| GatewayError::Connect { url: describe(&self.target, &self.listen_key), reason })
    }
}

impl StreamSession for UserStream {
    /// Asks for the listen key (the live one, or a new one if it expired) and connects.
    #[cold]
    fn open(&mut self) -> Result<Ws, String> {
        match listen_key_request(&mut self.rest, self.path, "POST", &self.api_key, None) {
            Ok(Some(key)) => self.listen_key = key,
            Ok(None) => return Err("no listen key in the answer".into()),
            Err(e) => return Err(format!("creating the listen key: {e}")),
        }
        connect(&self.target, &self.listen_key)
    }

    fn classify(&mut self, text: &str) -> FrameAction {
        if is_listen_key_expired(text) {
            FrameAction::Reconnect("listenKeyExpired".into())
        } else {
            FrameAction::Forward
        }
    }

    fn maintain(&mut self, now: Instant, _connected: bool) -> Result<(), String> {
        if now < self.next_keepalive {
            return Ok(());
        }
        self.next_keepalive = now + KEEPALIVE_EVERY;
        match listen_key_request(&mut self.rest, self.path, "PUT", &self.api_key, Some(&self.listen_key)) {
            Ok(_) => Ok(()),
            Err(KeyError::Venue { code: CODE_INVALID_LISTEN_KEY, .. }) => {
                Err("listen key expired (keepalive refused)".into())
            }
            Err(e) => {
                log::warn!("binance user stream: listen key keepalive failed: {e}");
                Ok(())
            }
        }
    }

    /// Deletes the listen key.
    fn close(&mut self) {
        if self.listen_key.is_empty() {
            return;
        }
        if let Err(e) = listen_key_request(&mut self.rest, self.path, "DELETE", &self.api_key, Some(&self.listen_key)) {
            log::debug!("binance user stream: deleting the listen key: {e}");
        }
    }

    fn describe(&self) -> String {
        describe(&self.target, &self.listen_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_listen_key_expiry_and_error_bodies() {
        assert!(is_listen_key_expired(r#"{"e":"listenKeyExpired","E":"1699596037418","listenKey":"abc"}"#));
        assert!(!is_listen_key_expired(r#"{"e":"executionReport","c":"listenKeyExpired"}"#));
        assert!(!is_listen_key_expired("{not json listenKeyExpired"));
        assert_eq!(api_error(br#"{"code":-1125,"msg":"This listenKey does not exist."}"#).0, -1125);
        assert_eq!(api_error(b"<html>bad gateway</html>"), (0, "<html>bad gateway</html>".to_string()));
    }
}
