//! Binance spot and USD-M signing (one scheme): `signature = hex(HMAC-SHA256(secret, payload))`.
//!
//! - REST: the payload is the query string followed by the body exactly as sent, no separator
//!   (`rest-api.md` "SIGNED endpoint security"); non-ASCII values are percent-encoded before
//!   signing. `signature=` goes last in the part that carried the timestamp; header
//!   `X-MBX-APIKEY`.
//! - WebSocket API (`session.logon`, `userDataStream.subscribe.signature`, `order.place`, …):
//!   the payload is every parameter but `signature`, sorted by name, `name=value` joined by `&`,
//!   raw UTF-8 (`web-socket-api.md` "SIGNED request security"). `userDataStream.subscribe.signature`
//!   takes an HMAC key (the CHANGELOG: "any key type"); `session.logon` documents Ed25519 only,
//!   though its example signature is this HMAC (`testdata/binance_spot/sign_vectors.txt`).
//!
//! [`Signer`] and [`signed_query`] are the gateway's hot pieces (`binance::signer` re-exports
//! them); [`BinanceSigner`] is the [`RequestSigner`] over them.

use super::mac::{HmacSha256, Parts};
use super::{
    Credentials, RequestSigner, RestRequest, SignError, SignedRest, SignedWs, StringToSign, WireText, WsRequest,
    digits, header, http_method, key_or_placeholder, request_path,
};
use qt_core::Venue;
use std::fmt;

/// What `timestamp` is in Binance's scheme, for error messages.
const TIMESTAMP_FORM: &str = "epoch milliseconds, e.g. 1499827319559";

/// The WebSocket API method signed when none is named: the user data subscription.
pub const DEFAULT_WS_METHOD: &str = "userDataStream.subscribe.signature";

/// The receive window the gateway sends by default (`binance::GatewayConfig::recv_window_ms`).
pub const DEFAULT_RECV_WINDOW: &str = "5000";

/// One account's keyed HMAC; signs a payload into lower-case hex.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer for `secret`.
    pub fn new(secret: &str) -> Self {
        Self { mac: HmacSha256::new(secret.as_bytes()) }
    }

    /// Lower-case hex HMAC-SHA256 of `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let mut out = String::with_capacity(64);
        self.sign_into(Parts::new().push(payload), &mut out);
        out
    }

    /// Appends the lower-case hex HMAC-SHA256 of `parts` (concatenated) to `out`.
    pub fn sign_into(&self, parts: &Parts<'_>, out: &mut String) {
        self.mac.hex_into(parts, out);
    }
}

/// Appends `value` percent-encoded for a query string (RFC 3986 unreserved characters kept).
pub fn push_encoded(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Builds `k1=v1&k2=v2...` (values percent-encoded) in the given order.
pub fn query_string(params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(256);
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        push_encoded(&mut out, v);
    }
    out
}

/// The query string of a SIGNED request: `params`, then `recvWindow` and `timestamp`, then
/// `signature` over all of it.
pub fn signed_query(signer: &Signer, params: &[(&str, &str)], recv_window: &str, timestamp_ms: i64) -> String {
    let mut query = query_string(params);
    let mut signature = String::with_capacity(64);
    append_signed_tail(signer, &mut query, &mut signature, recv_window, timestamp_ms);
    query
}

/// Appends `recvWindow`, `timestamp` and then the `signature` over the whole query to the
/// encoded parameters in `query` — the tail of every SIGNED request. `scratch` holds the
/// signature on the way (cleared first). Allocation-free once both have capacity.
pub fn append_signed_tail(
    signer: &Signer,
    query: &mut String,
    scratch: &mut String,
    recv_window: &str,
    timestamp_ms: i64,
) {
    use std::fmt::Write as _;
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str("recvWindow=");
    push_encoded(query, recv_window);
    // Writing an integer into a String cannot fail.
    let _ = write!(query, "&timestamp={timestamp_ms}");
    scratch.clear();
    signer.sign_into(Parts::new().push(query.as_bytes()), scratch);
    query.push_str("&signature=");
    query.push_str(scratch);
}

/// `name=value&…` split into pairs (an empty string has none); a piece without `=` is refused.
pub fn split_params(venue: Venue, params: &str) -> Result<Vec<(&str, &str)>, SignError> {
    params
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').ok_or_else(|| SignError::BadParams { venue, param: p.to_string() }))
        .collect()
}

/// The WebSocket API signature payload: `params` sorted by name (stable), `name=value` joined
/// by `&`, raw.
pub fn ws_payload(params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(sorted.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Binance's [`RequestSigner`] (spot or USD-M: the venue only labels errors).
#[derive(Debug)]
pub struct BinanceSigner {
    venue: Venue,
    creds: Credentials,
    signer: Signer,
    recv_window: String,
}

impl BinanceSigner {
    /// Keys the signer with `creds`; `recvWindow` [`DEFAULT_RECV_WINDOW`].
    pub fn new(venue: Venue, creds: Credentials) -> Self {
        let signer = Signer::new(creds.secret.expose());
        Self { venue, creds, signer, recv_window: DEFAULT_RECV_WINDOW.to_string() }
    }

    /// The `recvWindow` appended to a request that carries no timestamp yet.
    pub fn with_recv_window(mut self, recv_window_ms: u64) -> Self {
        self.recv_window = recv_window_ms.to_string();
        self
    }

    /// The value of `name` in the query or body, if present.
    fn find<'a>(&self, req: &RestRequest<'a>, name: &str) -> Result<Option<&'a str>, SignError> {
        for part in [req.query, req.body] {
            if let Some((_, v)) = split_params(self.venue, part)?.into_iter().find(|(k, _)| *k == name) {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

impl RequestSigner for BinanceSigner {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError> {
        http_method(req.method)?;
        request_path(req.path)?;
        let timestamp = digits(self.venue, req.timestamp, TIMESTAMP_FORM)?;
        let (mut query, mut body) = (req.query.to_string(), req.body.to_string());
        // The signature and any appended parameters go last in the body if there is one.
        let in_body = !body.is_empty();
        match self.find(req, "timestamp")? {
            Some(found) if found != timestamp => {
                return Err(SignError::TimestampMismatch {
                    venue: self.venue,
                    found: found.to_string(),
                    given: timestamp.to_string(),
                });
            }
            Some(_) => {}
            None => {
                let target = if in_body { &mut body } else { &mut query };
                if self.find(req, "recvWindow")?.is_none() {
                    push_param(target, "recvWindow", &self.recv_window);
                }
                push_param(target, "timestamp", timestamp);
            }
        }
        let mut signature = String::with_capacity(64);
        let parts = *Parts::new().push_str(&query).push_str(&body);
        self.signer.sign_into(&parts, &mut signature);
        let string_to_sign = StringToSign::Text(parts.to_text());
        push_param(if in_body { &mut body } else { &mut query }, "signature", &signature);
        let mut headers = vec![header("X-MBX-APIKEY", key_or_placeholder(&self.creds))];
        if in_body {
            headers.push(header("Content-Type", "application/x-www-form-urlencoded"));
        }
        Ok(SignedRest { string_to_sign, signature, headers, query, body })
    }

    fn sign_ws(&self, req: &WsRequest<'_>) -> Result<SignedWs, SignError> {
        let venue = self.venue;
        let key = self.creds.key.as_deref().ok_or(SignError::MissingKey { venue, what: "parameters (apiKey)" })?;
        let timestamp = digits(venue, req.timestamp, TIMESTAMP_FORM)?;
        let method = if req.method.is_empty() { DEFAULT_WS_METHOD } else { req.method };
        let mut params = split_params(venue, req.params)?;
        if let Some((_, v)) = params.iter().find(|(k, _)| *k == "signature") {
            return Err(SignError::BadParams { venue, param: format!("signature={v} (it is computed, not given)") });
        }
        match params.iter().find(|(k, _)| *k == "timestamp") {
            Some((_, found)) if *found != timestamp => {
                return Err(SignError::TimestampMismatch {
                    venue,
                    found: found.to_string(),
                    given: timestamp.to_string(),
                });
            }
            Some(_) => {}
            None => params.push(("timestamp", timestamp)),
        }
        if !params.iter().any(|(k, _)| *k == "apiKey") {
            params.push(("apiKey", key));
        }
        let string_to_sign = ws_payload(&params);
        let signature = self.signer.sign(string_to_sign.as_bytes());
        let payload = ws_request_json(req.id, method, &params, &signature);
        Ok(SignedWs { string_to_sign, signature, payload: WireText::plain(payload) })
    }
}

/// Appends `&name=value` (or `name=value` to an empty string).
fn push_param(target: &mut String, name: &str, value: &str) {
    if !target.is_empty() {
        target.push('&');
    }
    target.push_str(name);
    target.push('=');
    target.push_str(value);
}

/// `{"id":…,"method":…,"params":{…,"signature":…}}`. Integer-typed parameters (`timestamp`,
/// `recvWindow`, `orderId`) are JSON numbers, as in the documentation's examples; the rest are
/// strings. `params` are emitted sorted by name.
fn ws_request_json(id: &str, method: &str, params: &[(&str, &str)], signature: &str) -> String {
    const NUMERIC: [&str; 3] = ["timestamp", "recvWindow", "orderId"];
    let mut map = serde_json::Map::new();
    for (k, v) in params {
        let value = match v.parse::<u64>() {
            Ok(n) if NUMERIC.contains(k) => serde_json::Value::from(n),
            _ => serde_json::Value::from(*v),
        };
        map.insert((*k).to_string(), value);
    }
    map.insert("signature".into(), signature.into());
    let id = if id.is_empty() { "1" } else { id };
    serde_json::json!({ "id": id, "method": method, "params": map }).to_string()
}

#[cfg(test)]
#[path = "binance_tests.rs"]
mod tests;
