//! The router: which venue of an account's chain a new order goes to, and when that changes.
//!
//! Each account has a venue chain (config order = preference). The router keeps one *selected*
//! venue per account: the first venue of the chain that is healthy. When the selected venue
//! turns unhealthy the selection moves at once to the first healthy venue (one healthy for
//! [`RouterSettings::return_after`] preferred, else any); moving back to an earlier venue
//! (towards the primary) waits until that venue has been healthy continuously for
//! `return_after` (hysteresis: a flapping primary does not pull orders back and forth). Every
//! change is a [`Failover`], which the engine journals, logs and counts.
//!
//! An order is routed once, when it is created ([`Router::route`]): to the selected venue if
//! it lists the order's canonical instrument, else to the next venue after it in the chain
//! that lists it and is healthy, else to an earlier one that lists it and is healthy (the
//! hysteresis holds back the selection, not an order the selected venue cannot take: e.g. at
//! start, when the primary's books sync a moment after the secondary's). The order then lives at that venue; nothing re-sends it
//! elsewhere, and its cancels follow it there.
//!
//! Thread: built at start-up (allocates the chains), then owned by the core thread; every
//! method is a walk over a chain of a few entries (no allocation, no lock).

use crate::ids::{AccountId, InstrumentId, VenueId};
use crate::time::Nanos;

/// Router settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterSettings {
    /// How long an earlier venue of the chain must be healthy before orders go back to it.
    pub return_after: Nanos,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self { return_after: Nanos(30 * Nanos::SECOND.0) }
    }
}

/// A change of an account's selected venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failover {
    /// The account.
    pub account: AccountId,
    /// Its primary (the chain's first venue).
    pub primary: VenueId,
    /// The venue selected before (`None`: none was healthy).
    pub from: Option<VenueId>,
    /// The venue selected now (`None`: none is healthy; orders are refused).
    pub to: Option<VenueId>,
}

/// Where an order goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To this venue, as this instrument (the sibling listed there).
    To(VenueId, InstrumentId),
    /// The chain lists the instrument, but no venue that lists it is usable now: refuse.
    NoHealthyVenue,
    /// No venue of the chain lists it (or the account has no chain): the caller keeps the
    /// instrument's own venue.
    Unrouted,
}

#[derive(Debug, Clone)]
struct AccountRoute {
    chain: Vec<VenueId>,
    /// Since when each chain venue has been healthy without a break (`None`: unhealthy).
    healthy_since: Vec<Option<Nanos>>,
    /// Index into `chain` of the selected venue.
    selected: Option<usize>,
}

/// The routers of every account (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Router {
    accounts: Vec<AccountRoute>,
    settings: RouterSettings,
}

impl Router {
    /// A router over each account's chain (by account index); each starts on its primary.
    pub fn new(chains: Vec<Vec<VenueId>>, settings: RouterSettings) -> Self {
        let accounts = chains
            .into_iter()
            .map(|chain| AccountRoute {
                healthy_since: vec![None; chain.len()],
                selected: if chain.is_empty() { None } else { Some(0) },
                chain,
            })
            .collect();
        Self { accounts, settings }
    }

    /// The settings.
    pub fn settings(&self) -> RouterSettings {
        self.settings
    }

    /// Accounts routed.
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }

    /// `account`'s chain (empty: not routed).
    pub fn chain(&self, account: AccountId) -> &[VenueId] {
        self.accounts.get(account.index()).map_or(&[], |a| a.chain.as_slice())
    }

    /// `account`'s selected venue.
    pub fn selected(&self, account: AccountId) -> Option<VenueId> {
        let a = self.accounts.get(account.index())?;
        a.selected.and_then(|s| a.chain.get(s).copied())
    }

    /// Takes `account`'s venues' health at `now` (`healthy(v)`) and moves its selection by the
    /// policy of the module doc; the change, if any.
    pub fn on_health(&mut self, account: AccountId, healthy: impl Fn(VenueId) -> bool, now: Nanos) -> Option<Failover> {
        let hold = self.settings.return_after;
        let a = self.accounts.get_mut(account.index())?;
        for (v, since) in a.chain.iter().zip(a.healthy_since.iter_mut()) {
            *since = if healthy(*v) { Some(since.unwrap_or(now)) } else { None };
        }
        let held = |k: &usize| a.healthy_since[*k].is_some_and(|t| now.saturating_sub(t) >= hold);
        let target = match a.selected {
            Some(s) if a.healthy_since[s].is_some() => (0..s).find(held).or(Some(s)),
            _ => (0..a.chain.len()).find(held).or_else(|| (0..a.chain.len()).find(|k| a.healthy_since[*k].is_some())),
        };
        if target == a.selected {
            return None;
        }
        let from = a.selected.map(|s| a.chain[s]);
        a.selected = target;
        Some(Failover { account, primary: a.chain[0], from, to: target.map(|t| a.chain[t]) })
    }

    /// Every account back on its primary with no health history (a run begins).
    pub fn restart(&mut self) {
        for a in &mut self.accounts {
            a.selected = if a.chain.is_empty() { None } else { Some(0) };
            a.healthy_since.fill(None);
        }
    }

    /// Applies a recorded change (replay): the selection becomes `f.to`.
    pub fn apply(&mut self, f: &Failover) {
        if let Some(a) = self.accounts.get_mut(f.account.index()) {
            a.selected = f.to.and_then(|v| a.chain.iter().position(|c| *c == v));
        }
    }

    /// Where `account`'s new order goes: `listed(v)` is the sibling of its instrument at venue
    /// `v` (if `v` lists it), `usable(v)` whether a venue after the selected one may take it.
    #[inline]
    pub fn route(
        &self,
        account: AccountId,
        listed: impl Fn(VenueId) -> Option<InstrumentId>,
        usable: impl Fn(VenueId) -> bool,
    ) -> Route {
        let Some(a) = self.accounts.get(account.index()) else { return Route::Unrouted };
        if let Some(s) = a.selected {
            for (k, v) in a.chain.iter().enumerate().skip(s) {
                if (k == s || usable(*v))
                    && let Some(i) = listed(*v)
                {
                    return Route::To(*v, i);
                }
            }
            // An earlier venue that lists it and is usable: the hysteresis holds back the
            // selection, not orders the selected venue cannot take at all.
            for v in a.chain.iter().take(s) {
                if usable(*v)
                    && let Some(i) = listed(*v)
                {
                    return Route::To(*v, i);
                }
            }
        }
        if a.chain.iter().any(|v| listed(*v).is_some()) { Route::NoHealthyVenue } else { Route::Unrouted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: VenueId = VenueId(0);
    const B: VenueId = VenueId(1);
    const C: VenueId = VenueId(2);
    const ACC: AccountId = AccountId(0);

    fn s(n: i64) -> Nanos {
        Nanos(n * Nanos::SECOND.0)
    }

    fn router() -> Router {
        Router::new(vec![vec![A, B, C]], RouterSettings { return_after: s(10) })
    }

    /// Health as a list of the venues up.
    fn up(vs: &'static [VenueId]) -> impl Fn(VenueId) -> bool {
        move |v| vs.contains(&v)
    }

    #[test]
    fn a_dead_primary_fails_over_at_once_and_returns_only_after_the_hold() {
        let mut r = router();
        assert_eq!(r.on_health(ACC, up(&[A, B, C]), s(0)), None);
        assert_eq!(r.selected(ACC), Some(A));
        let f = r.on_health(ACC, up(&[B, C]), s(1)).unwrap();
        assert_eq!(f, Failover { account: ACC, primary: A, from: Some(A), to: Some(B) });
        // A is back at 2 s: still B until A has been healthy 10 s.
        assert_eq!(r.on_health(ACC, up(&[A, B, C]), s(2)), None);
        assert_eq!(r.on_health(ACC, up(&[A, B, C]), s(11)), None);
        assert_eq!(r.selected(ACC), Some(B));
        // A flaps at 11.5 s: its clock restarts.
        assert_eq!(r.on_health(ACC, up(&[B, C]), Nanos(s(11).0 + 500_000_000)), None);
        assert_eq!(r.on_health(ACC, up(&[A, B, C]), s(13)), None);
        assert_eq!(r.on_health(ACC, up(&[A, B, C]), s(22)), None);
        let back = r.on_health(ACC, up(&[A, B, C]), s(23)).unwrap();
        assert_eq!(back, Failover { account: ACC, primary: A, from: Some(B), to: Some(A) });
    }

    #[test]
    fn every_venue_down_selects_none_and_routes_nothing() {
        let mut r = router();
        r.on_health(ACC, up(&[A, B, C]), s(0));
        let f = r.on_health(ACC, up(&[]), s(1)).unwrap();
        assert_eq!((f.from, f.to), (Some(A), None));
        let listed_everywhere = |_v: VenueId| Some(InstrumentId(7));
        assert_eq!(r.route(ACC, listed_everywhere, |_| true), Route::NoHealthyVenue);
        // Anything healthy beats nothing, hold or not.
        let f = r.on_health(ACC, up(&[C]), s(2)).unwrap();
        assert_eq!((f.from, f.to), (None, Some(C)));
        assert_eq!(r.route(ACC, listed_everywhere, |_| true), Route::To(C, InstrumentId(7)));
    }

    #[test]
    fn an_order_goes_to_the_next_healthy_venue_that_lists_its_instrument() {
        let mut r = router();
        r.on_health(ACC, up(&[A, B, C]), s(0));
        // Listed at A and C only.
        let listed = |v: VenueId| match v {
            A => Some(InstrumentId(0)),
            C => Some(InstrumentId(2)),
            _ => None,
        };
        assert_eq!(r.route(ACC, listed, |_| true), Route::To(A, InstrumentId(0)));
        r.on_health(ACC, up(&[B, C]), s(1));
        assert_eq!(r.selected(ACC), Some(B));
        // B is selected but does not list it: C, the next that does and is usable.
        assert_eq!(r.route(ACC, listed, |_| true), Route::To(C, InstrumentId(2)));
        assert_eq!(r.route(ACC, listed, |v| v == B), Route::NoHealthyVenue);
        // A is healthy again but not yet for `return_after` (B stays selected): an instrument
        // B does not list goes to A rather than being refused.
        r.on_health(ACC, up(&[A, B, C]), s(2));
        assert_eq!(r.selected(ACC), Some(B));
        assert_eq!(r.route(ACC, listed, |v| v != C), Route::To(A, InstrumentId(0)));
        // Listed nowhere in the chain: the caller keeps the instrument's own venue.
        assert_eq!(r.route(ACC, |_| None, |_| true), Route::Unrouted);
        assert_eq!(Router::default().route(ACC, listed, |_| true), Route::Unrouted);
    }

    #[test]
    fn replay_applies_a_recorded_change() {
        let mut r = router();
        r.apply(&Failover { account: ACC, primary: A, from: Some(A), to: Some(C) });
        assert_eq!(r.selected(ACC), Some(C));
        r.apply(&Failover { account: ACC, primary: A, from: Some(C), to: None });
        assert_eq!(r.selected(ACC), None);
        // A new run starts on the primary, as a fresh engine does.
        r.restart();
        assert_eq!(r.selected(ACC), Some(A));
    }
}
