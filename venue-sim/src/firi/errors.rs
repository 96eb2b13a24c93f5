//! Firi's refusals as the simulator writes them: [`FiriError`] → HTTP status and
//! `{"name":"<Name>","message":"<text>"}`. The one place the error shapes live.
//!
//! What is known: the auth refusals' texts (`ApiKeyNotFound`, `Expired Signature`,
//! `Invalid Signature`) are \[DOC\] (developers.firi.com excerpt); the body shape is not — the
//! legacy SDK reads `error.response.data.message` \[RECALL\], so a `message` member is assumed,
//! and `name` follows the public endpoints' 404 here. The statuses and the order refusals'
//! names and texts are ours (README "Firi"), easy to correct here.

use crate::market::OrderReject;
use crate::protocol::HttpResponse;
use qt_core::RejectReason;
use serde_json::json;

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FiriError {
    /// Unknown key (HTTP 401).
    ApiKeyNotFound,
    /// Outside `timestamp` .. `timestamp + validity` (HTTP 401).
    ExpiredSignature,
    /// The HMAC does not match, or `timestamp`/`validity` missing (HTTP 401).
    InvalidSignature,
    /// No such market, order or endpoint (HTTP 404).
    NotFound(String),
    /// A malformed request: the field named (HTTP 400).
    BadRequest(String),
    /// Not enough available balance (HTTP 400).
    InsufficientFunds,
}

impl FiriError {
    /// `(status, name, message)`.
    pub(crate) fn parts(&self) -> (u16, &'static str, String) {
        match self {
            Self::ApiKeyNotFound => (401, "ApiKeyNotFound", "ApiKeyNotFound".into()),
            Self::ExpiredSignature => (401, "ExpiredSignature", "Expired Signature".into()),
            Self::InvalidSignature => (401, "InvalidSignature", "Invalid Signature".into()),
            Self::NotFound(what) => (404, "NotFound", what.clone()),
            Self::BadRequest(what) => (400, "BadRequest", what.clone()),
            Self::InsufficientFunds => (400, "InsufficientFunds", "Insufficient funds".into()),
        }
    }

    pub(crate) fn into_response(self) -> HttpResponse {
        let (status, name, message) = self.parts();
        HttpResponse::json(status, &json!({ "name": name, "message": message }))
    }

    /// The market's refusal of an order.
    pub(crate) fn of_reject(e: &OrderReject) -> Self {
        let bad = |t: &str| Self::BadRequest(t.to_owned());
        match e {
            OrderReject::InsufficientBalance | OrderReject::Reason(RejectReason::InsufficientBalance) => {
                Self::InsufficientFunds
            }
            OrderReject::Reason(RejectReason::PriceFilter) => bad("Invalid price"),
            OrderReject::Reason(RejectReason::LotSize) => bad("Invalid amount"),
            OrderReject::Reason(RejectReason::MinNotional) => bad("Order too small"),
            OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => {
                Self::NotFound("Market not found".into())
            }
            OrderReject::UnknownOrder | OrderReject::Reason(RejectReason::UnknownOrder) => {
                Self::NotFound("Order not found".into())
            }
            _ => bad("Order refused"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_name_and_message() {
        let r = FiriError::ExpiredSignature.into_response();
        assert_eq!(r.status, 401);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v, json!({"name": "ExpiredSignature", "message": "Expired Signature"}));
        assert_eq!(FiriError::of_reject(&OrderReject::InsufficientBalance), FiriError::InsufficientFunds);
        assert_eq!(FiriError::of_reject(&OrderReject::UnknownOrder).parts().0, 404);
    }
}
