//! OKX's REST plumbing shared by the gateway thread and the cold helpers: a signed request
//! (`OK-ACCESS-*` headers from [`crate::sign::okx`]; a GET signs `path?query`, a POST its JSON
//! body) and the `{"code","msg","data":[..]}` envelope every answer carries (`code` a string,
//! "0" for success; trade answers put each order's `sCode` / `sMsg` in `data`).
//!
//! Allocates per request (the body, the headers).

use crate::kit::http::{HttpsClient, Response, TransportError};
use crate::sign::okx::OkxSigner;
use crate::sign::{Credentials, RequestSigner, Secret};
use serde::Deserialize;
use serde_json::Value;

/// One account's key, secret and passphrase, as a signer.
#[derive(Debug)]
pub(crate) struct OkxKey {
    signer: OkxSigner,
}

impl OkxKey {
    /// The signer, as the kit sends with it.
    pub(crate) fn signer(&self) -> &dyn RequestSigner {
        &self.signer
    }

    /// A signer of `key` / `secret` / `passphrase`; an empty passphrase is refused (the
    /// configuration is validated before).
    pub(crate) fn new(key: &str, secret: &str, passphrase: &str) -> Result<Self, String> {
        let creds = Credentials {
            key: Some(key.to_string()),
            secret: Secret::new(secret),
            passphrase: (!passphrase.is_empty()).then(|| Secret::new(passphrase)),
        };
        OkxSigner::new(creds).map(|signer| Self { signer }).map_err(|e| e.to_string())
    }

    /// The private stream's `login` frame for venue time `venue_s` (epoch seconds).
    pub(crate) fn ws_login(&self, venue_s: i64) -> Result<String, String> {
        let ts = venue_s.to_string();
        let req = crate::sign::WsRequest { timestamp: &ts, method: "GET", path: "", params: "", id: "" };
        self.signer.sign_ws(&req).map(|s| s.payload.expose().to_string()).map_err(|e| e.to_string())
    }
}

/// Sends `method` `path` signed with `key` at venue time `venue_ms`
/// ([`crate::kit::rest_link::send_signed`]).
pub(crate) fn send_signed(
    http: &mut HttpsClient,
    key: &OkxKey,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    venue_ms: i64,
) -> Result<Response, TransportError> {
    crate::kit::rest_link::send_signed(http, key.signer(), method, path, query, body, venue_ms)
}

/// OKX's answer envelope (the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    /// "0" for success; "1" / "2" all / some items of a trade request failed; else the error.
    pub(crate) code: String,
    /// The message.
    #[serde(default)]
    pub(crate) msg: String,
    /// The payload (items of a trade answer).
    #[serde(default)]
    pub(crate) data: Vec<Value>,
}

impl Envelope {
    /// The numeric `code` (0 when unreadable as a number).
    pub(crate) fn code_num(&self) -> i64 {
        self.code.parse().unwrap_or(0)
    }
}

/// The envelope of an answer, or `None` when the body is not OKX's shape.
pub(crate) fn envelope(resp: &Response) -> Option<Envelope> {
    serde_json::from_slice::<Envelope>(&resp.body).ok()
}

/// `(code, msg)` of a refused request: the whole request's code, else the first item's
/// `sCode` / `sMsg`; `(0, body excerpt)` when the body is not OKX's shape.
pub(crate) fn api_error(resp: &Response) -> (i64, String) {
    match envelope(resp) {
        Some(e) => match e.code.as_str() {
            "1" | "2" => item_error(e.data.first()).unwrap_or((e.code_num(), e.msg)),
            _ => (e.code_num(), e.msg),
        },
        None => (0, resp.body_excerpt()),
    }
}

/// `(sCode, sMsg)` of a trade answer's item, when it is a refusal.
pub(crate) fn item_error(item: Option<&Value>) -> Option<(i64, String)> {
    let item = item?;
    let code = item.get("sCode").and_then(Value::as_str)?.parse::<i64>().ok()?;
    (code != 0).then(|| (code, item.get("sMsg").and_then(Value::as_str).unwrap_or("").to_string()))
}

/// Whether an answer is OKX refusing the request's timestamp (50102).
pub(crate) fn is_timestamp_reject(resp: &Response) -> bool {
    envelope(resp).is_some_and(|e| e.code_num() == crate::okx::errors::CODE_TIMESTAMP)
}

/// An OKX order id (a decimal string) as our `u64`; 0 when unreadable.
pub(crate) fn venue_order_id(text: &str) -> u64 {
    text.parse::<u64>().unwrap_or(0)
}

impl crate::kit::shell::AccountKey for OkxKey {
    fn signer(&self) -> &dyn RequestSigner {
        OkxKey::signer(self)
    }
}
