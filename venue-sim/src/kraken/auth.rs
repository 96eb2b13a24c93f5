//! Kraken's private REST requests as the simulator reads them: the `API-Key` / `API-Sign` check
//! with the per-key nonce, the parameters (form-urlencoded or JSON body, [`Params`]) and the
//! `{"error":["EAPI:…"]}` refusals ([`KrakenError`]).
//!
//! Facts (`venues/NOTES.md` §5 signing, `NOTES-orders.md` §5 errors; docs.kraken.com "Spot REST
//! authentication", the worked example `samples/kraken/sign_example.txt`):
//! - `API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + postdata)))`,
//!   the body carrying the same `nonce`.
//! - Checked in this order: key (`EAPI:Invalid key`), signature (`EAPI:Invalid signature`), nonce
//!   (`EAPI:Invalid nonce`: not strictly above the last nonce this key used). Every refusal is
//!   HTTP 200 with the error list, as Kraken answers.
//! - The secret: Kraken's is base64 text; a market account whose secret does not decode as
//!   base64 (the shared test secret `test-secret`) is keyed with its raw bytes (a simulator
//!   simplification, README).
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use crate::kit::form::parse_form;
use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use qt_core::AccountId;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

/// A refusal: Kraken's error text (`EOrder:Insufficient funds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KrakenError(pub(super) String);

impl KrakenError {
    pub(super) fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// `EGeneral:Invalid arguments[:name]`.
    pub(super) fn invalid(name: &str) -> Self {
        Self(format!("EGeneral:Invalid arguments:{name}"))
    }

    pub(super) fn into_response(self) -> HttpResponse {
        HttpResponse::json(200, &json!({"error": [self.0]}))
    }
}

/// `{"error":[],"result":result}`.
pub(super) fn ok(result: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({"error": [], "result": result}))
}

fn secret_key(secret: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(secret.trim()).unwrap_or_else(|_| secret.as_bytes().to_vec())
}

fn mac(secret: &str, path: &str, nonce: &str, body: &[u8]) -> Option<Hmac<Sha512>> {
    let mut inner = Sha256::new();
    inner.update(nonce.as_bytes());
    inner.update(body);
    let mut mac = Hmac::<Sha512>::new_from_slice(&secret_key(secret)).ok()?;
    mac.update(path.as_bytes());
    mac.update(&inner.finalize());
    Some(mac)
}

/// Kraken's `API-Sign` for `path`, `nonce` and the POST body (for test clients too).
pub fn api_sign(secret: &str, path: &str, nonce: &str, body: &[u8]) -> String {
    mac(secret, path, nonce, body)
        .map(|m| base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature` (base64) signs the request, compared in constant time.
fn verify(secret: &str, path: &str, nonce: &str, body: &[u8], signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature) else { return false };
    mac(secret, path, nonce, body).is_some_and(|m| m.verify_slice(&given).is_ok())
}

/// One request's parameters, from a form or a JSON object body.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Reads the body: JSON when it starts with `{`, else form-urlencoded.
    pub(super) fn read(body: &[u8]) -> Result<Self, KrakenError> {
        let bad = || KrakenError::new("EGeneral:Invalid arguments");
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return Err(bad()) };
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    _ => return Err(KrakenError::invalid(&k)),
                };
                out.push((k, text));
            }
            return Ok(Self(out));
        }
        parse_form(body).map(Self).map_err(|_| bad())
    }

    /// A parameter's text; empty is "not given".
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub(super) fn need(&self, key: &str) -> Result<&str, KrakenError> {
        self.get(key).ok_or_else(|| KrakenError::invalid(key))
    }
}

/// Who a signed request is from, and its parameters.
#[derive(Debug)]
pub(super) struct Signed {
    pub(super) account: AccountId,
    pub(super) params: Params,
}

impl super::KrakenV2 {
    /// Key, signature, then the nonce (strictly above the key's last one, which it becomes).
    pub(super) fn authenticate(&self, ctx: &Ctx, req: &HttpRequest) -> Result<Signed, KrakenError> {
        let key = req.header("api-key").unwrap_or("");
        let Some((account, secret)) = (!key.is_empty()).then(|| ctx.market.account_by_key(key)).flatten() else {
            return Err(KrakenError::new("EAPI:Invalid key"));
        };
        let params = Params::read(&req.body)?;
        let nonce_text = params.get("nonce").unwrap_or("");
        let nonce: Option<u64> = nonce_text.parse().ok();
        if !verify(&secret, &req.path, nonce_text, &req.body, req.header("api-sign").unwrap_or("")) {
            return Err(KrakenError::new("EAPI:Invalid signature"));
        }
        match nonce {
            Some(n) if self.desk.take_nonce(key, n) => Ok(Signed { account, params }),
            _ => Err(KrakenError::new("EAPI:Invalid nonce")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_worked_example_signs_and_verifies() {
        let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
        let body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
        let sign = api_sign(secret, "/0/private/AddOrder", "1616492376594", body);
        let want = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==";
        assert_eq!(sign, want);
        assert!(verify(secret, "/0/private/AddOrder", "1616492376594", body, want));
        assert!(!verify(secret, "/0/private/CancelOrder", "1616492376594", body, want));
        assert!(!verify(secret, "/0/private/AddOrder", "1616492376595", body, want));
    }

    #[test]
    fn params_read_forms_and_json() {
        let p = Params::read(b"nonce=1&pair=BTC%2FUSDT&volume=1.25").unwrap();
        assert_eq!((p.get("pair"), p.get("volume"), p.get("x")), (Some("BTC/USDT"), Some("1.25"), None));
        let p = Params::read(br#"{"nonce":123456789018,"volume":1.25,"pair":"XBTUSD"}"#).unwrap();
        assert_eq!((p.get("nonce"), p.get("volume")), (Some("123456789018"), Some("1.25")));
        assert!(Params::read(br#"{"nonce":[1]}"#).is_err());
        assert!(Params::read(b"{not json").is_err());
    }
}
