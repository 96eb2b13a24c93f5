//! Bybit's `retCode`s (`docs/v5/error.mdx`, via `/work/shared/venues/NOTES-orders.md` §2):
//! which answers refuse an account's credentials ([`is_auth_refusal`]) and the table mapping
//! the order-entry codes onto [`RejectReason`]. Bybit answers most refusals with HTTP 200 and a
//! non-zero `retCode`; linear parameter errors share 10001 and are told apart by `retMsg`
//! (the simulator's texts, which follow live answers: "…tickSize", "…qtyStep", "…minOrderQty",
//! "…minNotionalValue", "symbol invalid"). The crate-boundary error is the kit's.
//!
//! Pure functions; no allocation.

pub use crate::kit::error::GatewayError;
use qt_core::RejectReason;

/// 10001 request parameter error.
pub(crate) const CODE_PARAMS: i64 = 10001;
/// 10002 the request time is outside the window (`recvWindow`, or 1000 ms ahead). Checked
/// before the request is processed: the request did nothing.
pub(crate) const CODE_TIMESTAMP: i64 = 10002;
/// 10003 API key invalid.
pub(crate) const CODE_BAD_KEY: i64 = 10003;
/// 10004 signature error.
pub(crate) const CODE_BAD_SIGN: i64 = 10004;
/// 10005 permission denied.
pub(crate) const CODE_PERMISSION: i64 = 10005;
/// 10006 too many visits (the per-UID rate limit).
pub(crate) const CODE_TOO_MANY_VISITS: i64 = 10006;
/// 10010 unmatched IP.
pub(crate) const CODE_BAD_IP: i64 = 10010;
/// 10429 system-level frequency protection.
pub(crate) const CODE_SYSTEM_THROTTLE: i64 = 10429;
/// 110001 order does not exist (linear); 170213 (spot).
pub(crate) const CODE_NO_ORDER_LINEAR: i64 = 110001;
pub(crate) const CODE_NO_ORDER_SPOT: i64 = 170213;
/// 110008 the order is already completed or cancelled.
pub(crate) const CODE_ORDER_FINISHED: i64 = 110008;

/// Whether an answer refuses the credentials themselves (HTTP 401, 10003 key, 10004 signature,
/// 10005 permission, 10010 IP) rather than a transient failure.
pub fn is_auth_refusal(status: u16, code: i64) -> bool {
    status == 401 || matches!(code, CODE_BAD_KEY | CODE_BAD_SIGN | CODE_PERMISSION | CODE_BAD_IP)
}

/// Whether a cancel's refusal means the venue no longer has the order working.
pub(crate) fn is_unknown_order(code: i64) -> bool {
    matches!(code, CODE_NO_ORDER_LINEAR | CODE_NO_ORDER_SPOT | CODE_ORDER_FINISHED)
}

/// The reason a new order was refused, from the HTTP status and Bybit's `retCode` / `retMsg`.
pub(crate) fn reject_reason(status: u16, code: i64, msg: &str) -> RejectReason {
    if matches!(status, 403 | 429) || matches!(code, CODE_TOO_MANY_VISITS | CODE_SYSTEM_THROTTLE) {
        return RejectReason::RateLimited;
    }
    match code {
        // Spot: invalid symbol.
        170121 => RejectReason::UnknownInstrument,
        // Spot price decimals; buy/sell price limits.
        170134 | 170193 | 170194 => RejectReason::PriceFilter,
        // Spot quantity below the minimum / too many decimals.
        170136 | 170137 => RejectReason::LotSize,
        // Spot order value below the minimum; linear notional below the lower limit.
        170140 | 110094 => RejectReason::MinNotional,
        // Spot balance; linear wallet / available balance.
        170131 | 110004 | 110007 => RejectReason::InsufficientBalance,
        CODE_PARAMS => {
            if msg.contains("tickSize") || msg.contains("price invalid") {
                RejectReason::PriceFilter
            } else if msg.contains("qtyStep") || msg.contains("minOrderQty") || msg.contains("qty invalid") {
                RejectReason::LotSize
            } else if msg.contains("minNotionalValue") {
                RejectReason::MinNotional
            } else if msg.contains("symbol invalid") {
                RejectReason::UnknownInstrument
            } else {
                RejectReason::Other
            }
        }
        // 110017 reduce-only not satisfied, 110072 / 170141 duplicate orderLinkId, … : the core
        // has no finer reason for them; the log line names the code.
        _ => RejectReason::Other,
    }
}

/// The refusal a closed order's `rejectReason` names (`enum#rejectreason`), if it is one
/// the core has a reason for: a post-only order that would take, a FOK that could not fill.
pub(crate) fn closed_reason(reject_reason: &str) -> Option<RejectReason> {
    match reject_reason {
        "EC_PostOnlyWillTakeLiquidity" => Some(RejectReason::WouldTakeLiquidity),
        "EC_CancelForNoFullFill" => Some(RejectReason::FokUnfillable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::AccountId;

    #[test]
    fn documented_codes_map_to_reasons() {
        let r = |code, msg| reject_reason(200, code, msg);
        assert_eq!(r(170134, "Order price decimal too long."), RejectReason::PriceFilter);
        assert_eq!(r(170136, "Order quantity lower than the minimum."), RejectReason::LotSize);
        assert_eq!(r(170137, "Order volume decimal too long"), RejectReason::LotSize);
        assert_eq!(r(170140, "Transaction amount lower than the minimum."), RejectReason::MinNotional);
        assert_eq!(r(170131, "Balance insufficient"), RejectReason::InsufficientBalance);
        assert_eq!(r(110007, "Available balance is insufficient"), RejectReason::InsufficientBalance);
        assert_eq!(r(170121, "Invalid symbol."), RejectReason::UnknownInstrument);
        assert_eq!(r(10001, "params error: price invalid, not a multiple of tickSize"), RejectReason::PriceFilter);
        assert_eq!(r(10001, "params error: qty invalid, not a multiple of qtyStep"), RejectReason::LotSize);
        assert_eq!(r(10001, "params error: qty invalid, below minOrderQty"), RejectReason::LotSize);
        assert_eq!(r(10001, "params error: order value below minNotionalValue"), RejectReason::MinNotional);
        assert_eq!(r(10001, "params error: symbol invalid"), RejectReason::UnknownInstrument);
        assert_eq!(r(10006, "Too many visits!"), RejectReason::RateLimited);
        assert_eq!(reject_reason(403, 0, ""), RejectReason::RateLimited);
        assert_eq!(r(110017, "Reduce-only rule not satisfied"), RejectReason::Other);
        assert_eq!(r(110072, "OrderLinkedID is duplicate"), RejectReason::Other);
        assert_eq!(closed_reason("EC_PostOnlyWillTakeLiquidity"), Some(RejectReason::WouldTakeLiquidity));
        assert_eq!(closed_reason("EC_CancelForNoFullFill"), Some(RejectReason::FokUnfillable));
        assert_eq!(closed_reason("EC_PerCancelRequest"), None);
    }

    #[test]
    fn credential_refusals_are_told_from_transient_failures() {
        for (status, code) in [(200, 10003), (200, 10004), (200, 10005), (200, 10010), (401, 0)] {
            assert!(is_auth_refusal(status, code), "{status} {code}");
        }
        for (status, code) in [(200, 10002), (200, 10006), (503, 0), (200, 10001)] {
            assert!(!is_auth_refusal(status, code), "{status} {code}");
        }
        let venue = |code| GatewayError::Venue { method: "GET", url: "u".into(), status: 200, code, msg: "m".into() };
        assert!(venue(10003).for_account(AccountId(1), is_auth_refusal).is_auth_rejected());
        assert!(!venue(10002).for_account(AccountId(1), is_auth_refusal).is_auth_rejected());
    }
}
