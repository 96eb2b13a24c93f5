//! Binance's error codes: which answers refuse an account's credentials ([`is_auth_refusal`]),
//! and the mapping of Binance's documented error codes onto [`RejectReason`]. The crate-boundary
//! error, [`GatewayError`], is the kit's ([`crate::kit::error`]), re-exported here.
//!
//! Owned by whichever thread calls [`crate::binance::spawn`] (start-up) and by the gateway
//! thread (mapping). Pure functions; the mapping does not allocate.

pub use crate::kit::error::GatewayError;
use qt_core::RejectReason;

/// Whether an answer refuses the credentials themselves (`errors.md`: -1022 "Signature for
/// this request is not valid.", -2014 "API-key format invalid.", -2015 "Invalid API-key, IP, or
/// permissions for action."; HTTP 401), as opposed to a transient failure.
pub fn is_auth_refusal(status: u16, code: i64) -> bool {
    status == 401 || matches!(code, CODE_INVALID_SIGNATURE | CODE_BAD_API_KEY_FORMAT | CODE_REJECTED_API_KEY)
}

/// `-1021` the timestamp is outside `recvWindow`, or 1000 ms or more ahead of the server's
/// time. Binance checks the timestamp before it processes a request (`rest-api.md`, "Timing
/// security": the request is processed only if `timestamp < serverTime + 1000` and
/// `serverTime - timestamp <= recvWindow`, else rejected), so an order refused with -1021 was
/// not placed.
pub(crate) const CODE_INVALID_TIMESTAMP: i64 = -1021;
/// `-1022` the signature does not verify.
pub(crate) const CODE_INVALID_SIGNATURE: i64 = -1022;
/// `-2014` the API key's format is invalid.
pub(crate) const CODE_BAD_API_KEY_FORMAT: i64 = -2014;
/// `-2015` the API key, IP or permissions were refused.
pub(crate) const CODE_REJECTED_API_KEY: i64 = -2015;
/// `-1003` too much request weight.
pub(crate) const CODE_TOO_MUCH_WEIGHT: i64 = -1003;
/// `-1013` a symbol filter failed.
pub(crate) const CODE_FILTER_FAILURE: i64 = -1013;
/// `-1015` too many new orders.
pub(crate) const CODE_TOO_MANY_ORDERS: i64 = -1015;
/// `-1121` invalid symbol.
pub(crate) const CODE_INVALID_SYMBOL: i64 = -1121;
/// `-1125` the listen key does not exist.
pub(crate) const CODE_INVALID_LISTEN_KEY: i64 = -1125;
/// `-2010` the matching engine refused a new order.
pub(crate) const CODE_NEW_ORDER_REJECTED: i64 = -2010;
/// `-2011` the cancel was refused (usually: unknown order).
pub(crate) const CODE_CANCEL_REJECTED: i64 = -2011;
/// `-2013` order does not exist (query).
pub(crate) const CODE_NO_SUCH_ORDER: i64 = -2013;

/// The reason a new order was refused, from the HTTP status and Binance's `{"code","msg"}`
/// (`errors.md`; filter names from `filters.md`).
pub(crate) fn reject_reason(status: u16, code: i64, msg: &str) -> RejectReason {
    if matches!(status, 418 | 429) || matches!(code, CODE_TOO_MUCH_WEIGHT | CODE_TOO_MANY_ORDERS) {
        return RejectReason::RateLimited;
    }
    match code {
        CODE_INVALID_SYMBOL => RejectReason::UnknownInstrument,
        CODE_FILTER_FAILURE => {
            // "Filter failure: PRICE_FILTER" / "LOT_SIZE" / "MARKET_LOT_SIZE" / "NOTIONAL" /
            // "MIN_NOTIONAL".
            if msg.contains("PRICE_FILTER") {
                RejectReason::PriceFilter
            } else if msg.contains("LOT_SIZE") {
                RejectReason::LotSize
            } else if msg.contains("NOTIONAL") {
                RejectReason::MinNotional
            } else {
                RejectReason::Other
            }
        }
        CODE_NEW_ORDER_REJECTED => {
            if msg.eq_ignore_ascii_case("Order would immediately match and take.") {
                RejectReason::WouldTakeLiquidity
            } else if contains_ignore_case(msg, "insufficient balance") {
                RejectReason::InsufficientBalance
            } else {
                RejectReason::Other
            }
        }
        _ => RejectReason::Other,
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::AccountId;

    #[test]
    fn documented_errors_map_to_reasons() {
        let r = |status, code, msg| reject_reason(status, code, msg);
        assert_eq!(r(400, -1013, "Filter failure: PRICE_FILTER"), RejectReason::PriceFilter);
        assert_eq!(r(400, -1013, "Filter failure: LOT_SIZE"), RejectReason::LotSize);
        assert_eq!(r(400, -1013, "Filter failure: MARKET_LOT_SIZE"), RejectReason::LotSize);
        assert_eq!(r(400, -1013, "Filter failure: NOTIONAL"), RejectReason::MinNotional);
        assert_eq!(r(400, -1013, "Filter failure: MIN_NOTIONAL"), RejectReason::MinNotional);
        assert_eq!(r(400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"), RejectReason::Other);
        assert_eq!(
            r(400, -2010, "Account has insufficient balance for requested action."),
            RejectReason::InsufficientBalance
        );
        assert_eq!(r(400, -2010, "Order would immediately match and take."), RejectReason::WouldTakeLiquidity);
        assert_eq!(r(400, -2010, "Duplicate order sent."), RejectReason::Other);
        assert_eq!(r(429, -1003, "Too much request weight used"), RejectReason::RateLimited);
        assert_eq!(r(400, -1015, "Too many new orders"), RejectReason::RateLimited);
        assert_eq!(r(418, 0, ""), RejectReason::RateLimited);
        assert_eq!(r(400, -1121, "Invalid symbol."), RejectReason::UnknownInstrument);
        assert_eq!(r(400, -1022, "Signature for this request is not valid."), RejectReason::Other);
    }

    #[test]
    fn credential_refusals_are_told_from_transient_failures() {
        for (status, code) in [(400, -1022), (401, -2015), (401, -2014), (400, -2015), (401, 0)] {
            assert!(is_auth_refusal(status, code), "{status} {code}");
        }
        for (status, code) in [(400, -1021), (429, -1003), (503, 0), (500, -1000), (400, -1013)] {
            assert!(!is_auth_refusal(status, code), "{status} {code}");
        }
        let venue = |code| GatewayError::Venue { method: "GET", url: "u".into(), status: 400, code, msg: "m".into() };
        let e = venue(-1022).for_account(AccountId(3), is_auth_refusal);
        assert!(e.is_auth_rejected() && e.to_string().starts_with("account 3: the venue refused"), "{e}");
        assert!(!venue(-1021).for_account(AccountId(3), is_auth_refusal).is_auth_rejected());
    }
}
