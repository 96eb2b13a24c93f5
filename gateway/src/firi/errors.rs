//! Firi's refusals in our words: which refuse an account's credentials ([`is_auth_refusal`]),
//! which say the signature's time window was missed ([`is_expired_signature`]) and the
//! [`RejectReason`] of a refused order ([`reject_reason`]). The crate-boundary error is the
//! kit's.
//!
//! Facts: the auth texts `ApiKeyNotFound`, `Expired Signature`, `Invalid Signature`,
//! `SecurityLevelTooLow` are \[DOC\] (developers.firi.com excerpt); Firi's order refusals are not
//! published, so the rest matches the simulator's names and texts (`venue-sim/src/firi/
//! errors.rs`: `InsufficientFunds`, `BadRequest` "Invalid price" / "Invalid amount" / "Order
//! too small", `NotFound` "Market …" / "Order …") loosely, by words, so a real text that
//! differs still lands on a sensible reason, else [`RejectReason::Other`].
//!
//! Pure functions; no allocation.

use crate::firi::wire::FiriRefusal;
pub use crate::kit::error::GatewayError;
use qt_core::RejectReason;

fn has(text: &str, word: &str) -> bool {
    text.to_ascii_lowercase().contains(word)
}

/// Whether a refusal is of the credentials themselves (unknown key, wrong signature, a key
/// without the rights), not a passing failure. An expired signature is a clock problem the
/// gateway re-syncs.
pub fn is_auth_refusal(status: u16, r: &FiriRefusal) -> bool {
    if is_expired_signature(r) {
        return false;
    }
    matches!(r.name.as_str(), "ApiKeyNotFound" | "InvalidSignature" | "SecurityLevelTooLow")
        || matches!(r.message.as_str(), "ApiKeyNotFound" | "Invalid Signature" | "SecurityLevelTooLow")
        || status == 401
        || status == 403
}

/// Whether a refusal says the request's `timestamp`/`validity` window was missed.
pub fn is_expired_signature(r: &FiriRefusal) -> bool {
    r.message == "Expired Signature" || r.name == "ExpiredSignature"
}

/// Whether a cancel's or query's refusal means the venue does not have the order (any more).
pub fn is_unknown_order(status: u16, r: &FiriRefusal) -> bool {
    status == 404 && !has(&r.message, "market")
}

/// The reason a new order was refused.
pub fn reject_reason(status: u16, r: &FiriRefusal) -> RejectReason {
    let m = &r.message;
    if status == 429 || has(&r.name, "ratelimit") || has(m, "rate limit") || has(m, "too many") {
        return RejectReason::RateLimited;
    }
    if has(&r.name, "insufficient") || has(m, "insufficient") {
        return RejectReason::InsufficientBalance;
    }
    if status == 404 && has(m, "market") {
        return RejectReason::UnknownInstrument;
    }
    if has(m, "price") {
        return RejectReason::PriceFilter;
    }
    if has(m, "too small") || has(m, "minimum") {
        return RejectReason::MinNotional;
    }
    if has(m, "amount") {
        return RejectReason::LotSize;
    }
    RejectReason::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, message: &str) -> FiriRefusal {
        FiriRefusal { name: name.into(), message: message.into() }
    }

    #[test]
    fn the_documented_auth_texts_and_the_order_refusals_map() {
        assert!(is_auth_refusal(401, &r("ApiKeyNotFound", "ApiKeyNotFound")));
        assert!(is_auth_refusal(401, &r("InvalidSignature", "Invalid Signature")));
        assert!(!is_auth_refusal(401, &r("ExpiredSignature", "Expired Signature")), "a clock problem");
        assert!(is_expired_signature(&r("", "Expired Signature")));
        assert_eq!(
            reject_reason(400, &r("InsufficientFunds", "Insufficient funds")),
            RejectReason::InsufficientBalance
        );
        assert_eq!(reject_reason(400, &r("BadRequest", "Invalid price")), RejectReason::PriceFilter);
        assert_eq!(reject_reason(400, &r("BadRequest", "Invalid amount")), RejectReason::LotSize);
        assert_eq!(reject_reason(400, &r("BadRequest", "Order too small")), RejectReason::MinNotional);
        assert_eq!(reject_reason(404, &r("NotFound", "market X does not exist")), RejectReason::UnknownInstrument);
        assert_eq!(reject_reason(429, &r("", "simulated HTTP 429")), RejectReason::RateLimited);
        assert_eq!(reject_reason(400, &r("BadRequest", "something new")), RejectReason::Other);
        assert!(is_unknown_order(404, &r("NotFound", "order 5 does not exist")));
        assert!(!is_unknown_order(404, &r("NotFound", "market X does not exist")));
    }
}
