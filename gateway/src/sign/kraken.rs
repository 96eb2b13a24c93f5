//! Kraken spot REST signing (docs.kraken.com "Spot REST authentication"; the worked example is
//! `testdata/kraken/sign_example.txt`, VERIFIED).
//!
//! `API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + postdata)))`:
//! the path (`/0/private/AddOrder`) followed by the 32 raw bytes of the SHA-256 of the nonce
//! and the POST body, the body carrying the same nonce (`nonce=…&…`, or `"nonce"` in a JSON
//! body). Headers `API-Key`, `API-Sign`. The nonce must always increase (u64); here it is the
//! request's `timestamp`.
//!
//! The secret is base64 text; one that does not decode is [`SignError::SecretNotBase64`] when
//! the signer is built. There is no WebSocket login: private WebSocket requests carry a token
//! from the signed REST `POST /0/private/GetWebSocketsToken`.

use super::mac::{HmacSha512, Parts, push_hex, sha256};
use super::{
    Credentials, RequestSigner, RestRequest, SignError, SignedRest, SignedWs, StringToSign, WsRequest, digits, header,
    key_or_placeholder, request_path,
};
use base64::Engine;
use qt_core::Venue;

/// Kraken's [`RequestSigner`].
#[derive(Debug)]
pub struct KrakenSigner {
    creds: Credentials,
    mac: HmacSha512,
}

impl KrakenSigner {
    /// Keys the signer with the base64-decoded secret.
    pub fn new(creds: Credentials) -> Result<Self, SignError> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(creds.secret.expose().trim())
            .map_err(|_| SignError::SecretNotBase64)?;
        Ok(Self { mac: HmacSha512::new(&key), creds })
    }

    /// Appends `API-Sign` for `path`, `nonce` and the POST body to `out`; allocation-free with
    /// capacity.
    pub fn signature_into(&self, path: &str, nonce: &str, postdata: &str, out: &mut String) {
        let digest = sha256(Parts::new().push_str(nonce).push_str(postdata));
        self.mac.base64_into(Parts::new().push_str(path).push(&digest), out);
    }
}

impl RequestSigner for KrakenSigner {
    fn venue(&self) -> Venue {
        Venue::Kraken
    }

    /// Any method is signed alike (the method is not part of the signature); Kraken's private
    /// endpoints are all POST.
    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError> {
        let venue = Venue::Kraken;
        super::http_method(req.method)?;
        let path = request_path(req.path)?;
        let nonce = digits(venue, req.timestamp, "the nonce: an always-increasing integer, e.g. 1616492376594")?;
        if !req.query.is_empty() {
            return Err(SignError::NotSigned {
                venue,
                part: "query",
                hint: "private requests carry their parameters in the POST body, which is signed; the query is not",
            });
        }
        let body = if req.body.is_empty() { format!("nonce={nonce}") } else { req.body.to_string() };
        let json = body.trim_start().starts_with('{');
        if !body_carries_nonce(&body, json, nonce) {
            return Err(SignError::NonceNotInBody { nonce: nonce.to_string() });
        }
        let mut signature = String::with_capacity(88);
        self.signature_into(path, nonce, &body, &mut signature);
        let mut digest_hex = String::with_capacity(64);
        push_hex(&mut digest_hex, &sha256(Parts::new().push_str(nonce).push_str(&body)));
        let content_type = if json { "application/json" } else { "application/x-www-form-urlencoded" };
        Ok(SignedRest {
            string_to_sign: StringToSign::PathAndDigest {
                path: path.to_string(),
                hashed: format!("{nonce}{body}"),
                digest_hex,
            },
            headers: vec![
                header("API-Key", key_or_placeholder(&self.creds)),
                header("API-Sign", signature.clone()),
                header("Content-Type", content_type),
            ],
            signature,
            query: String::new(),
            body,
        })
    }

    fn sign_ws(&self, _req: &WsRequest<'_>) -> Result<SignedWs, SignError> {
        Err(SignError::NoWsLogin {
            venue: Venue::Kraken,
            instead: "private WebSocket requests carry a token from the signed REST POST /0/private/GetWebSocketsToken; \
                      sign that request",
        })
    }
}

/// Whether the body's `nonce` is `nonce` (a form field, or a JSON string or number).
fn body_carries_nonce(body: &str, json: bool, nonce: &str) -> bool {
    if json {
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(v) => match v.get("nonce") {
                Some(serde_json::Value::String(s)) => s == nonce,
                Some(serde_json::Value::Number(n)) => n.to_string() == nonce,
                _ => false,
            },
            Err(_) => false,
        }
    } else {
        body.split('&').any(|p| p.strip_prefix("nonce=") == Some(nonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::test_vectors::{every_changed_byte_changes_the_signature, value};
    use crate::sign::{Secret, signer_for};

    const DOC: &str = include_str!("../../../testdata/kraken/sign_example.txt");

    fn signer() -> Box<dyn RequestSigner> {
        let creds = Credentials {
            key: Some("kr-key".into()),
            secret: Secret::new(value(DOC, "private_key")),
            passphrase: None,
        };
        signer_for(Venue::Kraken, creds).unwrap()
    }

    #[test]
    fn reproduces_the_documented_add_order() {
        let body = value(DOC, "post_data");
        let req = RestRequest {
            timestamp: &value(DOC, "nonce"),
            method: "POST",
            path: &value(DOC, "uri_path"),
            query: "",
            body: &body,
        };
        let signed = signer().sign_rest(&req).unwrap();
        assert_eq!(signed.signature, value(DOC, "api_sign"));
        assert_eq!(
            signed.signature,
            "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
        );
        let StringToSign::PathAndDigest { path, hashed, digest_hex } = &signed.string_to_sign else { panic!() };
        assert_eq!(
            (path.as_str(), hashed.as_str()),
            ("/0/private/AddOrder", format!("{}{body}", req.timestamp).as_str())
        );
        assert_eq!(digest_hex.len(), 64);
        assert_eq!(signed.body, body);
        assert_eq!(signed.headers[0], header("API-Key", "kr-key"));
        assert_eq!(signed.headers[1], header("API-Sign", signed.signature.clone()));
    }

    #[test]
    fn the_nonce_must_be_in_the_body() {
        let s = signer();
        let req = RestRequest { timestamp: "7", method: "POST", path: "/0/private/Balance", query: "", body: "" };
        assert_eq!(s.sign_rest(&req).unwrap().body, "nonce=7", "an empty body becomes the nonce");
        for bad in ["pair=XBTUSD", "nonce=8", r#"{"nonce":"8"}"#, "{not json"] {
            let r = RestRequest { body: bad, ..req };
            assert_eq!(s.sign_rest(&r).unwrap_err(), SignError::NonceNotInBody { nonce: "7".into() }, "{bad}");
        }
        for good in [r#"{"nonce":"7","pair":"XBTUSD"}"#, r#"{"nonce":7}"#, "pair=XBTUSD&nonce=7"] {
            assert!(s.sign_rest(&RestRequest { body: good, ..req }).is_ok(), "{good}");
        }
        let r = RestRequest { query: "pair=XBTUSD", ..req };
        assert!(matches!(s.sign_rest(&r), Err(SignError::NotSigned { part: "query", .. })));
        assert!(matches!(s.sign_ws(&WsRequest::default()), Err(SignError::NoWsLogin { .. })));
    }

    #[test]
    fn a_secret_that_is_not_base64_is_an_error_that_does_not_quote_it() {
        let creds = Credentials { key: None, secret: Secret::new("not*base64!secret"), passphrase: None };
        let err = signer_for(Venue::Kraken, creds).unwrap_err();
        assert_eq!(err, SignError::SecretNotBase64);
        assert!(!err.to_string().contains("secret!") && !err.to_string().contains('*'), "{err}");
    }

    #[test]
    fn a_changed_byte_changes_the_signature() {
        let creds = Credentials { key: None, secret: Secret::new(value(DOC, "private_key")), passphrase: None };
        let s = KrakenSigner::new(creds).unwrap();
        every_changed_byte_changes_the_signature(|body| {
            let mut out = String::new();
            s.signature_into("/0/private/AddOrder", "1", body, &mut out);
            out
        });
    }
}
