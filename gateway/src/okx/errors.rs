//! OKX's error codes (`NOTES-orders.md` §3 "Errors", [MIRROR] of okx.com/docs-v5 "Error
//! Code"): which answers refuse an account's credentials ([`is_auth_refusal`]), the table mapping
//! order `sCode`s onto [`RejectReason`], and the `cancelSource` of an order OKX cancelled
//! itself after its ack. The crate-boundary error is the kit's.
//!
//! Pure functions; no allocation.

pub use crate::kit::error::GatewayError;
use qt_core::RejectReason;

/// 50011 rate limit reached (HTTP 200 or 429).
pub(crate) const CODE_RATE_LIMIT: i64 = 50011;
/// 50102 "Timestamp request expired." Checked before the request is processed.
pub(crate) const CODE_TIMESTAMP: i64 = 50102;
/// 50111 invalid `OK-ACCESS-KEY`.
pub(crate) const CODE_BAD_KEY: i64 = 50111;
/// 50113 invalid signature.
pub(crate) const CODE_BAD_SIGN: i64 = 50113;
/// 50105 wrong passphrase.
pub(crate) const CODE_BAD_PASSPHRASE: i64 = 50105;
/// 51400 the order to cancel is filled, cancelled or unknown; 51503 already filled or
/// cancelled; 51603 the queried order does not exist.
pub(crate) const CODE_CANCEL_FAILED: i64 = 51400;
pub(crate) const CODE_ALREADY_DONE: i64 = 51503;
pub(crate) const CODE_NO_ORDER: i64 = 51603;
/// 60009 the private stream's login failed (as a `GatewayError` code).
pub(crate) const CODE_LOGIN_FAILED: i64 = 60009;

/// Whether an answer refuses the credentials themselves (HTTP 401, key, signature,
/// passphrase, 50100 frozen key, 50110 IP) rather than a transient failure. A 50102 is a
/// clock problem the gateway re-syncs, not a refusal.
pub fn is_auth_refusal(status: u16, code: i64) -> bool {
    match code {
        CODE_TIMESTAMP => false,
        CODE_BAD_KEY | CODE_BAD_SIGN | CODE_BAD_PASSPHRASE | CODE_LOGIN_FAILED | 50100 | 50110 => true,
        _ => status == 401,
    }
}

/// Whether a cancel's refusal means the venue no longer has the order working.
pub(crate) fn is_unknown_order(code: i64) -> bool {
    matches!(code, CODE_CANCEL_FAILED | CODE_ALREADY_DONE | CODE_NO_ORDER)
}

/// The reason a new order was refused, from the HTTP status and OKX's code.
pub(crate) fn reject_reason(status: u16, code: i64) -> RejectReason {
    if status == 429 || code == CODE_RATE_LIMIT {
        return RejectReason::RateLimited;
    }
    match code {
        // Instrument does not exist.
        51001 => RejectReason::UnknownInstrument,
        // Price outside the limit band (51006), a bad price parameter is 51000 below.
        51006 => RejectReason::PriceFilter,
        // Quantity not a multiple of the lot size.
        51121 => RejectReason::LotSize,
        // Below the minimum order amount.
        51020 => RejectReason::MinNotional,
        // Insufficient balance / margin.
        51008 => RejectReason::InsufficientBalance,
        // Post-only that would take, refused at once.
        51019 => RejectReason::WouldTakeLiquidity,
        // 51000 parameter errors, 51016 duplicate clOrdId, 51169 reduce-only with nothing to
        // reduce, …: the core has no finer reason; the log line names the code.
        _ => RejectReason::Other,
    }
}

/// The refusal a venue-cancelled order's `cancelSource` names, if it is one the core has a
/// reason for (third-party copies of the docs' table): 31 a post-only order that would take,
/// 13 a FOK that could not fill completely.
pub(crate) fn cancel_source_reason(source: &str) -> Option<RejectReason> {
    match source {
        "31" => Some(RejectReason::WouldTakeLiquidity),
        "13" => Some(RejectReason::FokUnfillable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::AccountId;

    #[test]
    fn documented_codes_map_to_reasons() {
        let r = |code| reject_reason(200, code);
        assert_eq!(r(51008), RejectReason::InsufficientBalance);
        assert_eq!(r(51121), RejectReason::LotSize);
        assert_eq!(r(51020), RejectReason::MinNotional);
        assert_eq!(r(51001), RejectReason::UnknownInstrument);
        assert_eq!(r(51006), RejectReason::PriceFilter);
        assert_eq!(r(50011), RejectReason::RateLimited);
        assert_eq!(reject_reason(429, 0), RejectReason::RateLimited);
        assert_eq!(r(51016), RejectReason::Other);
        assert_eq!(cancel_source_reason("31"), Some(RejectReason::WouldTakeLiquidity));
        assert_eq!(cancel_source_reason("13"), Some(RejectReason::FokUnfillable));
        assert_eq!(cancel_source_reason("1"), None);
        assert!(is_unknown_order(51400) && is_unknown_order(51603) && !is_unknown_order(51008));
    }

    #[test]
    fn credential_refusals_are_told_from_transient_failures() {
        for (status, code) in [(401, 50111), (401, 50113), (401, 50105), (401, 0), (200, 60009)] {
            assert!(is_auth_refusal(status, code), "{status} {code}");
        }
        for (status, code) in [(401, 50102), (429, 50011), (503, 0), (200, 51000)] {
            assert!(!is_auth_refusal(status, code), "{status} {code}");
        }
        let venue = |code| GatewayError::Venue { method: "GET", url: "u".into(), status: 401, code, msg: "m".into() };
        assert!(venue(50113).for_account(AccountId(1), is_auth_refusal).is_auth_rejected());
        assert!(!venue(50102).for_account(AccountId(1), is_auth_refusal).is_auth_rejected());
    }
}
