//! Bybit's request limits as the kit's rate limiter reads them ([`crate::kit::rate_limit`]).
//!
//! Source: `docs/v5/rate-limit.mdx` via `/work/shared/venues/NOTES-orders.md` §2: limits are
//! per UID, per endpoint, per second — create / cancel / cancel-all 10/s on linear and 20/s on
//! spot, `order/realtime` 50/s — and each answer carries `X-Bapi-Limit` (the endpoint's limit)
//! and `X-Bapi-Limit-Status` (what is *left* in the window). The kit's rules read a used count,
//! so the gateway turns the pair into one ([`used_from_headers`]) and offers it under
//! [`USED_HEADER`] for the order-entry rule, on order-entry answers only (the pair describes the
//! endpoint that answered). The order rule uses the lower, linear, figure for both categories:
//! a spot burst is paced earlier than Bybit would, never later. Pure data.

use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};

/// The name under which the gateway offers the order-entry endpoint's used count.
pub(crate) const USED_HEADER: &str = "x-qt-bybit-order-used";

/// The rules, order entry first (its index is [`ORDER_RULE`]).
pub(crate) const RULES: &[LimitRule] = &[
    LimitRule { header: Some(USED_HEADER), counts: Counts::Orders, scope: Scope::Account, limit: 10, window_ms: 1000 },
    // Queries (realtime, wallet, positions): 50/s per UID, counted locally.
    LimitRule { header: None, counts: Counts::Weight, scope: Scope::Account, limit: 50, window_ms: 1000 },
];

/// Index of the order-entry rule in [`RULES`].
pub(crate) const ORDER_RULE: usize = 0;

/// `POST /v5/order/create`.
pub(crate) const NEW_ORDER: Cost = Cost::order(0);
/// `POST /v5/order/cancel`, `cancel-all` (order-entry endpoints; their own windows at Bybit).
pub(crate) const CANCEL: Cost = Cost::weight(0);
/// `GET /v5/order/realtime`.
pub(crate) const QUERY: Cost = Cost::weight(1);

/// The used count of a window from Bybit's `X-Bapi-Limit` and `X-Bapi-Limit-Status` (left).
pub(crate) fn used_from_headers(limit: Option<&str>, left: Option<&str>) -> Option<u32> {
    let limit = limit?.trim().parse::<u32>().ok()?;
    let left = left?.trim().parse::<u32>().ok()?;
    Some(limit.saturating_sub(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remaining_count_becomes_a_used_count() {
        assert_eq!(used_from_headers(Some("10"), Some("7")), Some(3));
        assert_eq!(used_from_headers(Some("20"), Some("0")), Some(20));
        assert_eq!(used_from_headers(Some("10"), None), None);
        assert_eq!(used_from_headers(Some("x"), Some("1")), None);
    }
}
