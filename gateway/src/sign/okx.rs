//! OKX v5 signing ("REST Authentication > Signature", "WebSocket > Login"; text seen through a
//! mirrored copy of okx.com/docs-v5, `testdata/okx/sign_example.txt`).
//!
//! - REST: `OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))`,
//!   where `requestPath` carries `?query` for a GET and `timestamp` is the
//!   `OK-ACCESS-TIMESTAMP` header: ISO-8601 UTC with milliseconds (`2020-12-08T09:08:57.715Z`).
//!   Headers `OK-ACCESS-KEY`, `OK-ACCESS-SIGN`, `OK-ACCESS-TIMESTAMP`, `OK-ACCESS-PASSPHRASE`
//!   (the passphrase itself, in plain text: shown redacted).
//! - WebSocket login: `{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}` with
//!   `timestamp` in epoch seconds and `sign = base64(HMAC-SHA256(secret, timestamp + "GET" +
//!   "/users/self/verify"))`.
//!
//! OKX publishes no expected signature for its example secret (its WS login example `7L+zFQ…`
//! matches no published secret), so the vectors are computed independently from the
//! documentation's inputs (python3 `hmac`).

use super::mac::{HmacSha256, Parts};
use super::{
    Credentials, PASSPHRASE_SHOWN, RequestSigner, RestRequest, Secret, SignError, SignedRest, SignedWs, WireText,
    WsRequest, digits, header, http_method, key_or_placeholder, request_path,
};
use super::{json_string, prehash_parts, ws_fixed};
use qt_core::Venue;

/// The path the WebSocket login signs.
pub const WS_LOGIN_PATH: &str = "/users/self/verify";

const REST_TIMESTAMP_FORM: &str =
    "ISO-8601 UTC with milliseconds (2020-12-08T09:08:57.715Z) or epoch milliseconds (13 digits)";

/// OKX's [`RequestSigner`].
#[derive(Debug)]
pub struct OkxSigner {
    creds: Credentials,
    passphrase: Secret,
    mac: HmacSha256,
}

impl OkxSigner {
    /// Keys the signer; OKX keys need their passphrase.
    pub fn new(creds: Credentials) -> Result<Self, SignError> {
        let passphrase = creds.passphrase.clone().ok_or(SignError::MissingPassphrase { venue: Venue::Okx })?;
        let mac = HmacSha256::new(creds.secret.expose().as_bytes());
        Ok(Self { creds, passphrase, mac })
    }

    /// Appends the base64 signature of `parts` to `out`; allocation-free with capacity.
    pub fn signature_into(&self, parts: &Parts<'_>, out: &mut String) {
        self.mac.base64_into(parts, out);
    }
}

impl RequestSigner for OkxSigner {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError> {
        let method = http_method(req.method)?;
        let path = request_path(req.path)?;
        let iso;
        // Epoch ms have 13 digits (2001..2286); 10 digits would be seconds, read as 1970.
        let timestamp = if req.timestamp.len() == 13 && req.timestamp.bytes().all(|b| b.is_ascii_digit()) {
            let ms = req.timestamp.parse::<u64>().map_err(|_| bad_timestamp(req.timestamp))?;
            iso = iso8601_ms(ms);
            iso.as_str()
        } else if is_iso8601_ms(req.timestamp) {
            req.timestamp
        } else {
            return Err(bad_timestamp(req.timestamp));
        };
        let parts = prehash_parts(timestamp, method, path, req.query, req.body);
        let mut signature = String::with_capacity(44);
        self.signature_into(&parts, &mut signature);
        let mut headers = vec![
            header("OK-ACCESS-KEY", key_or_placeholder(&self.creds)),
            header("OK-ACCESS-SIGN", signature.clone()),
            header("OK-ACCESS-TIMESTAMP", timestamp),
            (
                "OK-ACCESS-PASSPHRASE",
                WireText::with_secret(self.passphrase.expose().to_string(), PASSPHRASE_SHOWN.into()),
            ),
        ];
        if method != "GET" {
            headers.push(header("Content-Type", "application/json"));
        }
        Ok(SignedRest::as_given(req, &parts, signature, headers))
    }

    fn sign_ws(&self, req: &WsRequest<'_>) -> Result<SignedWs, SignError> {
        let venue = Venue::Okx;
        ws_fixed(venue, req, WS_LOGIN_PATH)?;
        let timestamp = digits(venue, req.timestamp, "epoch seconds, e.g. 1538054050")?;
        let parts = *Parts::new().push_str(timestamp).push_str("GET").push_str(WS_LOGIN_PATH);
        let mut signature = String::with_capacity(44);
        self.signature_into(&parts, &mut signature);
        // Written in the documented field order (`op`, `args`: apiKey, passphrase, timestamp, sign).
        let key = json_string(key_or_placeholder(&self.creds));
        let login = |passphrase: &str| {
            let passphrase = json_string(passphrase);
            format!(
                "{{\"op\":\"login\",\"args\":[{{\"apiKey\":{key},\"passphrase\":{passphrase},\"timestamp\":\"{timestamp}\",\"sign\":\"{signature}\"}}]}}"
            )
        };
        let payload = WireText::with_secret(login(self.passphrase.expose()), login(PASSPHRASE_SHOWN));
        Ok(SignedWs { string_to_sign: parts.to_text(), signature, payload })
    }
}

fn bad_timestamp(value: &str) -> SignError {
    SignError::BadTimestamp { venue: Venue::Okx, value: value.to_string(), expected: REST_TIMESTAMP_FORM }
}

/// Whether `s` is `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn is_iso8601_ms(s: &str) -> bool {
    const SHAPE: &[u8; 24] = b"0000-00-00T00:00:00.000Z";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE.iter()).all(|(b, &want)| if want == b'0' { b.is_ascii_digit() } else { b == want })
}

/// Epoch milliseconds as OKX's `OK-ACCESS-TIMESTAMP`: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn iso8601_ms(epoch_ms: u64) -> String {
    let bytes = iso8601_ms_bytes(epoch_ms);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// [`iso8601_ms`] into a fixed array (no allocation), for the gateway's request builder.
/// Years past 9999 wrap their thousands digit; OKX's clock will not get there.
pub fn iso8601_ms_bytes(epoch_ms: u64) -> [u8; 24] {
    let days = epoch_ms / 86_400_000;
    let ms_of_day = epoch_ms % 86_400_000;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss, ms) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            if let Some(slot) = out.get_mut(i) {
                *slot = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, hh);
    put(14, 2, mm);
    put(17, 2, ss);
    put(20, 3, ms);
    out
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::StringToSign;
    use crate::sign::prehash_parts;
    use crate::sign::signer_for;
    use crate::sign::test_vectors::{every_changed_byte_changes_the_signature, value};

    const DOC: &str = include_str!("../../../testdata/okx/sign_example.txt");

    fn signer() -> Box<dyn RequestSigner> {
        let creds = Credentials {
            key: Some("okx-key".into()),
            secret: Secret::new(value(DOC, "secret")),
            passphrase: Some(Secret::new("okx-pass-very-secret")),
        };
        signer_for(Venue::Okx, creds).unwrap()
    }

    /// `(prehash, sign)` of each section of the vector file.
    fn vectors() -> Vec<(String, String)> {
        let prehash = DOC.lines().filter_map(|l| l.strip_prefix("prehash=")).map(String::from);
        let sign = DOC.lines().filter_map(|l| l.strip_prefix("sign=")).map(String::from);
        prehash.zip(sign).collect()
    }

    #[test]
    fn reproduces_every_vector_from_the_documented_inputs() {
        let v = vectors();
        assert_eq!(v.len(), 3, "{v:?}");
        let s = signer();
        let get = RestRequest {
            timestamp: "2020-12-08T09:08:57.715Z",
            method: "GET",
            path: "/api/v5/account/balance",
            query: "ccy=BTC",
            body: "",
        };
        let post = RestRequest {
            method: "POST",
            path: "/api/v5/account/set-leverage",
            query: "",
            body: r#"{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}"#,
            ..get
        };
        for (req, (prehash, sign)) in [get, post].iter().zip(&v) {
            let signed = s.sign_rest(req).unwrap();
            assert_eq!(signed.string_to_sign, StringToSign::Text(prehash.clone()));
            assert_eq!(&signed.signature, sign);
            let h = |name: &str| signed.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap();
            assert_eq!(h("OK-ACCESS-SIGN").expose(), sign);
            assert_eq!(h("OK-ACCESS-TIMESTAMP").expose(), "2020-12-08T09:08:57.715Z");
            assert_eq!(h("OK-ACCESS-KEY").expose(), "okx-key");
            let pass = h("OK-ACCESS-PASSPHRASE");
            assert_eq!((pass.expose(), pass.to_string().as_str()), ("okx-pass-very-secret", PASSPHRASE_SHOWN));
            assert!(!format!("{signed:?}").contains("very-secret"));
        }
        // Epoch milliseconds are turned into the header's ISO form first.
        let from_ms = s.sign_rest(&RestRequest { timestamp: "1607418537715", ..get }).unwrap();
        assert_eq!(from_ms.signature, v[0].1);

        let (prehash, sign) = &v[2];
        let ws = s.sign_ws(&WsRequest { timestamp: "1538054050", ..Default::default() }).unwrap();
        assert_eq!((&ws.string_to_sign, &ws.signature), (prehash, sign));
        // The documentation's own example value does not come from its example secret.
        assert_ne!(ws.signature, "7L+zFQ+CEgGu5rzCj4+BdV2/uUHGqddA9pI6ztsRRPs=");
        let json: serde_json::Value = serde_json::from_str(ws.payload.expose()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "login", "args": [{"apiKey": "okx-key", "passphrase": "okx-pass-very-secret",
                "timestamp": "1538054050", "sign": sign}]})
        );
        assert!(!ws.payload.to_string().contains("very-secret") && ws.payload.to_string().contains(PASSPHRASE_SHOWN));
    }

    #[test]
    fn epoch_ms_become_the_iso_header() {
        for (ms, iso) in [
            (1_607_418_537_715, "2020-12-08T09:08:57.715Z"),
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(iso8601_ms(ms), iso);
            assert!(is_iso8601_ms(iso));
        }
        for bad in ["2020-12-08T09:08:57Z", "2020-12-08 09:08:57.715Z", "2020-12-08T09:08:57.715", ""] {
            assert!(!is_iso8601_ms(bad), "{bad}");
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let s = signer();
        for bad in ["yesterday", "1607418537", "16074185377150", ""] {
            let req =
                RestRequest { timestamp: bad, method: "GET", path: "/api/v5/account/balance", ..Default::default() };
            assert!(matches!(s.sign_rest(&req), Err(SignError::BadTimestamp { venue: Venue::Okx, .. })), "{bad}");
        }
        let ws = WsRequest { timestamp: "1538054050", path: "/realtime", ..Default::default() };
        assert!(matches!(s.sign_ws(&ws), Err(SignError::WsFixed { .. })));
        let ws = WsRequest { timestamp: "2020-12-08T09:08:57.715Z", ..Default::default() };
        assert!(matches!(s.sign_ws(&ws), Err(SignError::BadTimestamp { .. })));
    }

    #[test]
    fn a_changed_byte_changes_the_signature() {
        let creds = Credentials { passphrase: Some(Secret::new("p")), secret: Secret::new("s"), key: None };
        let s = OkxSigner::new(creds).unwrap();
        every_changed_byte_changes_the_signature(|body| {
            let mut out = String::new();
            s.signature_into(&prehash_parts("t", "POST", "/p", "", body), &mut out);
            out
        });
    }
}
