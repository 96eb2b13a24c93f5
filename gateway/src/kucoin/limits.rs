//! KuCoin's request limits as the kit's rate limiter reads them ([`crate::kit::rate_limit`]).
//!
//! Source: `NOTES-orders.md` §4 ([MIRROR] of the docs' "Rate limit" page): per-UID resource
//! pools of weight per 30 s — VIP0 Spot 4000 (order entry and queries), Management 2000
//! (accounts, counted apart by [`crate::kucoin::account`]'s own connection), Public 2000 per
//! IP; exceeding one answers HTTP 429 with code 429000. Weights: place 1, cancel 1, cancel all
//! of a symbol 2, open orders 2 ([DOC] spec); one order and `hf/fills` are [RECALL] 2.
//! The answers carry `gw-ratelimit-remaining` / `gw-ratelimit-reset` (what is left and when the
//! pool refills, not fixed windows), which the kit's limiter (used counts in fixed windows)
//! cannot read as such: the pool is counted locally in 30 s windows — a burst straddling two
//! windows may reach the venue's 429, which backs off (`Retry-After`-less: the kit's default).
//! KuCoin's older HF docs (`testdata/kucoin/orders/SOURCES.md`) limit `hf/fills` to 9 requests
//! per 3 s per account; the gateway asks it once per fill push (the push has no fee), so an
//! order filled in many small trades can meet that limit on the real venue: its 429 backs off,
//! and the order is queried afterwards (its trades listed then, or the rest booked with the
//! order's cumulative fee).
//! Pure data.

use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};

/// The rules: the Spot pool per account (its index is [`ORDER_RULE`]).
pub(crate) const RULES: &[LimitRule] =
    &[LimitRule { header: None, counts: Counts::Weight, scope: Scope::Account, limit: 4000, window_ms: 30_000 }];

/// Index of the rule new orders count against in [`RULES`].
pub(crate) const ORDER_RULE: usize = 0;

/// `POST /api/v1/hf/orders`.
pub(crate) const NEW_ORDER: Cost = Cost::order(1);
/// `DELETE /api/v1/hf/orders/client-order/{clientOid}`.
pub(crate) const CANCEL: Cost = Cost::weight(1);
/// `DELETE /api/v1/hf/orders?symbol=`.
pub(crate) const CANCEL_ALL: Cost = Cost::weight(2);
/// `GET /api/v1/hf/orders/client-order/{clientOid}`, `GET /api/v1/hf/fills`.
pub(crate) const QUERY: Cost = Cost::weight(2);
