//! Kraken's error texts (`NOTES-orders.md` §5 "Error strings", support.kraken.com "API error
//! messages"): which refuse the credentials ([`is_auth_refusal`]), which mean the order is not
//! working ([`is_unknown_order`]), and the table onto [`RejectReason`] ([`reject_reason`]).
//! Kraken writes `<E|W><Category>:<Message>[:extra]`; matching is on the category and message,
//! so an `:extra` detail (`EGeneral:Invalid arguments:volume`) maps like the bare text.
//!
//! Pure functions; no allocation.

use qt_core::RejectReason;

/// The `<E><Category>:<Message>` head of an error text (without an `:extra`).
pub fn head(text: &str) -> &str {
    match text.match_indices(':').nth(1) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Whether an error refuses the credentials (key, signature, permission) rather than a
/// transient failure. A refused nonce is not: the next nonce is higher.
pub fn is_auth_refusal(text: &str) -> bool {
    matches!(head(text), "EAPI:Invalid key" | "EAPI:Invalid signature" | "EGeneral:Permission denied")
}

/// Whether the nonce was refused (`EAPI:Invalid nonce`).
pub fn is_nonce_refusal(text: &str) -> bool {
    head(text) == "EAPI:Invalid nonce"
}

/// Whether a rate limit refused the request (the gateway backs off).
pub fn is_rate_limit(text: &str) -> bool {
    matches!(head(text), "EAPI:Rate limit exceeded" | "EOrder:Rate limit exceeded" | "EGeneral:Temporary lockout")
}

/// Whether a cancel's or query's refusal means the venue has no such working order.
pub fn is_unknown_order(text: &str) -> bool {
    matches!(head(text), "EOrder:Unknown order" | "EOrder:Invalid order")
}

/// The reason a new order was refused.
pub fn reject_reason(text: &str) -> RejectReason {
    match head(text) {
        "EOrder:Insufficient funds" | "EOrder:Insufficient margin" => RejectReason::InsufficientBalance,
        "EOrder:Order minimum not met" => RejectReason::LotSize,
        "EOrder:Cost minimum not met" => RejectReason::MinNotional,
        "EOrder:Post only order" => RejectReason::WouldTakeLiquidity,
        "EQuery:Unknown asset pair" => RejectReason::UnknownInstrument,
        "EOrder:Orders limit exceeded" => RejectReason::TooManyOpenOrders,
        "EAPI:Rate limit exceeded" | "EOrder:Rate limit exceeded" | "EGeneral:Temporary lockout" => {
            RejectReason::RateLimited
        }
        "EGeneral:Invalid arguments" => match text.rsplit(':').next() {
            Some("price") => RejectReason::PriceFilter,
            Some("volume") => RejectReason::LotSize,
            _ => RejectReason::Other,
        },
        _ => RejectReason::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_drop_the_extra_detail() {
        assert_eq!(head("EGeneral:Invalid arguments:volume"), "EGeneral:Invalid arguments");
        assert_eq!(head("EOrder:Insufficient funds"), "EOrder:Insufficient funds");
        assert_eq!(head("garbage"), "garbage");
    }
}
