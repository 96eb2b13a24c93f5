//! KuCoin's error codes (`NOTES-orders.md` §4 "Errors", [MIRROR] of the old kucoin.com docs'
//! table): which answers refuse an account's credentials ([`is_auth_refusal`]), the mapping of
//! an order refusal onto [`RejectReason`] ([`reject_reason`]), and which cancel refusals mean
//! the order is no longer working ([`is_unknown_order`]).
//!
//! KuCoin gives most order refusals one code, 400100 "Parameter Error", with the reason only in
//! `msg`; the texts matched here are the simulator's ([RECALL] of KuCoin's messages,
//! `venue-sim/src/kucoin/orders.rs`), matched loosely (lower-cased substrings) so a wording
//! difference falls to [`RejectReason::Other`], never to a wrong reason.
//!
//! Pure functions; no allocation but the lower-casing of a refusal's message.

pub use crate::kit::error::GatewayError;
use qt_core::RejectReason;

/// 400001 a `KC-API-*` header is missing.
pub(crate) const CODE_MISSING_HEADER: i64 = 400_001;
/// 400002 the timestamp differs from the venue's clock by more than 5 s.
pub(crate) const CODE_TIMESTAMP: i64 = 400_002;
/// 400003 unknown key.
pub(crate) const CODE_BAD_KEY: i64 = 400_003;
/// 400004 wrong passphrase.
pub(crate) const CODE_BAD_PASSPHRASE: i64 = 400_004;
/// 400005 wrong signature.
pub(crate) const CODE_BAD_SIGN: i64 = 400_005;
/// 400100 parameter error (most order refusals; the reason is in `msg`).
pub(crate) const CODE_PARAMETER: i64 = 400_100;
/// 200004 balance insufficient.
pub(crate) const CODE_BALANCE: i64 = 200_004;
/// 429000 too many requests.
pub(crate) const CODE_RATE_LIMIT: i64 = 429_000;
/// 900001 symbol not exists.
pub(crate) const CODE_NO_SYMBOL: i64 = 900_001;

/// Whether an answer refuses the credentials themselves (key, passphrase, signature, a missing
/// header, 400006 IP not whitelisted, 400007 access denied, HTTP 401) rather than a transient
/// failure. A 400002 is a clock problem the gateway re-syncs, not a refusal.
pub fn is_auth_refusal(status: u16, code: i64) -> bool {
    match code {
        CODE_TIMESTAMP => false,
        CODE_MISSING_HEADER | CODE_BAD_KEY | CODE_BAD_PASSPHRASE | CODE_BAD_SIGN | 400_006 | 400_007 => true,
        _ => status == 401,
    }
}

/// Whether a cancel's or query's refusal means the venue no longer has the order working
/// (400100 with "order_not_exist…" / "order not exist").
pub(crate) fn is_unknown_order(code: i64, msg: &str) -> bool {
    code == CODE_PARAMETER && msg.to_ascii_lowercase().replace('_', " ").contains("not exist")
}

/// The reason a new order was refused, from the HTTP status, KuCoin's code and its message.
pub(crate) fn reject_reason(status: u16, code: i64, msg: &str) -> RejectReason {
    if status == 429 || code == CODE_RATE_LIMIT {
        return RejectReason::RateLimited;
    }
    match code {
        CODE_BALANCE => RejectReason::InsufficientBalance,
        CODE_NO_SYMBOL => RejectReason::UnknownInstrument,
        CODE_PARAMETER => {
            let m = msg.to_ascii_lowercase();
            if m.contains("postonly") || m.contains("post only") {
                RejectReason::WouldTakeLiquidity
            } else if m.contains("fok") {
                RejectReason::FokUnfillable
            } else if m.contains("funds below") {
                RejectReason::MinNotional
            } else if m.contains("size") && (m.contains("increment") || m.contains("minimum")) {
                RejectReason::LotSize
            } else if m.contains("price increment") {
                RejectReason::PriceFilter
            } else {
                RejectReason::Other
            }
        }
        _ => RejectReason::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::AccountId;

    /// The codes and the simulator's texts map onto the reasons; an unknown text is `Other`.
    #[test]
    fn documented_codes_map_to_reasons() {
        let r = |code, msg| reject_reason(200, code, msg);
        assert_eq!(r(200_004, "Balance insufficient"), RejectReason::InsufficientBalance);
        assert_eq!(r(900_001, "symbol not exists"), RejectReason::UnknownInstrument);
        assert_eq!(r(429_000, "Too Many Requests"), RejectReason::RateLimited);
        assert_eq!(reject_reason(429, 0, ""), RejectReason::RateLimited);
        assert_eq!(r(400_100, "Order size increment invalid."), RejectReason::LotSize);
        assert_eq!(r(400_100, "Order size below the minimum requirement."), RejectReason::LotSize);
        assert_eq!(r(400_100, "Order funds below the minimum requirement."), RejectReason::MinNotional);
        assert_eq!(r(400_100, "Price increment invalid."), RejectReason::PriceFilter);
        assert_eq!(r(400_100, "postOnly order would match an existing order."), RejectReason::WouldTakeLiquidity);
        assert_eq!(r(400_100, "FOK order cannot be filled completely."), RejectReason::FokUnfillable);
        assert_eq!(r(400_100, "Parameter Error"), RejectReason::Other);
        assert_eq!(r(400_100, "The clientOid already exists."), RejectReason::Other);
        assert!(is_unknown_order(400_100, "order_not_exist_or_not_allow_to_cancel"));
        assert!(is_unknown_order(400_100, "order not exist."));
        assert!(!is_unknown_order(200_004, "order not exist.") && !is_unknown_order(400_100, "Parameter Error"));
    }

    #[test]
    fn credential_refusals_are_told_from_transient_failures() {
        for (status, code) in [(401, 400_001), (401, 400_003), (401, 400_004), (401, 400_005), (401, 0), (200, 400_006)]
        {
            assert!(is_auth_refusal(status, code), "{status} {code}");
        }
        for (status, code) in [(401, 400_002), (429, 429_000), (503, 0), (400, 400_100)] {
            assert!(!is_auth_refusal(status, code), "{status} {code}");
        }
        let venue = |code| GatewayError::Venue { method: "GET", url: "u".into(), status: 401, code, msg: "m".into() };
        assert!(venue(400_005).for_account(AccountId(1), is_auth_refusal).is_auth_rejected());
        assert!(!venue(400_002).for_account(AccountId(1), is_auth_refusal).is_auth_rejected());
    }
}
