//! Bybit v5 signing (`docs/v5/guide.mdx` "Authentication", `docs/v5/websocket/wss-authentication.mdx`).
//!
//! - REST: `X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp + apiKey + recvWindow + payload))`,
//!   the payload being the query string of a GET or the raw JSON body of a POST, exactly as
//!   sent. Headers `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP` (ms), `X-BAPI-SIGN`,
//!   `X-BAPI-RECV-WINDOW`; a POST adds `Content-Type: application/json`.
//! - Private WebSocket: `{"op":"auth","args":[apiKey, expires, hex(HMAC-SHA256(secret,
//!   "GET/realtime" + expires))]}`, `expires` in epoch ms and in the future.
//!
//! The documentation's worked example publishes its string to sign but not its secret
//! (`testdata/bybit/sign_example.txt`), so its signature cannot be reproduced; the tests check
//! the string to sign against it and the MAC against independently computed values.

use super::json_string;
use super::mac::{HmacSha256, Parts};
use super::{
    Credentials, RequestSigner, RestRequest, SignError, SignedRest, SignedWs, WireText, WsRequest, digits, header,
    http_method, key_or_placeholder, request_path, ws_fixed,
};
use qt_core::Venue;

/// The receive window the gateway sends unless configured (Bybit's documented default).
pub const DEFAULT_RECV_WINDOW: &str = "5000";

/// What the WebSocket login signs before `expires`.
pub const WS_AUTH_PREFIX: &str = "GET/realtime";

/// Bybit's [`RequestSigner`].
#[derive(Debug)]
pub struct BybitSigner {
    creds: Credentials,
    mac: HmacSha256,
    recv_window: String,
}

impl BybitSigner {
    /// Keys the signer with `creds`; `X-BAPI-RECV-WINDOW` [`DEFAULT_RECV_WINDOW`].
    pub fn new(creds: Credentials) -> Self {
        let mac = HmacSha256::new(creds.secret.expose().as_bytes());
        Self { creds, mac, recv_window: DEFAULT_RECV_WINDOW.to_string() }
    }

    /// The receive window sent and signed.
    pub fn with_recv_window(mut self, recv_window_ms: u64) -> Self {
        self.recv_window = recv_window_ms.to_string();
        self
    }

    /// The REST string to sign: `timestamp + key + recvWindow + payload`.
    pub fn rest_parts<'a>(&'a self, key: &'a str, timestamp: &'a str, payload: &'a str) -> Parts<'a> {
        *Parts::new().push_str(timestamp).push_str(key).push_str(&self.recv_window).push_str(payload)
    }

    /// Appends the REST signature (lower-case hex) to `out`; allocation-free with capacity.
    pub fn rest_signature_into(&self, key: &str, timestamp: &str, payload: &str, out: &mut String) {
        self.mac.hex_into(&self.rest_parts(key, timestamp, payload), out);
    }
}

impl RequestSigner for BybitSigner {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError> {
        let venue = Venue::Bybit;
        let method = http_method(req.method)?;
        request_path(req.path)?;
        let timestamp = digits(venue, req.timestamp, "epoch milliseconds, e.g. 1658384314791")?;
        let key = self.creds.key.as_deref().ok_or(SignError::MissingKey { venue, what: "string" })?;
        let payload = if method == "GET" {
            if !req.body.is_empty() {
                return Err(SignError::NotSigned {
                    venue,
                    part: "body",
                    hint: "a GET signs its query string; it has no body",
                });
            }
            req.query
        } else {
            if !req.query.is_empty() {
                return Err(SignError::NotSigned {
                    venue,
                    part: "query",
                    hint: "a POST signs its JSON body; its parameters go in the body, not the query",
                });
            }
            req.body
        };
        let parts = self.rest_parts(key, timestamp, payload);
        let mut signature = String::with_capacity(64);
        self.mac.hex_into(&parts, &mut signature);
        let mut headers = vec![
            header("X-BAPI-API-KEY", key),
            header("X-BAPI-TIMESTAMP", timestamp),
            header("X-BAPI-SIGN", signature.clone()),
            header("X-BAPI-RECV-WINDOW", self.recv_window.clone()),
        ];
        if method != "GET" {
            headers.push(header("Content-Type", "application/json"));
        }
        Ok(SignedRest::as_given(req, &parts, signature, headers))
    }

    fn sign_ws(&self, req: &WsRequest<'_>) -> Result<SignedWs, SignError> {
        let venue = Venue::Bybit;
        ws_fixed(venue, req, "/realtime")?;
        let expires = digits(venue, req.timestamp, "expires: epoch milliseconds in the future, e.g. 1662350400000")?;
        let parts = *Parts::new().push_str(WS_AUTH_PREFIX).push_str(expires);
        let mut signature = String::with_capacity(64);
        self.mac.hex_into(&parts, &mut signature);
        // Written in the documented field order (`req_id`, `op`, `args`); `expires` is a number.
        let req_id = if req.id.is_empty() { String::new() } else { format!("\"req_id\":{},", json_string(req.id)) };
        let key = json_string(key_or_placeholder(&self.creds));
        let payload = format!("{{{req_id}\"op\":\"auth\",\"args\":[{key},{expires},\"{signature}\"]}}");
        Ok(SignedWs { string_to_sign: parts.to_text(), signature, payload: WireText::plain(payload) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::StringToSign;
    use crate::sign::test_vectors::{every_changed_byte_changes_the_signature, value};
    use crate::sign::{Secret, signer_for};

    const DOC: &str = include_str!("../../../testdata/bybit/sign_example.txt");
    /// Our own secret: the documentation does not publish the one behind its example.
    const SECRET: &str = "bybit-test-secret";

    fn signer(key: Option<&str>) -> Box<dyn RequestSigner> {
        let creds = Credentials { key: key.map(String::from), secret: Secret::new(SECRET), passphrase: None };
        signer_for(Venue::Bybit, creds).unwrap()
    }

    /// Both documented strings to sign (GET query, POST body) come out exactly; the MACs are
    /// the ones python3's `hmac` gives for [`SECRET`] over those strings.
    #[test]
    fn reproduces_the_documented_strings_to_sign() {
        let sections: Vec<&str> = DOC.split("\n[").skip(1).collect();
        assert_eq!(sections.len(), 2);
        for (section, expected_sig) in sections.iter().zip([
            "603cf75a23e0bd0a5226adb8f4f42accf1a7b89145fc1c05d3ec5f6855b26c67",
            "0b6c1a0303aa265223e936cc8820dba57780ea6063a9e08473dcb575c5ca3a7c",
        ]) {
            let get = section.starts_with("get]");
            let (query, body) = if get {
                (value(section, "queryString"), String::new())
            } else {
                (String::new(), value_line(section, "jsonBodyString"))
            };
            let s = signer(Some(&value(section, "api_key")));
            let req = RestRequest {
                timestamp: &value(section, "timestamp"),
                method: if get { "GET" } else { "POST" },
                path: "/v5/order/realtime",
                query: &query,
                body: &body,
            };
            let signed = s.sign_rest(&req).unwrap();
            assert_eq!(signed.string_to_sign, StringToSign::Text(value_line(section, "string_to_sign")));
            assert_eq!(signed.signature, expected_sig);
            // The documentation's own value needs its unpublished secret.
            assert_ne!(signed.signature, value(section, "doc_signature"));
            let h = |name: &str| signed.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.expose().to_string());
            assert_eq!(h("X-BAPI-API-KEY").as_deref(), Some("XXXXXXXXXX"));
            assert_eq!(h("X-BAPI-TIMESTAMP"), Some(value(section, "timestamp")));
            assert_eq!(h("X-BAPI-RECV-WINDOW"), Some(value(section, "recv_window")));
            assert_eq!(h("X-BAPI-SIGN"), Some(signed.signature.clone()));
            assert_eq!(h("Content-Type").is_some(), !get);
        }
    }

    /// A whole `name=` line (the JSON body has spaces in it).
    fn value_line(text: &str, name: &str) -> String {
        let prefix = format!("{name}=");
        text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap().to_string()
    }

    /// The private stream's `auth` (`orders/ws_private_auth_request.json`: expires 1662350400000).
    #[test]
    fn the_ws_auth_signs_get_realtime_and_expires() {
        let s = signer(Some("api_key"));
        let signed = s.sign_ws(&WsRequest { timestamp: "1662350400000", id: "10001", ..Default::default() }).unwrap();
        assert_eq!(signed.string_to_sign, "GET/realtime1662350400000");
        assert_eq!(signed.signature, "e5afa359fdaabfeeae6a8755687997f43c4696196a957502edf608dcd3c83caa");
        let json: serde_json::Value = serde_json::from_str(signed.payload.expose()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"req_id": "10001", "op": "auth", "args": ["api_key", 1662350400000u64, signed.signature]})
        );
        // Without a key the signature is the same (the key is not signed); the payload says so.
        let keyless = signer(None).sign_ws(&WsRequest { timestamp: "1662350400000", ..Default::default() }).unwrap();
        assert_eq!(keyless.signature, signed.signature);
        assert!(keyless.payload.expose().contains(crate::sign::KEY_NOT_GIVEN));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let s = signer(Some("k"));
        let get = RestRequest { timestamp: "1", method: "GET", path: "/v5/order/realtime", query: "a=1", body: "{}" };
        assert!(matches!(s.sign_rest(&get), Err(SignError::NotSigned { part: "body", .. })));
        let post = RestRequest { method: "POST", body: "", ..get };
        assert!(matches!(s.sign_rest(&post), Err(SignError::NotSigned { part: "query", .. })));
        let keyless = RestRequest { query: "", ..get };
        let keyless = RestRequest { body: "", ..keyless };
        assert!(matches!(signer(None).sign_rest(&keyless), Err(SignError::MissingKey { .. })));
        let ws = WsRequest { timestamp: "1", path: "/users/self/verify", ..Default::default() };
        assert!(matches!(s.sign_ws(&ws), Err(SignError::WsFixed { .. })));
        let ws = WsRequest { timestamp: "in a minute", ..Default::default() };
        assert!(matches!(s.sign_ws(&ws), Err(SignError::BadTimestamp { .. })));
    }

    #[test]
    fn a_changed_byte_changes_the_signature() {
        let s = BybitSigner::new(Credentials { key: Some("k".into()), secret: Secret::new(SECRET), passphrase: None });
        every_changed_byte_changes_the_signature(|body| {
            let mut out = String::new();
            s.rest_signature_into("k", "1", body, &mut out);
            out
        });
    }
}
