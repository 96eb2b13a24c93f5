//! Kraken's request limits as the kit's rate limiter reads them ([`crate::kit::rate_limit`]).
//!
//! Source: `NOTES-orders.md` §5 "Rate limits" [RECALL]: a REST call counter per key (Starter
//! at most 15, decaying 0.33/s; Intermediate 20, 0.5/s; Pro 20, 1/s; AddOrder and CancelOrder
//! do not count on it) and a per-pair trading counter (`maxratecount` 60, 125 or 180 by tier).
//! Kraken sends no usage headers, so both count locally, as windows: 15 queries per 45 s (the
//! Starter tier's burst and decay, the strictest reading) and 60 orders or cancels per 10 s per
//! account (all pairs together). `EAPI:Rate limit exceeded` stops sending for a second. Pure data.

use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};

/// The rules, order entry first (its index is [`ORDER_RULE`]).
pub(crate) const RULES: &[LimitRule] = &[
    LimitRule { header: None, counts: Counts::Orders, scope: Scope::Account, limit: 60, window_ms: 10_000 },
    // The REST call counter (queries, CancelAll, the dead-man's switch, tokens).
    LimitRule { header: None, counts: Counts::Weight, scope: Scope::Account, limit: 15, window_ms: 45_000 },
];

/// Index of the order-entry rule in [`RULES`].
pub(crate) const ORDER_RULE: usize = 0;

/// AddOrder (the trading counter).
pub(crate) const NEW_ORDER: Cost = Cost::order(0);
/// CancelOrder (the trading counter, counted with the orders' rule as an order would be).
pub(crate) const CANCEL: Cost = Cost::order(0);
/// A query, CancelAll, CancelAllOrdersAfter: one on the REST counter.
pub(crate) const QUERY: Cost = Cost::weight(1);
/// TradesHistory: two on the REST counter.
pub(crate) const HISTORY: Cost = Cost::weight(2);
