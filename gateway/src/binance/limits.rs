//! Binance spot's request limits as the kit's rate limiter reads them
//! ([`crate::kit::rate_limit`]): the rules and their headers, and each endpoint's weight.
//!
//! Source: `/work/shared/venues/NOTES-orders.md` (Binance spot, from binance-spot-api-docs
//! `rest-api.md` and `errors.md`): REQUEST_WEIGHT 6000 per minute per IP, reported in
//! `X-MBX-USED-WEIGHT-1M`; ORDERS 50 per 10 s and 160,000 per day per account, reported in
//! `X-MBX-ORDER-COUNT-10S` / `-1D` (the docs' `exchangeInfo` examples; older pages say 100 per
//! 10 s — the lower figure is used, and the venue's own headers correct our count on every
//! answer). Weights: order place/cancel 1, cancel-all 1, order query 4, `myTrades` with
//! `orderId` 5, account 20, time 1. Pure data.

use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};

/// The rules, weight first (its index is [`WEIGHT_RULE`]).
pub(crate) const RULES: &[LimitRule] = &[
    LimitRule {
        header: Some("x-mbx-used-weight-1m"),
        counts: Counts::Weight,
        scope: Scope::Ip,
        limit: 6000,
        window_ms: 60_000,
    },
    LimitRule {
        header: Some("x-mbx-order-count-10s"),
        counts: Counts::Orders,
        scope: Scope::Account,
        limit: 50,
        window_ms: 10_000,
    },
    LimitRule {
        header: Some("x-mbx-order-count-1d"),
        counts: Counts::Orders,
        scope: Scope::Account,
        limit: 160_000,
        window_ms: 86_400_000,
    },
];

/// Index of the REQUEST_WEIGHT rule in [`RULES`].
pub(crate) const WEIGHT_RULE: usize = 0;

/// `POST /api/v3/order`.
pub(crate) const NEW_ORDER: Cost = Cost::order(1);
/// `DELETE /api/v3/order`, and `DELETE /api/v3/openOrders` per symbol.
pub(crate) const CANCEL: Cost = Cost::weight(1);
/// `GET /api/v3/order`.
pub(crate) const QUERY_ORDER: Cost = Cost::weight(4);
/// `GET /api/v3/myTrades?orderId=`.
pub(crate) const MY_TRADES: Cost = Cost::weight(5);
/// `GET /api/v3/time`.
pub(crate) const TIME: Cost = Cost::weight(1);
