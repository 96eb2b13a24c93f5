//! Request signing for every venue behind one interface, [`RequestSigner`]: what a request
//! signs over goes in ([`RestRequest`], [`WsRequest`]); the exact string to sign, the signature
//! and what goes on the wire (headers, query, body, WebSocket login payload) come out
//! ([`SignedRest`], [`SignedWs`]).
//!
//! ```text
//!  Credentials { key, Secret, passphrase } ──signer_for(venue)──► Box<dyn RequestSigner>
//!  RestRequest { timestamp, method, path, query, body } ──sign_rest──► SignedRest
//!  WsRequest   { timestamp, method, path, params, id }  ──sign_ws────► SignedWs
//! ```
//!
//! One file per venue holds its scheme: [`binance`] (spot and USD-M), [`bybit`] (v5), [`okx`]
//! (v5), [`kucoin`], [`kraken`], [`firi`]. Each also offers an allocation-free hot method that
//! appends just the signature to a caller's buffer, over the same [`mac::Parts`] that
//! `sign_rest` shows as the string to sign — so what `qt sign` prints is what the gateways sign.
//!
//! Secrets are held as [`Secret`] and leave only through `expose`; `Debug` of every type here
//! redacts them, and a header or payload that carries one (OKX's plain passphrase) is a
//! [`WireText`] that prints with a placeholder. Bad input is a [`SignError`], never a panic.
//!
//! The venue simulator checks signatures with its own code (`venue-sim/src/signing.rs`) on
//! purpose: a signer and its checker must not be the same code.
//!
//! Cold or gateway thread; `sign_rest`/`sign_ws` allocate (they build the printable
//! results); the per-venue `*_into` methods do not once their output buffer has capacity
//! (`gateway/tests/sign_no_alloc.rs` counts).

pub mod binance;
pub mod bybit;
mod error;
pub mod firi;
pub mod kraken;
pub mod kucoin;
pub mod mac;
pub mod okx;
mod secret;
#[cfg(test)]
mod test_vectors;

pub use error::SignError;
pub use secret::{Secret, WireText};

use qt_core::Venue;
use std::fmt;

/// What an account signs with. `key` is optional only so a signature can be checked without
/// it (`qt sign`) where the key is not itself signed; a header or payload that would carry it
/// then shows [`KEY_NOT_GIVEN`].
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The API key (public; sent in a header or the login payload).
    pub key: Option<String>,
    /// The API secret.
    pub secret: Secret,
    /// OKX and KuCoin: the key's passphrase.
    pub passphrase: Option<Secret>,
}

/// Shown where the API key goes when none was given.
pub const KEY_NOT_GIVEN: &str = "<API key>";

/// Shown where a plain passphrase goes (OKX sends it as is).
pub const PASSPHRASE_SHOWN: &str = "<passphrase>";

/// One REST request, as the venue will receive it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestRequest<'a> {
    /// The venue's own timestamp form: epoch ms (Binance, Bybit, KuCoin), ISO-8601 with ms or
    /// epoch ms (OKX), the nonce (Kraken), epoch seconds (Firi).
    pub timestamp: &'a str,
    /// `GET`, `POST`, `PUT` or `DELETE` (any case).
    pub method: &'a str,
    /// The request path from the host on, without the query (`/api/v3/order`).
    pub path: &'a str,
    /// The query string without `?` (may be empty).
    pub query: &'a str,
    /// The body exactly as sent (may be empty).
    pub body: &'a str,
}

/// A signed REST request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRest {
    /// Exactly what the MAC was computed over.
    pub string_to_sign: StringToSign,
    /// The signature as sent.
    pub signature: String,
    /// Headers to send, in order (names as the venue documents them).
    pub headers: Vec<(&'static str, WireText)>,
    /// The query string to send (Binance appends `timestamp`/`signature`; Firi
    /// `timestamp`/`validity`).
    pub query: String,
    /// The body to send.
    pub body: String,
}

/// What a MAC was computed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringToSign {
    /// Text, signed as is.
    Text(String),
    /// Kraken: `path` followed by the 32 raw bytes of `SHA-256(hashed)` (shown in hex).
    PathAndDigest {
        /// The URI path.
        path: String,
        /// The text hashed with SHA-256 (`nonce + postdata`).
        hashed: String,
        /// Its SHA-256, lower-case hex.
        digest_hex: String,
    },
}

impl fmt::Display for StringToSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StringToSign::Text(t) => f.write_str(t),
            StringToSign::PathAndDigest { path, digest_hex, .. } => {
                write!(f, "{path} + SHA256 bytes {digest_hex}")
            }
        }
    }
}

/// A WebSocket login or signed WebSocket-API request.
#[derive(Clone, Copy, Debug, Default)]
pub struct WsRequest<'a> {
    /// Binance: epoch ms; Bybit: `expires` in epoch ms; OKX: epoch seconds.
    pub timestamp: &'a str,
    /// Binance: the WebSocket API method (default `userDataStream.subscribe.signature`).
    /// Bybit and OKX: the HTTP method their login signs, which is fixed (`GET`); empty is fine.
    pub method: &'a str,
    /// Bybit and OKX: the path their login signs, which is fixed; empty is fine. Unused by Binance.
    pub path: &'a str,
    /// Binance: further request parameters as `name=value&…` (raw, not percent-encoded).
    pub params: &'a str,
    /// The request id put in the payload (Binance `id`, Bybit `req_id`); empty: none/`"1"`.
    pub id: &'a str,
}

/// A signed WebSocket login / request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedWs {
    /// Exactly what the MAC was computed over.
    pub string_to_sign: String,
    /// The signature as sent.
    pub signature: String,
    /// The JSON text frame to send.
    pub payload: WireText,
}

/// One venue's signing scheme, keyed with one account's credentials.
pub trait RequestSigner: fmt::Debug + Send + Sync {
    /// The venue whose scheme this is.
    fn venue(&self) -> Venue;
    /// Signs a REST request.
    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError>;
    /// Signs the WebSocket login (or, for Binance, a WebSocket API request).
    fn sign_ws(&self, req: &WsRequest<'_>) -> Result<SignedWs, SignError>;
}

/// The signer of `venue` keyed with `creds`. Binance spot and USD-M share one scheme.
pub fn signer_for(venue: Venue, creds: Credentials) -> Result<Box<dyn RequestSigner>, SignError> {
    if creds.secret.is_empty() {
        return Err(SignError::EmptySecret { venue });
    }
    Ok(match venue {
        Venue::Binance | Venue::BinanceUsdm => Box::new(binance::BinanceSigner::new(venue, creds)),
        Venue::Bybit => Box::new(bybit::BybitSigner::new(creds)),
        Venue::Okx => Box::new(okx::OkxSigner::new(creds)?),
        Venue::Kucoin => Box::new(kucoin::KucoinSigner::new(creds)?),
        Venue::Kraken => Box::new(kraken::KrakenSigner::new(creds)?),
        Venue::Firi => Box::new(firi::FiriSigner::new(creds)),
        Venue::Sim => return Err(SignError::Unsupported(venue)),
    })
}

/// `method` upper-cased, if it is one the venues sign.
pub(crate) fn http_method(method: &str) -> Result<&'static str, SignError> {
    ["GET", "POST", "PUT", "DELETE"]
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .ok_or_else(|| SignError::BadMethod(method.to_string()))
}

/// Checks a request path: from the host on, starting with `/`, no query, no whitespace.
pub(crate) fn request_path(path: &str) -> Result<&str, SignError> {
    let bad = |reason| Err(SignError::BadPath { path: path.to_string(), reason });
    if !path.starts_with('/') {
        return bad("expected a path from the host on, starting with '/' (e.g. /api/v3/order)");
    }
    if path.contains('?') {
        return bad("the query goes separately, without '?'");
    }
    if path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return bad("a path has no whitespace or control characters");
    }
    Ok(path)
}

/// Checks an integer timestamp (epoch ms, seconds, a nonce): 1 to 20 ASCII digits.
pub(crate) fn digits<'a>(venue: Venue, value: &'a str, expected: &'static str) -> Result<&'a str, SignError> {
    if (1..=20).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value)
    } else {
        Err(SignError::BadTimestamp { venue, value: value.to_string(), expected })
    }
}

/// `timestamp + METHOD + path (+ "?" + query) + body`: what OKX and KuCoin sign.
pub fn prehash_parts<'a>(
    timestamp: &'a str,
    method: &'a str,
    path: &'a str,
    query: &'a str,
    body: &'a str,
) -> mac::Parts<'a> {
    let mut parts = mac::Parts::new();
    parts.push_str(timestamp).push_str(method).push_str(path);
    if !query.is_empty() {
        parts.push_str("?").push_str(query);
    }
    *parts.push_str(body)
}

impl SignedRest {
    /// A request sent with its query and body as given, signed over the text `parts`.
    pub(crate) fn as_given(
        req: &RestRequest<'_>,
        parts: &mac::Parts<'_>,
        signature: String,
        headers: Vec<(&'static str, WireText)>,
    ) -> Self {
        Self {
            string_to_sign: StringToSign::Text(parts.to_text()),
            signature,
            headers,
            query: req.query.to_string(),
            body: req.body.to_string(),
        }
    }
}

/// Checks a WebSocket login's method and path, which the venue fixes (`GET` and `path`); empty
/// means "the fixed one".
pub(crate) fn ws_fixed(venue: Venue, req: &WsRequest<'_>, path: &'static str) -> Result<(), SignError> {
    if !req.method.is_empty() && !req.method.eq_ignore_ascii_case("GET") {
        return Err(SignError::WsFixed { venue, expected: "GET", got: req.method.to_string() });
    }
    if !req.path.is_empty() && req.path != path {
        return Err(SignError::WsFixed { venue, expected: path, got: req.path.to_string() });
    }
    Ok(())
}

/// `text` as a JSON string literal (quoted and escaped).
pub(crate) fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The key, or [`KEY_NOT_GIVEN`].
pub(crate) fn key_or_placeholder(creds: &Credentials) -> &str {
    creds.key.as_deref().unwrap_or(KEY_NOT_GIVEN)
}

/// A request's header list entry with no secret in it.
pub(crate) fn header(name: &'static str, value: impl Into<String>) -> (&'static str, WireText) {
    (name, WireText::plain(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trading_venue_has_a_signer_and_none_prints_its_secret() {
        for venue in Venue::ALL {
            let creds = Credentials {
                key: Some("the-key".into()),
                secret: Secret::new("c2VjcmV0LXZlcnktc2VjcmV0"), // base64, so Kraken accepts it
                passphrase: Some(Secret::new("pass-very-secret")),
            };
            match signer_for(venue, creds) {
                Ok(s) => {
                    assert_eq!(s.venue(), venue);
                    let shown = format!("{s:?}");
                    assert!(!shown.contains("c2VjcmV0") && !shown.contains("very-secret"), "{venue}: {shown}");
                }
                Err(e) => assert_eq!((venue, e), (Venue::Sim, SignError::Unsupported(Venue::Sim))),
            }
        }
    }

    #[test]
    fn an_empty_secret_or_a_missing_passphrase_is_an_error() {
        let none = Credentials { key: Some("k".into()), secret: Secret::new(""), passphrase: None };
        assert_eq!(signer_for(Venue::Bybit, none).unwrap_err(), SignError::EmptySecret { venue: Venue::Bybit });
        for venue in [Venue::Okx, Venue::Kucoin] {
            let creds = Credentials { key: None, secret: Secret::new("s"), passphrase: None };
            assert_eq!(signer_for(venue, creds).unwrap_err(), SignError::MissingPassphrase { venue });
        }
    }

    #[test]
    fn methods_and_paths_are_checked() {
        assert_eq!(http_method("post"), Ok("POST"));
        assert!(matches!(http_method("FETCH"), Err(SignError::BadMethod(m)) if m == "FETCH"));
        assert_eq!(request_path("/api/v3/order"), Ok("/api/v3/order"));
        for bad in ["api/v3/order", "/a?b=1", "/a b", ""] {
            assert!(matches!(request_path(bad), Err(SignError::BadPath { .. })), "{bad}");
        }
        assert!(digits(Venue::Bybit, "1658384314791", "ms").is_ok());
        for bad in ["", "12a", "-1", "1.5", "123456789012345678901"] {
            assert!(digits(Venue::Bybit, bad, "ms").is_err(), "{bad}");
        }
    }
}
