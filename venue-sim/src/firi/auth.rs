//! Firi's private REST requests as the simulator reads them: the HMAC check of
//! `miraiex-user-clientid` / `miraiex-user-signature` with `timestamp` and `validity` in the
//! query, or the static `miraiex-access-key`.
//!
//! Facts (`venues/NOTES.md` §6, `NOTES-orders.md` §6, `testdata/firi/README.md`):
//! - \[DOC, developers.firi.com excerpt\] two schemes: header `miraiex-access-key: <key>`, or the
//!   HMAC header `miraiex-user-signature` "generated for every request based on the current time
//!   in epoch"; "Timestamp and validity has to be strings"; refusals `ApiKeyNotFound`,
//!   `Expired Signature` (timestamp in the past or validity too short), `Invalid Signature`.
//! - \[RECALL, four third-party clients agree\] the signature is lower-case
//!   `hex(HMAC-SHA256(secret, compact JSON {"timestamp":"<epoch s>","validity":"<ms>",…body
//!   members}))`, the body's members spliced in as sent, `timestamp` and `validity` repeated as
//!   query parameters, the key in `miraiex-user-clientid`.
//! - Ours (undocumented): a request is valid from 1 s before its timestamp (the timestamp is whole
//!   seconds) until `validity` ms after it, on the venue's clock, else `Expired Signature`; a
//!   missing or non-digit `timestamp`/`validity` is `Invalid Signature`. The refusals' body is
//!   `{"name","message"}` like the public 404 ([`super::errors`]).
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use super::errors::FiriError;
use crate::protocol::{Ctx, HttpRequest};
use crate::signing::verify_hex;
use qt_core::AccountId;

/// How far before its timestamp a signature is already valid, ms (the timestamp is seconds).
pub(super) const EARLY_MS: i64 = 1_000;

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn digits(text: Option<&str>) -> Option<(&str, i64)> {
    let t = text.filter(|t| !t.is_empty() && t.len() <= 15 && t.bytes().all(|b| b.is_ascii_digit()))?;
    Some((t, t.parse().ok()?))
}

/// The members of a JSON object body (`{`/`}` stripped, trimmed): `""` for no body or `{}`;
/// `None` when the body is not an object.
fn members(body: &[u8]) -> Option<&[u8]> {
    let b = body.trim_ascii();
    if b.is_empty() {
        return Some(b);
    }
    Some(b.strip_prefix(b"{")?.strip_suffix(b"}")?.trim_ascii())
}

/// The signed text: `{"timestamp":"T","validity":"V"` + (`,` + members) + `}`.
pub fn signed_payload(timestamp: &str, validity: &str, body: &[u8]) -> Option<Vec<u8>> {
    let m = members(body)?;
    let mut out = Vec::with_capacity(48 + m.len());
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(timestamp.as_bytes());
    out.extend_from_slice(b"\",\"validity\":\"");
    out.extend_from_slice(validity.as_bytes());
    out.push(b'"');
    if !m.is_empty() {
        out.push(b',');
        out.extend_from_slice(m);
    }
    out.push(b'}');
    Some(out)
}

/// The account a private request is from: the static key, else key, window and signature.
pub(super) fn authenticate(ctx: &Ctx, req: &HttpRequest) -> Result<AccountId, FiriError> {
    let market = &ctx.market;
    if let Some(key) = req.header("miraiex-access-key") {
        return market.account_by_key(key).map(|(a, _)| a).ok_or(FiriError::ApiKeyNotFound);
    }
    let key = req.header("miraiex-user-clientid").unwrap_or("");
    let (account, secret) = market.account_by_key(key).ok_or(FiriError::ApiKeyNotFound)?;
    let (Some((ts_text, ts)), Some((validity_text, validity))) =
        (digits(query_value(&req.query, "timestamp")), digits(query_value(&req.query, "validity")))
    else {
        return Err(FiriError::InvalidSignature);
    };
    let now = market.now_ms();
    let start = ts.saturating_mul(1000);
    if now < start - EARLY_MS || now > start.saturating_add(validity) {
        return Err(FiriError::ExpiredSignature);
    }
    let payload = signed_payload(ts_text, validity_text, &req.body).ok_or(FiriError::InvalidSignature)?;
    if !verify_hex(&secret, &payload, req.header("miraiex-user-signature").unwrap_or("")) {
        return Err(FiriError::InvalidSignature);
    }
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::hmac_sha256_hex;

    /// `testdata/firi/sign_vectors.txt` (self-computed, secret `firi-example-secret`).
    #[test]
    fn reproduces_the_self_computed_vectors() {
        let secret = "firi-example-secret";
        let p = signed_payload("1700000000", "2000", b"").unwrap();
        assert_eq!(p, br#"{"timestamp":"1700000000","validity":"2000"}"#);
        let want = "c9ff304051c2aed5751724967b5f1dc04abf6b43183622bd04e60459e3ec79eb";
        assert_eq!(hmac_sha256_hex(secret, &p), want);
        let body = br#"{"market":"BTCNOK","type":"bid","price":"500000","amount":"0.001"}"#;
        let p = signed_payload("1700000000", "2000", body).unwrap();
        let want = "276000e299fd0c7351beff8d32007b4558b50d37095fbe7fa813a3cbfd68a25a";
        assert_eq!(hmac_sha256_hex(secret, &p), want);
        assert_eq!(signed_payload("1", "2", b" { } ").unwrap(), br#"{"timestamp":"1","validity":"2"}"#);
        assert!(signed_payload("1", "2", b"[1]").is_none());
    }

    #[test]
    fn digits_are_required() {
        assert_eq!(digits(Some("1700000000")), Some(("1700000000", 1_700_000_000)));
        for bad in [None, Some(""), Some("-1"), Some("1.5"), Some("1234567890123456")] {
            assert_eq!(digits(bad), None, "{bad:?}");
        }
        assert_eq!(query_value("a=1&timestamp=5&validity=7", "validity"), Some("7"));
    }
}
