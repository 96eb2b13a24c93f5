//! Bybit's REST plumbing shared by the gateway thread and the cold helpers: a signed request
//! (`X-BAPI-*` headers from [`crate::sign::bybit`]; a GET signs its query string, a POST its
//! JSON body) and the `{"retCode","retMsg","result","time"}` envelope every answer carries.
//!
//! Allocates per request (the body, the headers).

use crate::kit::http::{HttpsClient, Response, TransportError};
use crate::sign::bybit::BybitSigner;
use crate::sign::{Credentials, RequestSigner, Secret};
use serde::Deserialize;
use serde_json::Value;

/// One account's key and signer.
#[derive(Debug)]
pub(crate) struct BybitKey {
    signer: BybitSigner,
}

impl BybitKey {
    /// The signer, as the kit sends with it.
    pub(crate) fn signer(&self) -> &dyn RequestSigner {
        &self.signer
    }

    /// A signer of `key` / `secret` sending `recv_window_ms`.
    pub(crate) fn new(key: &str, secret: &str, recv_window_ms: u64) -> Self {
        let creds = Credentials { key: Some(key.to_string()), secret: Secret::new(secret), passphrase: None };
        Self { signer: BybitSigner::new(creds).with_recv_window(recv_window_ms) }
    }

    /// The private stream's `auth` payload for `expires` (venue ms in the future).
    pub(crate) fn ws_auth(&self, expires_ms: i64) -> Result<String, String> {
        let ts = expires_ms.to_string();
        let req = crate::sign::WsRequest { timestamp: &ts, method: "GET", path: "/realtime", params: "", id: "" };
        self.signer.sign_ws(&req).map(|s| s.payload.expose().to_string()).map_err(|e| e.to_string())
    }
}

/// Sends `method` `path` signed with `key` at venue time `venue_ms`
/// ([`crate::kit::rest_link::send_signed`]).
pub(crate) fn send_signed(
    http: &mut HttpsClient,
    key: &BybitKey,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    venue_ms: i64,
) -> Result<Response, TransportError> {
    crate::kit::rest_link::send_signed(http, key.signer(), method, path, query, body, venue_ms)
}

/// Bybit's answer envelope (the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    /// 0 for success.
    #[serde(rename = "retCode")]
    pub(crate) code: i64,
    /// The message.
    #[serde(rename = "retMsg", default)]
    pub(crate) msg: String,
    /// The payload (`{}` on an error).
    #[serde(default)]
    pub(crate) result: Value,
    /// The venue's time of the answer, ms.
    #[serde(default)]
    pub(crate) time: Option<i64>,
}

/// The envelope of an answer, or `None` when the body is not Bybit's shape.
pub(crate) fn envelope(resp: &Response) -> Option<Envelope> {
    serde_json::from_slice::<Envelope>(&resp.body).ok()
}

/// `(retCode, retMsg)` of an answer; `(0, body excerpt)` when it is not Bybit's shape.
pub(crate) fn api_error(resp: &Response) -> (i64, String) {
    match envelope(resp) {
        Some(e) => (e.code, e.msg),
        None => (0, resp.body_excerpt()),
    }
}

/// Whether an answer is Bybit refusing the request's timestamp (10002).
pub(crate) fn is_timestamp_reject(resp: &Response) -> bool {
    api_error(resp).0 == crate::bybit::errors::CODE_TIMESTAMP
}

/// A Bybit order id as our `u64`: spot ids are decimal; linear ids are UUIDs, folded to a
/// non-zero 64-bit FNV-1a hash of their text (stable, so the same order always has the same
/// number; only ever compared, never sent back — cancels and queries use `orderLinkId`).
pub(crate) fn venue_order_id(text: &str) -> u64 {
    if let Ok(n) = text.parse::<u64>() {
        return n;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

impl crate::kit::shell::AccountKey for BybitKey {
    fn signer(&self) -> &dyn RequestSigner {
        BybitKey::signer(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_numbers_or_stable_hashes() {
        assert_eq!(venue_order_id("1880000000000000001"), 1_880_000_000_000_000_001);
        let uuid = "9aac161b-8ed6-450d-9cab-c5cc67c21784";
        assert_eq!(venue_order_id(uuid), venue_order_id(uuid));
        assert_ne!(venue_order_id(uuid), venue_order_id("0ab1bdf7-4219-438b-b30a-32ec863018f7"));
        assert_ne!(venue_order_id(uuid), 0);
    }
}
