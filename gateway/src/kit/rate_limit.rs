//! The kit's rate limiter: one per gateway, fed by the venue's response headers (the used
//! weight or order count the venue reports) or, where a venue reports nothing, by its documented
//! per-endpoint costs counted locally. A venue is a table of [`LimitRule`]s.
//!
//! Policy, the same for every venue:
//! - Slow down before the venue's limit: at [`SLOWDOWN_PERCENT`] of a rule's limit each request
//!   waits [`Decision::Pace`] first, and cold work (reconciliation queries) is deferred.
//! - Refuse locally past it: a request whose cost would take a rule beyond its limit is not
//!   sent ([`Decision::Refuse`]; orders are rejected `RateLimited`, never queued).
//! - Honour `Retry-After` on 429 and 418: nothing is sent until it has passed (seconds, as
//!   Binance and RFC 9110 send it; [`DEFAULT_RETRY_AFTER`] when absent or unreadable).
//!
//! Windows are fixed intervals of the venue's clock (Binance: "per calendar minute", 10 s,
//! day), so the limiter takes the venue's time in milliseconds (the server-time estimate of
//! [`crate::kit::time_sync`]): a count learnt in one window is forgotten when the next begins.
//! Rules count per IP (one gateway connection) or per account ([`Scope`]).
//!
//! Owned by one gateway thread; no allocation after construction; pure arithmetic (the caller
//! sleeps for a pace).

use std::time::{Duration, Instant};

/// Percentage of a rule's limit from which requests are paced and cold work deferred.
pub const SLOWDOWN_PERCENT: u32 = 90;
/// Wait before each request while a rule is above [`SLOWDOWN_PERCENT`].
pub const PACE: Duration = Duration::from_millis(20);
/// Back-off after a 429/418 whose `Retry-After` is absent or unreadable.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    /// Request weight (every request).
    Weight,
    /// New orders.
    Orders,
}

/// Whom a rule counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The connection (IP): one count for every account of the gateway.
    Ip,
    /// Each account on its own.
    Account,
}

/// One of a venue's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule {
    /// The response header that reports the used amount (lower-case), if the venue sends one.
    pub header: Option<&'static str>,
    /// What it counts.
    pub counts: Counts,
    /// Whom it counts for.
    pub scope: Scope,
    /// The venue's limit per window.
    pub limit: u32,
    /// The window, milliseconds of the venue's clock (windows start at multiples of it).
    pub window_ms: i64,
}

/// What one request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Its documented weight.
    pub weight: u32,
    /// New orders it places (0 or 1).
    pub orders: u32,
}

impl Cost {
    /// A request of `weight` placing no order.
    pub const fn weight(weight: u32) -> Self {
        Self { weight, orders: 0 }
    }

    /// A new order of `weight`.
    pub const fn order(weight: u32) -> Self {
        Self { weight, orders: 1 }
    }

    fn of(self, counts: Counts) -> u32 {
        match counts {
            Counts::Weight => self.weight,
            Counts::Orders => self.orders,
        }
    }
}

/// Whether a request may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it now.
    Go,
    /// Near a limit: wait this long, then send it.
    Pace(Duration),
    /// Do not send it: past a limit, or backing off after a 429/418.
    Refuse,
}

/// One rule's count in one scope.
#[derive(Debug, Clone, Copy, Default)]
struct Used {
    /// The window the count belongs to (venue ms / window).
    window: i64,
    /// Used in that window: the venue's last report plus what was spent since.
    used: u32,
}

/// A venue's limits and where the gateway stands against them.
#[derive(Debug)]
pub struct RateLimiter {
    rules: &'static [LimitRule],
    accounts: usize,
    /// `rules.len()` counts per scope: scope 0 for IP rules, 0..accounts for account rules.
    used: Vec<Used>,
    backoff_until: Option<Instant>,
    max_used: Vec<u32>,
}

impl RateLimiter {
    /// A limiter of `rules` for a gateway of `accounts` accounts (at least one slot).
    pub fn new(rules: &'static [LimitRule], accounts: usize) -> Self {
        let accounts = accounts.max(1);
        Self {
            rules,
            accounts,
            used: vec![Used::default(); rules.len() * accounts],
            backoff_until: None,
            max_used: vec![0; rules.len()],
        }
    }

    fn slot(&self, rule: usize, account: usize) -> usize {
        let scope = match self.rules[rule].scope {
            Scope::Ip => 0,
            Scope::Account => account.min(self.accounts - 1),
        };
        rule * self.accounts + scope
    }

    /// Rule `rule`'s count for `account` at venue time `venue_ms` (0 once its window is over).
    pub fn used(&self, rule: usize, account: usize, venue_ms: i64) -> u32 {
        let Some(r) = self.rules.get(rule) else { return 0 };
        let u = self.used[self.slot(rule, account)];
        if u.window == venue_ms.div_euclid(r.window_ms) { u.used } else { 0 }
    }

    /// The largest count the venue reported (or was spent) for rule `rule`.
    pub fn max_used(&self, rule: usize) -> u32 {
        self.max_used.get(rule).copied().unwrap_or(0)
    }

    /// Whether a 429/418 back-off is running at `now`.
    pub fn backing_off(&mut self, now: Instant) -> bool {
        match self.backoff_until {
            Some(t) if now < t => true,
            Some(_) => {
                self.backoff_until = None;
                false
            }
            None => false,
        }
    }

    /// When the running back-off ends.
    pub fn backoff_until(&self) -> Option<Instant> {
        self.backoff_until
    }

    /// Whether `account` is near a limit ([`SLOWDOWN_PERCENT`]) or backing off: cold work waits.
    pub fn near_limit(&mut self, now: Instant, account: usize, venue_ms: i64) -> bool {
        self.backing_off(now)
            || (0..self.rules.len()).any(|i| {
                let limit = self.rules[i].limit;
                limit > 0
                    && u64::from(self.used(i, account, venue_ms)) * 100
                        >= u64::from(limit) * u64::from(SLOWDOWN_PERCENT)
            })
    }

    /// Whether a request of `cost` for `account` may go at `now` / venue time `venue_ms`.
    pub fn check(&mut self, now: Instant, account: usize, venue_ms: i64, cost: Cost) -> Decision {
        if self.backing_off(now) {
            return Decision::Refuse;
        }
        let mut pace = false;
        for (i, rule) in self.rules.iter().enumerate() {
            let add = cost.of(rule.counts);
            if add == 0 {
                continue;
            }
            let used = self.used(i, account, venue_ms);
            if used.saturating_add(add) > rule.limit {
                return Decision::Refuse;
            }
            if u64::from(used) * 100 >= u64::from(rule.limit) * u64::from(SLOWDOWN_PERCENT) {
                pace = true;
            }
        }
        if pace { Decision::Pace(PACE) } else { Decision::Go }
    }

    /// Counts a request of `cost` sent for `account` (before its answer says more).
    pub fn spend(&mut self, account: usize, venue_ms: i64, cost: Cost) {
        for i in 0..self.rules.len() {
            let add = cost.of(self.rules[i].counts);
            if add > 0 {
                let now_used = self.used(i, account, venue_ms).saturating_add(add);
                self.set(i, account, venue_ms, now_used);
            }
        }
    }

    fn set(&mut self, rule: usize, account: usize, venue_ms: i64, used: u32) {
        let window = venue_ms.div_euclid(self.rules[rule].window_ms);
        let slot = self.slot(rule, account);
        self.used[slot] = Used { window, used };
        self.max_used[rule] = self.max_used[rule].max(used);
    }

    /// Learns from an answer to `account`'s request: each rule's header (the venue's own count
    /// replaces ours), and a 429/418's `Retry-After`. `header` looks a header up by its
    /// lower-case name. Returns the back-off started, if any.
    pub fn on_response(
        &mut self,
        now: Instant,
        account: usize,
        venue_ms: i64,
        status: u16,
        header: impl Fn(&str) -> Option<String>,
    ) -> Option<Duration> {
        for i in 0..self.rules.len() {
            if let Some(used) = self.rules[i].header.and_then(&header).and_then(|v| v.trim().parse::<u32>().ok()) {
                self.set(i, account, venue_ms, used);
            }
        }
        if !matches!(status, 418 | 429) {
            return None;
        }
        let wait = retry_after(header("retry-after").as_deref());
        let until = now + wait;
        self.backoff_until = Some(self.backoff_until.map_or(until, |t| t.max(until)));
        Some(wait)
    }
}

/// A `Retry-After` value: whole seconds (an HTTP date is not used by the venues we trade; it,
/// like a missing or unreadable value, means [`DEFAULT_RETRY_AFTER`]).
pub fn retry_after(value: Option<&str>) -> Duration {
    value.and_then(|v| v.trim().parse::<u64>().ok()).map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[LimitRule] = &[
        LimitRule {
            header: Some("x-used-weight-1m"),
            counts: Counts::Weight,
            scope: Scope::Ip,
            limit: 100,
            window_ms: 60_000,
        },
        LimitRule {
            header: Some("x-order-count-10s"),
            counts: Counts::Orders,
            scope: Scope::Account,
            limit: 3,
            window_ms: 10_000,
        },
    ];

    fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn counts_roll_over_with_the_venue_window() {
        let mut l = RateLimiter::new(RULES, 2);
        let t = 1_700_000_020_000; // 40 s into a minute, at a 10 s boundary.
        l.spend(0, t, Cost::order(1));
        l.spend(0, t + 9_999, Cost::order(1));
        assert_eq!(l.used(1, 0, t + 9_999), 2, "same 10 s window");
        assert_eq!(l.used(1, 1, t + 9_999), 0, "orders count per account");
        assert_eq!(l.used(0, 1, t + 9_999), 2, "weight counts per IP, whichever account");
        assert_eq!(l.used(1, 0, t + 10_000), 0, "a new 10 s window");
        assert_eq!(l.used(0, 0, t + 10_000), 2, "still the same minute");
        assert_eq!(l.used(0, 0, t + 20_000), 0, "a new minute");
    }

    #[test]
    fn the_venue_header_replaces_the_local_count_and_limits_pace_then_refuse() {
        let mut l = RateLimiter::new(RULES, 1);
        let (now, t) = (Instant::now(), 1_700_000_000_000);
        l.spend(0, t, Cost::weight(5));
        assert_eq!(l.on_response(now, 0, t, 200, headers(&[("x-used-weight-1m", "89")])), None);
        assert_eq!(l.used(0, 0, t), 89);
        assert_eq!(l.check(now, 0, t, Cost::weight(1)), Decision::Go, "89 is below 90 %");
        l.on_response(now, 0, t, 200, headers(&[("x-used-weight-1m", " 90 ")]));
        assert_eq!(l.check(now, 0, t, Cost::weight(1)), Decision::Pace(PACE));
        assert!(l.near_limit(now, 0, t));
        assert_eq!(l.check(now, 0, t, Cost::weight(10)), Decision::Pace(PACE), "90 + 10 reaches the limit, not beyond");
        assert_eq!(l.check(now, 0, t, Cost::weight(11)), Decision::Refuse, "90 + 11 > 100");
        l.on_response(now, 0, t, 200, headers(&[("x-used-weight-1m", "junk")]));
        assert_eq!(l.used(0, 0, t), 90, "an unreadable header changes nothing");
        // Orders: three per 10 s (2 of 3 is below 90 %; the weight rule is skipped at weight 0).
        l.on_response(now, 0, t, 200, headers(&[("x-order-count-10s", "2")]));
        assert_eq!(l.check(now, 0, t, Cost::order(0)), Decision::Go);
        l.on_response(now, 0, t, 200, headers(&[("x-order-count-10s", "3")]));
        assert_eq!(l.check(now, 0, t, Cost::order(0)), Decision::Refuse);
        assert_eq!(l.max_used(0), 90);
        assert_eq!(l.max_used(1), 3);
    }

    #[test]
    fn retry_after_stops_everything_until_it_passes() {
        let mut l = RateLimiter::new(RULES, 1);
        let (now, t) = (Instant::now(), 1_700_000_000_000);
        assert_eq!(l.on_response(now, 0, t, 429, headers(&[("retry-after", "2")])), Some(Duration::from_secs(2)));
        assert_eq!(l.check(now + Duration::from_millis(1999), 0, t, Cost::weight(1)), Decision::Refuse);
        assert!(l.near_limit(now + Duration::from_millis(1999), 0, t));
        assert_eq!(l.check(now + Duration::from_secs(2), 0, t, Cost::weight(1)), Decision::Go);
        assert_eq!(l.backoff_until(), None);
        // 418 without a readable Retry-After: the default.
        assert_eq!(
            l.on_response(now, 0, t, 418, headers(&[("retry-after", "Wed, 21 Oct 2015")])),
            Some(DEFAULT_RETRY_AFTER)
        );
        // A shorter back-off never shortens a running one.
        l.on_response(now, 0, t, 429, headers(&[("retry-after", "10")]));
        l.on_response(now, 0, t, 429, headers(&[("retry-after", "1")]));
        assert_eq!(l.backoff_until(), Some(now + Duration::from_secs(10)));
        assert_eq!(retry_after(None), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(Some("120")), Duration::from_secs(120));
    }
}
