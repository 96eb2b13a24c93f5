//! OKX's request limits as the kit's rate limiter reads them ([`crate::kit::rate_limit`]).
//!
//! Source: `NOTES-orders.md` §3 ([MIRROR] of the docs' "Rate limit" lines): place order 60
//! requests per 2 s (per user and instrument), cancel order 60 / 2 s, cancel-batch 300 orders
//! / 2 s, order queries (`trade/order`, `orders-pending`, `fills`) 60 / 2 s. OKX answers
//! carry no usage headers, so every rule counts locally; the order rule is per user (all
//! instruments together): a burst on several instruments is paced earlier than OKX would,
//! never later. Pure data.

use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};

/// The rules, order entry first (its index is [`ORDER_RULE`]).
pub(crate) const RULES: &[LimitRule] = &[
    LimitRule { header: None, counts: Counts::Orders, scope: Scope::Account, limit: 60, window_ms: 2000 },
    // Cancels (one weight per cancelled order: cancel-order 1, cancel-batch its size).
    LimitRule { header: None, counts: Counts::Weight, scope: Scope::Account, limit: 60, window_ms: 2000 },
];

/// Index of the order-entry rule in [`RULES`].
pub(crate) const ORDER_RULE: usize = 0;

/// `POST /api/v5/trade/order`.
pub(crate) const NEW_ORDER: Cost = Cost::order(0);
/// `POST /api/v5/trade/cancel-order`.
pub(crate) const CANCEL: Cost = Cost::weight(1);
/// `GET /api/v5/trade/order`, `orders-pending`, `fills` (their own 60 / 2 s windows at OKX;
/// counted with the cancels here, the stricter reading).
pub(crate) const QUERY: Cost = Cost::weight(1);
