//! KuCoin's signed REST requests as the simulator reads them: the `KC-API-*` check (key
//! version 2) and the `{"code","msg"}` refusals ([`ApiError`]).
//!
//! Facts (`venues/NOTES.md` §4 signing, `NOTES-orders.md` §4 codes [MIRROR]; the official SDK's
//! signer):
//! - `KC-API-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + path(+"?"+query) + body))`,
//!   `KC-API-TIMESTAMP` epoch ms; `KC-API-PASSPHRASE = base64(HMAC-SHA256(secret, passphrase))`
//!   for key versions 2 and 3 (`KC-API-KEY-VERSION`).
//! - Checked in this order, each with its code and text: a missing header 400001, an unknown
//!   key 400003, the passphrase 400004, the timestamp (more than 5 s from the venue's clock)
//!   400002, the signature 400005. HTTP status 401 for these (the docs say only "200 or 4xx";
//!   401 is the status clients see for auth failures — a guess, README).
//! - A key version other than 2 or 3 (version 1 sent the passphrase in plain text): 400004, as
//!   its passphrase cannot match (a simulator choice).
//! - The passphrase: the shared market keeps none per key, so a key registered with
//!   [`super::KucoinSpot::with_passphrase`] must sign exactly it, any other key any non-empty
//!   passphrase MAC (a simulator simplification, README).
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use crate::signing::verify_base64;
use qt_core::AccountId;
use serde_json::json;

/// How far `KC-API-TIMESTAMP` may be from the venue's clock, ms.
pub(super) const TIMESTAMP_WINDOW_MS: i64 = 5_000;

/// A refusal: `{"code","msg"}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) msg: String,
}

impl ApiError {
    pub(super) fn new(status: u16, code: &'static str, msg: impl Into<String>) -> Self {
        Self { status, code, msg: msg.into() }
    }

    /// 400100 with a message naming the parameter (HTTP 400).
    pub(super) fn param(msg: impl Into<String>) -> Self {
        Self::new(400, "400100", msg)
    }

    pub(super) fn into_response(self) -> HttpResponse {
        HttpResponse::json(self.status, &json!({"code": self.code, "msg": self.msg}))
    }
}

/// The string KuCoin signs for a REST request.
pub fn string_to_sign(timestamp: &str, method: &str, path_and_query: &str, body: &str) -> String {
    format!("{timestamp}{method}{path_and_query}{body}")
}

impl super::KucoinSpot {
    /// Key, passphrase, timestamp window and signature, in that order; the caller's account.
    pub(super) fn authenticate(&self, ctx: &Ctx, req: &HttpRequest) -> Result<AccountId, ApiError> {
        let h = |name: &str| req.header(name).unwrap_or("");
        let (key, sign, ts_text, pass) =
            (h("kc-api-key"), h("kc-api-sign"), h("kc-api-timestamp"), h("kc-api-passphrase"));
        if [key, sign, ts_text, pass].iter().any(|v| v.is_empty()) {
            let msg =
                "Any of KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE is missing in your request header";
            return Err(ApiError::new(401, "400001", msg));
        }
        let Some((account, secret)) = ctx.market.account_by_key(key) else {
            return Err(ApiError::new(401, "400003", "KC-API-KEY not exists"));
        };
        let version_ok = matches!(h("kc-api-key-version"), "2" | "3");
        let pass_ok = match self.passphrases.iter().find(|(k, _)| k == key) {
            Some((_, p)) => verify_base64(&secret, p.as_bytes(), pass),
            None => true,
        };
        if !version_ok || !pass_ok {
            return Err(ApiError::new(401, "400004", "KC-API-PASSPHRASE error"));
        }
        let now = ctx.market.now_ms();
        let in_window = ts_text.parse::<i64>().is_ok_and(|ts| (now - ts).abs() <= TIMESTAMP_WINDOW_MS);
        if !in_window {
            let msg = "KC-API-TIMESTAMP Invalid -- Time differs from server time by more than 5 seconds";
            return Err(ApiError::new(401, "400002", msg));
        }
        let path = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
        let body = String::from_utf8_lossy(&req.body);
        if !verify_base64(&secret, string_to_sign(ts_text, &req.method, &path, &body).as_bytes(), sign) {
            return Err(ApiError::new(401, "400005", "Signature error -- Please check your signature"));
        }
        Ok(account)
    }
}
