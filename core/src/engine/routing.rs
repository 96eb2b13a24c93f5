//! The engine's routing and health hooks ([`crate::routing`]): where a new order goes, what
//! each report and send tells the venue's health, the live timer's judgement of every venue
//! and account × venue, and the failover records it journals.
//!
//! Routing is decided by journaled state only — the router's selection (moved by
//! [`JournalEvent::Failover`] records) and the timer's venue bitmask — so a replay routes every
//! order as the live run did. The health judgement itself runs on the live monotonic timer and
//! is not replayed: what it decided is in those records.

use super::*;
use crate::routing::{Failover, HealthSettings, RejectWindow, Route, Router, RoutingPlan, Siblings, VenueHealth};

/// The core's routing state.
#[derive(Debug)]
pub(super) struct Routing {
    pub(super) router: Router,
    pub(super) siblings: Siblings,
    pub(super) settings: HealthSettings,
    /// Per venue link.
    pub(super) venues: Vec<VenueHealth>,
    /// `[account][venue]`: the account's own reject window there, and its last verdict.
    pub(super) accounts: Vec<Vec<(RejectWindow, bool)>>,
    /// By order table slot (id mod capacity, as the table places it): the id of the order
    /// sent there still waiting for the venue's first answer (0: none). The order's status
    /// cannot tell: a cancel sent before the venue's acknowledgement changes it.
    awaiting: Vec<u64>,
}

impl Routing {
    pub(super) fn new(accounts: usize, instruments: &InstrumentRegistry, max_open_orders: usize) -> Self {
        Self {
            router: Router::default(),
            siblings: Siblings::alone(instruments),
            settings: HealthSettings::connectivity_only(),
            venues: Vec::new(),
            accounts: vec![Vec::new(); accounts],
            awaiting: vec![0; max_open_orders.max(1)],
        }
    }

    /// The `awaiting` slot of `order`.
    #[inline]
    fn slot(&self, order: OrderId) -> usize {
        (order.0 % self.awaiting.len() as u64) as usize
    }

    /// A run begins ([`Engine::begin_run`]): each account on its primary, every venue's health
    /// history cleared, as in a freshly started engine.
    pub(super) fn restart(&mut self) {
        self.router.restart();
        self.venues.fill_with(VenueHealth::default);
        for a in &mut self.accounts {
            a.fill((RejectWindow::default(), true));
        }
        self.awaiting.fill(0);
    }

    /// A venue link was added.
    pub(super) fn add_venue(&mut self) {
        self.venues.push(VenueHealth::default());
        for a in &mut self.accounts {
            a.push((RejectWindow::default(), true));
        }
    }
}

/// Where a placement goes, or why it cannot.
pub(super) enum Placement {
    /// Venue link index and the instrument there.
    To(usize, InstrumentId),
    /// Refused: the gate's reason.
    Blocked(BlockReason),
    /// No venue serves the instrument.
    Unknown,
}

impl<R: PreTradeCheck> Core<R> {
    /// Where `request` goes: the router's venue and the sibling there, else (no chain lists it)
    /// its own venue.
    #[inline]
    pub(super) fn placement(&self, request: &OrderRequest) -> Placement {
        let own = self.venue_of_instrument.get(request.instrument.index()).copied().flatten();
        let siblings = self.routing.siblings.of(request.instrument);
        let venue_of = &self.venue_of_instrument;
        let listed = |v: VenueId| {
            if siblings.is_empty() {
                (own == Some(v.index())).then_some(request.instrument)
            } else {
                siblings.iter().copied().find(|s| venue_of.get(s.index()).copied().flatten() == Some(v.index()))
            }
        };
        let usable = |v: VenueId| self.venue_healthy.get(v.index()).copied().unwrap_or(false);
        match self.routing.router.route(request.account, listed, usable) {
            Route::To(v, instrument) => Placement::To(v.index(), instrument),
            Route::NoHealthyVenue => Placement::Blocked(BlockReason::NoHealthyVenue),
            Route::Unrouted => own.map_or(Placement::Unknown, |v| Placement::To(v, request.instrument)),
        }
    }

    /// The sibling of `instrument` at venue link `v` (itself if it is listed there), if any.
    #[inline]
    pub(super) fn instrument_at(&self, instrument: InstrumentId, v: usize) -> Option<InstrumentId> {
        let at = |i: &InstrumentId| self.venue_of_instrument.get(i.index()).copied().flatten() == Some(v);
        if at(&instrument) {
            return Some(instrument);
        }
        self.routing.siblings.of(instrument).iter().copied().find(at)
    }

    /// `order` left for venue link `v`.
    #[inline]
    pub(super) fn health_on_sent(&mut self, v: usize, order: OrderId) {
        let slot = self.routing.slot(order);
        self.routing.awaiting[slot] = order.0;
        if let Some(h) = self.routing.venues.get_mut(v) {
            h.on_sent(self.local_now);
        }
    }

    /// A report for `order`: the venue's first answer to it (of any kind) counts towards the
    /// venue's health and the account's at that venue.
    #[inline]
    pub(super) fn health_on_report(
        &mut self,
        order: &crate::orders::LiveOrder,
        kind: ReportKind,
        venue: Option<usize>,
    ) {
        let slot = self.routing.slot(order.id);
        let first_answer = self.routing.awaiting[slot] == order.id.0;
        let (Some(v), true) = (venue, first_answer) else { return };
        self.routing.awaiting[slot] = 0;
        let rejected = matches!(kind, ReportKind::Rejected(_));
        let now = self.local_now;
        let s = self.routing.settings;
        if let Some(h) = self.routing.venues.get_mut(v) {
            h.on_answer(rejected, order.sent_local_ns, now, &s);
        }
        if let Some((w, _)) = self.routing.accounts.get_mut(order.request.account.index()).and_then(|a| a.get_mut(v)) {
            w.on_answer(rejected, now, s.window);
        }
    }

    /// A recorded (or just decided) change of an account's venue: journaled, logged, counted.
    pub(super) fn failover(&mut self, f: Failover) {
        self.journal(JournalEvent::Failover(f));
        self.routing.router.apply(&f);
        let none = u64::from(u16::MAX);
        let from = f.from.map_or(none, |v| u64::from(v.0));
        match f.to {
            Some(to) => {
                self.stats.count_failover(f.account, to);
                crate::core_log!(
                    Warn, "exchange.failover: orders of the account go to another venue", u64::from(f.account.0);
                    account = f.account.0, primary = f.primary.0, from = from, selected = to.0
                );
            }
            None => crate::core_log!(
                Error, "exchange.failover: no venue of the account's chain is healthy; its orders are refused",
                u64::from(f.account.0);
                account = f.account.0, primary = f.primary.0, from = from
            ),
        }
    }
}

impl<R: PreTradeCheck> Engine<R> {
    /// Routes orders by `plan` ([`crate::routing`]): each account's chain, the canonical
    /// instruments and the health thresholds. Call after every [`Engine::add_venue`]: the
    /// failover counters are placed per account × chain venue here.
    pub fn set_routing(&mut self, plan: RoutingPlan) {
        let core = &mut self.core;
        core.stats.add_failover_blocks(&plan.chains);
        core.routing.router = Router::new(plan.chains, plan.router);
        core.routing.siblings = plan.siblings;
        core.routing.settings = plan.health;
    }

    /// The router (its chains and selections).
    pub fn router(&self) -> &Router {
        &self.core.routing.router
    }

    /// Each venue link's last health verdict.
    pub fn venue_health(&self) -> impl Iterator<Item = crate::routing::Verdict> + '_ {
        self.core.routing.venues.iter().map(|h| h.verdict)
    }

    /// The live timer's health judgement at monotonic `now`: each venue's verdict (gateway,
    /// feeds, answers, latency, rejects, book age) becomes its healthy flag; each account ×
    /// venue adds its own rejects; then each account's router moves (a change is journaled).
    pub(super) fn judge_health(&mut self, now: Nanos) {
        let core = &mut self.core;
        let s = core.routing.settings;
        for v in 0..core.routing.venues.len() {
            let feeds_ok = !self
                .feeds
                .iter()
                .zip(&self.feed_venue)
                .any(|(f, fv)| *fv == Some(v) && f.state() == FeedState::Recovering);
            let mut freshest: Option<Nanos> = None;
            for (i, served) in core.venue_of_instrument.iter().enumerate() {
                let last = core.books.get(i).map_or(Nanos::ZERO, Book::last_local_ns);
                if *served == Some(v) && last > Nanos::ZERO {
                    freshest = Some(freshest.map_or(last, |f| f.max(last)));
                }
            }
            let md_age = freshest.map(|f| now.saturating_sub(f));
            let h = &mut core.routing.venues[v];
            h.reported = core.venue_reported.get(v).copied().unwrap_or(true);
            let verdict = h.judge(now, feeds_ok, md_age, &s);
            if let Some(slot) = core.venue_healthy.get_mut(v) {
                *slot = verdict.healthy;
            }
        }
        for per_venue in core.routing.accounts.iter_mut() {
            for (v, (window, ok)) in per_venue.iter_mut().enumerate() {
                *ok = core.venue_healthy.get(v).copied().unwrap_or(false) && window.passes(now, &s);
            }
        }
        for a in 0..core.routing.router.accounts() {
            let account = AccountId(a as u16);
            let per_venue = &core.routing.accounts;
            let healthy = |v: VenueId| per_venue.get(a).and_then(|x| x.get(v.index())).is_some_and(|(_, ok)| *ok);
            if let Some(f) = core.routing.router.on_health(account, healthy, now) {
                core.domain_now = core.clock.now();
                core.failover(f);
            }
        }
    }
}
