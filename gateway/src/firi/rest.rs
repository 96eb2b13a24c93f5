//! Firi's REST link: the account key ([`FiriKey`]: the signer of `sign/firi.rs`, fed epoch
//! *seconds* — the kit signs with the venue's milliseconds), the server time (`GET /time`), the
//! request limits, and what an answer says (a refusal's name and message, a missed signature
//! window).
//!
//! Time: `GET /time` → `{"time":<epoch seconds>}` (`NOTES-orders.md` §6: "community code treats
//! the value as seconds"; the simulator agrees). A whole second read at any point of that second
//! is, on average, half a second behind: the sample is taken as the middle of its second
//! (`secs × 1000 + 500`), so the estimate is off by at most half a second either way, well
//! inside the `validity` window signed ([`VALIDITY_MS`]).
//!
//! Limits: Firi publishes none (`NOTES-orders.md` §6 "Rate limits are undocumented"). The rules
//! here are ours, conservative, counted locally per account: 10 new orders and 40 requests per
//! second. A 429 (with or without `Retry-After`) stops sending as the kit does for every venue.
//!
//! Pure data and small functions; [`server_time`] blocks for one request.

use crate::firi::wire::FiriRefusal;
use crate::kit::http::{HttpsClient, Response};
use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};
use crate::kit::shell::AccountKey;
use crate::sign::firi::FiriSigner;
use crate::sign::{Credentials, RequestSigner, RestRequest, Secret, SignError, SignedRest, SignedWs, WsRequest};
use qt_core::Venue;

/// The server-time endpoint (public).
pub(crate) const TIME_PATH: &str = "/time";
/// `validity` signed with every request, ms: the signature's life after its timestamp.
pub(crate) const VALIDITY_MS: u64 = 5_000;

/// The rules, order entry first (its index is [`ORDER_RULE`]).
pub(crate) const RULES: &[LimitRule] = &[
    LimitRule { header: None, counts: Counts::Orders, scope: Scope::Account, limit: 10, window_ms: 1000 },
    LimitRule { header: None, counts: Counts::Weight, scope: Scope::Account, limit: 40, window_ms: 1000 },
];
/// Index of the order-entry rule in [`RULES`].
pub(crate) const ORDER_RULE: usize = 0;
/// `POST /v2/orders`.
pub(crate) const NEW_ORDER: Cost = Cost::order(1);
/// Any other private request (cancel, cancel-all, a list, one order, balances).
pub(crate) const REQUEST: Cost = Cost::weight(1);

/// One request for the venue's time, Unix ms (the middle of the second it gives).
pub(crate) fn server_time(http: &mut HttpsClient) -> Result<i64, String> {
    let resp = http.request("GET", TIME_PATH, "", &[]).map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(format!("{TIME_PATH}: HTTP {}: {}", resp.status, resp.body_excerpt()));
    }
    parse_time(&resp.body).ok_or_else(|| format!("{TIME_PATH}: unreadable answer: {}", resp.body_excerpt()))
}

/// `{"time":<seconds>}` → ms, the middle of that second.
fn parse_time(body: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let secs = v.get("time")?.as_i64().filter(|s| *s > 0)?;
    Some(secs.checked_mul(1000)? + 500)
}

/// An answer's refusal (`{"name","message"}`).
pub(crate) fn refusal(resp: &Response) -> FiriRefusal {
    FiriRefusal::parse(&resp.body)
}

/// Whether the venue refused the request's signature window (the kit re-syncs and resends).
pub(crate) fn is_timestamp_reject(resp: &Response) -> bool {
    resp.status == 401 && crate::firi::errors::is_expired_signature(&refusal(resp))
}

/// [`FiriSigner`] signing with whole epoch seconds: the kit hands every signer the venue's
/// time in milliseconds.
#[derive(Debug)]
pub(crate) struct SecondsSigner(FiriSigner);

impl RequestSigner for SecondsSigner {
    fn venue(&self) -> Venue {
        Venue::Firi
    }

    fn sign_rest(&self, req: &RestRequest<'_>) -> Result<SignedRest, SignError> {
        let secs = req.timestamp.parse::<i64>().map(|ms| ms.div_euclid(1000).to_string());
        match secs {
            Ok(s) => self.0.sign_rest(&RestRequest { timestamp: &s, ..*req }),
            // Not a number: the signer names the problem.
            Err(_) => self.0.sign_rest(req),
        }
    }

    fn sign_ws(&self, req: &WsRequest<'_>) -> Result<SignedWs, SignError> {
        self.0.sign_ws(req)
    }
}

/// An account's Firi key: its client id and secret.
#[derive(Debug)]
pub(crate) struct FiriKey(SecondsSigner);

impl FiriKey {
    /// The key of `client_id` with `secret`, signing `validity` [`VALIDITY_MS`].
    pub(crate) fn new(client_id: &str, secret: &str) -> Self {
        let creds = Credentials { key: Some(client_id.to_owned()), secret: Secret::new(secret), passphrase: None };
        Self(SecondsSigner(FiriSigner::new(creds).with_validity(VALIDITY_MS)))
    }
}

impl AccountKey for FiriKey {
    fn signer(&self) -> &dyn RequestSigner {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_seconds_taken_as_the_middle_of_the_second() {
        assert_eq!(parse_time(br#"{"time":1700000000}"#), Some(1_700_000_000_500));
        assert_eq!(parse_time(br#"{"time":0}"#), None, "the doc's placeholder is no time");
        assert_eq!(parse_time(b"{\"time\":"), None);
    }

    #[test]
    fn the_kits_milliseconds_are_signed_as_seconds() {
        let key = FiriKey::new("client-7", "firi-example-secret");
        let req = RestRequest { timestamp: "1700000000999", method: "GET", path: "/v2/balances", query: "", body: "" };
        let signed = key.signer().sign_rest(&req).unwrap();
        assert_eq!(signed.query, "timestamp=1700000000&validity=5000");
        let direct = FiriSigner::new(Credentials {
            key: Some("client-7".into()),
            secret: Secret::new("firi-example-secret"),
            passphrase: None,
        })
        .with_validity(VALIDITY_MS);
        let want = direct.sign_rest(&RestRequest { timestamp: "1700000000", ..req }).unwrap();
        assert_eq!(signed.signature, want.signature);
    }
}
