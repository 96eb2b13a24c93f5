//! Firi signing. What is known, and from where:
//!
//! - \[DOC\] developers.firi.com ("Firi Trading API 1.0.0", stored excerpt): the HMAC scheme sends
//!   `miraiex-user-signature`, "generated for every request based on the current time in
//!   epoch"; "Timestamp and validity has to be strings"; errors `Expired Signature`,
//!   `Invalid Signature`. Its Kotlin snippet was not captured.
//! - \[RECALL, four independent third-party clients agree\] `miraiex-user-signature =
//!   hex(HMAC-SHA256(secret, compact JSON {"timestamp":"<epoch s>","validity":"<ms>",…body
//!   members}))`, header `miraiex-user-clientid: <client id>` (the key here), and `timestamp` and
//!   `validity` repeated as query parameters. One such client's test vector reproduces
//!   (`testdata/firi/sign_third_party.txt`).
//! - Unknown: the order of the body's members inside the signed object (clients put
//!   `timestamp`, `validity` first and then the body's members as written — done here), the
//!   unit of `validity` (the clients say ms; default [`DEFAULT_VALIDITY`]), and whether newer
//!   `firi-*` header names are required (one client uses them; the official page says
//!   `miraiex-*`).
//!
//! The body's members are spliced in as written, so the body must be a compact JSON object
//! (`JSON.stringify` output); a body that is not an object is [`SignError::BodyNotJsonObject`].
//! No WebSocket API is documented.

use super::mac::{HmacSha256, Parts};
use super::{
    Credentials, RequestSigner, RestRequest, SignError, SignedRest, SignedWs, StringToSign, WsRequest, digits, header,
    http_method, key_or_placeholder, request_path,
};
use qt_core::Venue;

/// How long a signature stays valid, as sent in `validity` (ms, per the clients).
pub const DEFAULT_VALIDITY: &str = "2000";

/// Firi's [`RequestSigner`].
#[derive(Debug)]
pub struct FiriSigner {
    creds: Credentials,
    mac: HmacSha256,
    validity: String,
}

impl FiriSigner {
    /// Keys the signer; `validity` [`DEFAULT_VALIDITY`].
    pub fn new(creds: Credentials) -> Self {
        let mac = HmacSha256::new(creds.secret.expose().as_bytes());
        Self { creds, mac, validity: DEFAULT_VALIDITY.to_string() }
    }

    /// The `validity` sent and signed.
    pub fn with_validity(mut self, validity_ms: u64) -> Self {
        self.validity = validity_ms.to_string();
        self
    }

    /// The signed object: `{"timestamp":"T","validity":"V"` + (`,` + the body's members) + `}`.
    pub fn parts<'a>(&'a self, timestamp: &'a str, members: &'a str) -> Parts<'a> {
        let mut parts = Parts::new();
        parts.push_str("{\"timestamp\":\"").push_str(timestamp).push_str("\",\"validity\":\"").push_str(&self.validity);
        parts.push_str("\"");
        if !members.is_empty() {
            parts.push_str(",").push_str(members);
        }
        *parts.push_str("}")
    }

    /// Appends the lower-case hex signature of `parts` to `out`; allocation-free with capacity.
    pub fn signature_into(&self, parts: &Parts<'_>, out: &mut String) {
        self.mac.hex_into(parts, out);
    }
}

/// The members of a JSON object body (`{` and `}` stripped, trimmed); `""` for no body or `{}`.
pub fn body_members(body: &str) -> Result<&str, SignError> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Ok("");
    }
    trimmed
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .map(str::trim)
        .ok_or_else(|| SignError::BodyNotJsonObject { venue: Venue::Firi, body: body.to_string() })
}

impl RequestSigner for FiriSigner {
    fn venue(&self) -> Venue {
        Venue::Firi
    }

    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError> {
        let method = http_method(req.method)?;
        request_path(req.path)?;
        let timestamp = digits(Venue::Firi, req.timestamp, "epoch seconds (GET /time), e.g. 1700000000")?;
        let parts = self.parts(timestamp, body_members(req.body)?);
        let mut signature = String::with_capacity(64);
        self.signature_into(&parts, &mut signature);
        let mut query = req.query.to_string();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("timestamp=");
        query.push_str(timestamp);
        query.push_str("&validity=");
        query.push_str(&self.validity);
        let mut headers = vec![
            header("miraiex-user-clientid", key_or_placeholder(&self.creds)),
            header("miraiex-user-signature", signature.clone()),
        ];
        if method != "GET" && !req.body.is_empty() {
            headers.push(header("Content-Type", "application/json"));
        }
        Ok(SignedRest {
            string_to_sign: StringToSign::Text(parts.to_text()),
            signature,
            headers,
            query,
            body: req.body.to_string(),
        })
    }

    fn sign_ws(&self, _req: &WsRequest<'_>) -> Result<SignedWs, SignError> {
        Err(SignError::NoWsLogin {
            venue: Venue::Firi,
            instead: "Firi documents no WebSocket API; private data is polled over REST",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::test_vectors::{every_changed_byte_changes_the_signature, payload_signature_pairs, value};
    use crate::sign::{Secret, signer_for};

    const OURS: &str = include_str!("../../../testdata/firi/sign_vectors.txt");
    const THIRD_PARTY: &str = include_str!("../../../testdata/firi/sign_third_party.txt");
    /// The invented secret `sign_vectors.txt` names in its header.
    const OUR_SECRET: &str = "firi-example-secret";

    fn signer(secret: &str) -> Box<dyn RequestSigner> {
        signer_for(
            Venue::Firi,
            Credentials { key: Some("client-7".into()), secret: Secret::new(secret), passphrase: None },
        )
        .unwrap()
    }

    #[test]
    fn reproduces_the_third_party_vector() {
        let v = payload_signature_pairs(THIRD_PARTY);
        assert_eq!(v.len(), 1);
        let req = RestRequest {
            timestamp: &value(THIRD_PARTY, "timestamp"),
            method: "GET",
            path: "/v2/balances",
            ..Default::default()
        };
        let signed = signer(&value(THIRD_PARTY, "secret")).sign_rest(&req).unwrap();
        assert_eq!(signed.string_to_sign, StringToSign::Text(v[0].payload.clone()));
        assert_eq!(signed.signature, v[0].signature);
        assert_eq!(signed.query, "timestamp=1632954488&validity=2000");
    }

    #[test]
    fn reproduces_our_vectors() {
        assert!(OURS.contains(&format!("(\"{OUR_SECRET}\")")));
        let v = payload_signature_pairs(OURS);
        assert_eq!(v.len(), 2, "{v:?}");
        let s = signer(OUR_SECRET);
        let get = RestRequest { timestamp: "1700000000", method: "GET", path: "/v2/balances", query: "", body: "" };
        let post = RestRequest {
            method: "POST",
            path: "/v2/orders",
            body: r#"{"market":"BTCNOK","type":"bid","price":"500000","amount":"0.001"}"#,
            ..get
        };
        for (req, v) in [get, post].iter().zip(&v) {
            let signed = s.sign_rest(req).unwrap();
            assert_eq!(signed.string_to_sign, StringToSign::Text(v.payload.clone()), "{}", v.section);
            assert_eq!(signed.signature, v.signature, "{}", v.section);
            assert_eq!(signed.headers[0], header("miraiex-user-clientid", "client-7"));
            assert_eq!(signed.headers[1], header("miraiex-user-signature", v.signature.clone()));
        }
        let with_query = s.sign_rest(&RestRequest { query: "direction=end&count=10", ..get }).unwrap();
        assert_eq!(with_query.query, "direction=end&count=10&timestamp=1700000000&validity=2000");
        assert_eq!(with_query.signature, v[0].signature, "query parameters are not signed");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let s = signer(OUR_SECRET);
        let req = RestRequest { timestamp: "1700000000", method: "POST", path: "/v2/orders", query: "", body: "[1,2]" };
        assert!(matches!(s.sign_rest(&req), Err(SignError::BodyNotJsonObject { .. })));
        assert_eq!(body_members(" { } "), Ok(""));
        let req = RestRequest { timestamp: "1700000000000.5", body: "", ..req };
        assert!(matches!(s.sign_rest(&req), Err(SignError::BadTimestamp { .. })));
        assert!(matches!(s.sign_ws(&WsRequest::default()), Err(SignError::NoWsLogin { .. })));
    }

    #[test]
    fn a_changed_byte_changes_the_signature() {
        let s = FiriSigner::new(Credentials { key: None, secret: Secret::new(OUR_SECRET), passphrase: None });
        every_changed_byte_changes_the_signature(|body| {
            let mut out = String::new();
            s.signature_into(&s.parts("1", body), &mut out);
            out
        });
    }
}
