//! KuCoin's REST plumbing: a signed request (`KC-API-*` headers from [`crate::sign::kucoin`];
//! the signature covers `timestamp + METHOD + path(?query) + body`) and the envelope every
//! answer carries: `{"code":"200000","data":..}` on success, `{"code":"<6 digits>","msg"}` on
//! a refusal (HTTP 200 or 4xx, NOTES-orders §4).
//!
//! Allocates per request (the body, the headers).

use crate::kit::http::Response;
use crate::sign::kucoin::KucoinSigner;
use crate::sign::{Credentials, RequestSigner, Secret};
use serde::Deserialize;
use serde_json::Value;

/// The success code.
pub(crate) const CODE_OK: &str = "200000";

/// One account's key, secret and passphrase, as a signer.
#[derive(Debug)]
pub(crate) struct KucoinKey {
    signer: KucoinSigner,
}

impl KucoinKey {
    /// A signer of `key` / `secret` / `passphrase`; an empty passphrase is refused.
    pub(crate) fn new(key: &str, secret: &str, passphrase: &str) -> Result<Self, String> {
        let creds = Credentials {
            key: Some(key.to_string()),
            secret: Secret::new(secret),
            passphrase: (!passphrase.is_empty()).then(|| Secret::new(passphrase)),
        };
        KucoinSigner::new(creds).map(|signer| Self { signer }).map_err(|e| e.to_string())
    }

    /// The signer, as the kit sends with it.
    pub(crate) fn signer(&self) -> &dyn RequestSigner {
        &self.signer
    }
}

impl crate::kit::shell::AccountKey for KucoinKey {
    fn signer(&self) -> &dyn RequestSigner {
        &self.signer
    }
}

/// KuCoin's answer envelope (the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    /// "200000" for success, else the error code.
    pub(crate) code: String,
    /// The refusal's message.
    #[serde(default)]
    pub(crate) msg: String,
    /// The payload.
    #[serde(default)]
    pub(crate) data: Value,
}

impl Envelope {
    /// Whether the request succeeded.
    pub(crate) fn is_ok(&self) -> bool {
        self.code == CODE_OK
    }

    /// The numeric `code` (0 when unreadable as a number).
    pub(crate) fn code_num(&self) -> i64 {
        self.code.parse().unwrap_or(0)
    }
}

/// The envelope of an answer, or `None` when the body is not KuCoin's shape.
pub(crate) fn envelope(resp: &Response) -> Option<Envelope> {
    serde_json::from_slice::<Envelope>(&resp.body).ok()
}

/// A KuCoin order id (24 hex digits) as our `u64` when it fits (the simulator's ids do; a real
/// venue's 96-bit id does not, and gives 0: the gateway then names orders by `clientOid`).
pub(crate) fn venue_order_id(text: &str) -> u64 {
    if text.is_empty() || text.len() > 24 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return 0;
    }
    u64::from_str_radix(text, 16).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_ack_and_a_refusal_read() {
        let doc = include_str!("../../../testdata/kucoin/orders/rest_hf_add_order_response.json");
        let e: Envelope = serde_json::from_str(doc).unwrap();
        assert!(e.is_ok());
        assert_eq!(e.data["clientOid"], "5c52e11203aa677f33e493fb");
        // The real id is wider than 64 bits: 0, named by clientOid instead.
        assert_eq!(venue_order_id(e.data["orderId"].as_str().unwrap()), 0);
        assert_eq!(venue_order_id("000000000000000000000042"), 0x42);
        let e: Envelope = serde_json::from_str(r#"{"code":"200004","msg":"Balance insufficient"}"#).unwrap();
        assert_eq!((e.is_ok(), e.code_num(), e.msg.as_str()), (false, 200_004, "Balance insufficient"));
    }
}
