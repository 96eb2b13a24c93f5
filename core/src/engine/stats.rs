//! The engine's blocks in its stats region, and the stats tick that copies into them what the
//! core does not count as it happens: feed decoders, books, positions, queues and the risk
//! component. The tick runs on the monotonic time every [`STATS_INTERVAL`] (also in simulated
//! runs, whose housekeeping timer follows domain time), stores the heartbeat and does plain
//! stores only — no allocation, lock or syscall. It changes nothing the engine decides on, so
//! determinism and replay are untouched.

use super::{Core, Engine, MarketView};
use crate::book::Book;
use crate::feed_source::FeedSource;
use crate::ids::AccountId;
use crate::money::{NOTIONAL_SCALE, Notional};
use crate::risk_api::PreTradeCheck;
use crate::stats::blocks::{
    AccountStats, AccountVenueStats, BookStats, FailoverStats, FeedBlock, LatencyStats, MONEY_SCALE, RiskStats,
    StrategyStats, VenueHealthStats, VenueStats,
};
use crate::stats::{Heartbeat, Owner, StatsHandle, StatsRegion, unix_now_ns};
use crate::time::Nanos;

/// Longest `feed` label value (the metadata record holds 160 bytes of labels).
const FEED_LABEL_MAX: usize = 96;

/// How often the stats tick runs (and the heartbeat beats).
pub(super) const STATS_INTERVAL: Nanos = Nanos(100_000_000);

/// The core's blocks (see [`crate::stats::blocks`]).
pub(super) struct EngineStats {
    pub(super) region: StatsRegion,
    heartbeat: Heartbeat,
    /// Unix ns and monotonic time at one instant: the heartbeat is derived from the loop's
    /// monotonic time without another clock read.
    anchor: (u64, Nanos),
    pub(super) account_names: Vec<String>,
    pub(super) accounts: Vec<StatsHandle<AccountStats>>,
    /// `[venue][account]`.
    pub(super) account_venue: Vec<Vec<StatsHandle<AccountVenueStats>>>,
    pub(super) venues: Vec<StatsHandle<VenueStats>>,
    /// Each venue link's name (its stats label).
    venue_names: Vec<String>,
    /// Each venue link's health score.
    venue_health: Vec<StatsHandle<VenueHealthStats>>,
    /// `[account]`: (selected venue, its failover counter), one per venue of the chain.
    failovers: Vec<Vec<(crate::ids::VenueId, StatsHandle<FailoverStats>)>>,
    pub(super) books: Vec<StatsHandle<BookStats>>,
    pub(super) strategies: Vec<StatsHandle<StrategyStats>>,
    pub(super) latency: StatsHandle<LatencyStats>,
    pub(super) risk: StatsHandle<RiskStats>,
}

impl EngineStats {
    /// Places the blocks known at construction: accounts, books, latency, risk.
    pub(super) fn new<R: PreTradeCheck>(
        region: StatsRegion,
        account_names: Vec<String>,
        books: &[Book],
        instruments: &crate::instrument::InstrumentRegistry,
        risk: &R,
    ) -> Self {
        region.set_heartbeat_interval(STATS_INTERVAL.0 as u64);
        let accounts = account_names.iter().map(|a| region.block_or_private(Owner::Core, &[("account", a)])).collect();
        let books = books
            .iter()
            .map(|b| {
                let (venue, symbol) =
                    instruments.get(b.instrument()).map_or(("unknown", "unknown"), |i| (i.venue().name(), i.symbol()));
                region.block_or_private(Owner::Core, &[("venue", venue), ("instrument", symbol)])
            })
            .collect();
        let sources = risk.trigger_sources();
        let risk = match region.block_with(Owner::Core, &[], |b: &RiskStats, d| b.describe_with(d, sources)) {
            Ok(h) => h,
            Err(e) => {
                log::error!("stats: {e}");
                crate::stats::private_block()
            }
        };
        Self {
            heartbeat: region.heartbeat(),
            anchor: (unix_now_ns(), crate::sys::mono_now()),
            latency: region.block_or_private(Owner::Core, &[]),
            risk,
            accounts,
            account_venue: Vec::new(),
            venues: Vec::new(),
            venue_names: Vec::new(),
            venue_health: Vec::new(),
            failovers: Vec::new(),
            books,
            strategies: Vec::new(),
            account_names,
            region,
        }
    }

    /// A venue link's blocks.
    pub(super) fn add_venue(&mut self, name: &str) {
        self.venues.push(self.region.block_or_private(Owner::Core, &[("venue", name)]));
        self.venue_health.push(self.region.block_or_private(Owner::Core, &[("venue", name)]));
        self.venue_names.push(name.to_string());
        let per_account = self
            .account_names
            .iter()
            .map(|a| self.region.block_or_private(Owner::Core, &[("account", a), ("venue", name)]))
            .collect();
        self.account_venue.push(per_account);
    }

    /// The failover counters: one per account × venue of its chain (`chains[account]`),
    /// labelled with the chain's primary and that venue.
    pub(super) fn add_failover_blocks(&mut self, chains: &[Vec<crate::ids::VenueId>]) {
        let name = |v: &crate::ids::VenueId| self.venue_names.get(v.index()).cloned().unwrap_or_else(|| v.to_string());
        let mut all = Vec::with_capacity(chains.len());
        for (a, chain) in chains.iter().enumerate() {
            let account = self.account_names.get(a).cloned().unwrap_or_else(|| a.to_string());
            let Some(primary) = chain.first().map(name) else {
                all.push(Vec::new());
                continue;
            };
            let blocks = chain
                .iter()
                .map(|v| {
                    let labels = [("account", account.as_str()), ("primary", primary.as_str()), ("selected", &name(v))];
                    (*v, self.region.block_or_private(Owner::Core, &labels))
                })
                .collect();
            all.push(blocks);
        }
        self.failovers = all;
    }

    /// Counts a failover of `account` to `selected`.
    #[inline]
    pub(super) fn count_failover(&self, account: AccountId, selected: crate::ids::VenueId) {
        if let Some((_, block)) =
            self.failovers.get(account.index()).and_then(|c| c.iter().find(|(v, _)| *v == selected))
        {
            block.events.incr();
        }
    }

    /// Failovers of `account` to `selected` counted so far (tests).
    #[cfg(test)]
    pub(super) fn failover_count(&self, account: AccountId, selected: crate::ids::VenueId) -> u64 {
        self.failovers
            .get(account.index())
            .and_then(|c| c.iter().find(|(v, _)| *v == selected))
            .map_or(0, |(_, b)| b.events.get())
    }

    /// A venue's health verdict.
    #[inline]
    pub(super) fn publish_health(&self, venue: usize, v: &crate::routing::Verdict) {
        let Some(b) = self.venue_health.get(venue) else { return };
        b.score.set(u64::from(v.score));
        b.healthy.set(u64::from(v.healthy));
        b.waiting.set(u64::from(v.waiting));
        b.ack_p99_ns.set(v.ack_p99.0.max(0) as u64);
        b.reject_permille.set(u64::from(v.reject_permille));
        b.md_age_ns.set(v.md_age.0.max(0) as u64);
    }

    /// Whether `account` may route to `venue`.
    #[inline]
    pub(super) fn publish_account_health(&self, account: usize, venue: usize, healthy: bool) {
        if let Some(b) = self.account_venue.get(venue).and_then(|a| a.get(account)) {
            b.healthy.set(u64::from(healthy));
        }
    }

    /// A strategy's block (labels: its name and its id, the index it was added at).
    pub(super) fn add_strategy(&mut self, name: &str) {
        // Several strategies may share a name: the id tells their series apart.
        let id = self.strategies.len().to_string();
        self.strategies.push(self.region.block_or_private(Owner::Core, &[("strategy", name), ("strategy_id", &id)]));
    }

    /// The account's block (accounts past the configured ones share nothing: `None`).
    #[inline]
    pub(super) fn account(&self, account: AccountId) -> Option<&AccountStats> {
        self.accounts.get(account.index()).map(|h| &**h)
    }

    /// Zeroes every block the core owns (a restore's fresh start).
    pub(super) fn reset(&self) {
        for a in &self.accounts {
            a.zero();
        }
        for v in self.account_venue.iter().flatten() {
            v.zero();
        }
        for v in &self.venues {
            v.zero();
        }
        for v in &self.venue_health {
            v.zero();
        }
        for f in self.failovers.iter().flatten() {
            f.1.zero();
        }
        for s in &self.strategies {
            s.zero();
        }
        self.latency.zero();
    }
}

/// `n` as an `i64` at [`MONEY_SCALE`] decimals (saturating), stored as its bits.
#[inline]
fn money(n: Notional) -> u64 {
    money_units(n.units())
}

#[inline]
fn money_units(units: i128) -> u64 {
    let v = units / 10i128.pow(u32::from(NOTIONAL_SCALE - MONEY_SCALE));
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64 as u64
}

impl<R: PreTradeCheck> Core<R> {
    /// Copies positions, venues and the risk component's numbers into their blocks.
    fn publish_stats(&self, now: Nanos) {
        let s = &self.stats;
        for (a, block) in s.accounts.iter().enumerate() {
            let account = AccountId(a as u16);
            let (mut open, mut realized, mut unrealized, mut fees) = (0u64, 0i128, 0i128, 0i128);
            for inst in self.instruments.iter() {
                let Some(p) = self.positions.get(account, inst.id()) else { continue };
                if p.fills() == 0 {
                    continue;
                }
                open += u64::from(p.is_open());
                realized = realized.saturating_add(p.realized().units());
                fees = fees.saturating_add(p.fees().units());
                if p.is_open()
                    && let Some(mark) = self.books.get(inst.id().index()).and_then(Book::mid)
                    && let Ok(u) = p.unrealized(inst, mark)
                {
                    unrealized = unrealized.saturating_add(u.units());
                }
            }
            block.positions_open.set(open);
            block.pnl_realized.set(money_units(realized));
            block.pnl_unrealized.set(money_units(unrealized));
            block.pnl_fees.set(money_units(fees));
        }
        for (v, h) in self.routing.venues.iter().enumerate() {
            s.publish_health(v, &h.verdict);
        }
        for (a, per_venue) in self.routing.accounts.iter().enumerate() {
            for (v, (_, ok)) in per_venue.iter().enumerate() {
                s.publish_account_health(a, v, *ok);
            }
        }
        for (v, block) in s.venues.iter().enumerate() {
            block.connected.set(u64::from(self.venue_healthy.get(v).copied().unwrap_or(false)));
            if let Some(link) = self.venues.get(v) {
                let capacity = link.orders.buffer().capacity();
                block.order_queue_depth.set(capacity.saturating_sub(link.orders.slots()) as u64);
                block.report_queue_depth.set(link.reports.slots() as u64);
            }
        }
        if let Some(j) = &self.journal {
            self.counters.journal_ring_depth.set(j.depth() as u64);
        }
        self.counters.domain_time_ns.set(self.domain_now.0.max(0) as u64);
        for (book, block) in self.books.iter().zip(&s.books) {
            let h = book.health(now);
            block.valid.set(u64::from(book.is_valid()));
            block.resyncs.set(h.invalidations);
            block.messages.set(h.messages);
            block.invalid_ns.set(h.invalid_ns.0.max(0) as u64);
        }
        let accounts = &s.accounts;
        let view = view!(self);
        self.risk.publish_stats(&view, &s.risk, &mut |account, equity| {
            if let Some(b) = accounts.get(account.index()) {
                b.equity.set(money(equity));
            }
        });
    }
}

impl<R: PreTradeCheck> Engine<R> {
    /// The stats tick (see the module doc): heartbeat, then every copied number.
    pub(super) fn stats_tick(&mut self, now: Nanos) {
        let s = &self.core.stats;
        let (unix0, mono0) = s.anchor;
        s.heartbeat.beat(unix0.saturating_add(now.saturating_sub(mono0).0.max(0) as u64));
        for (feed, block) in self.feeds.iter().zip(&self.feed_stats) {
            if let Some(f) = feed.stats() {
                block.copy_from(&f);
            }
        }
        self.core.publish_stats(now);
    }

    /// A feed's block, labelled with its venue (the name up to `:`) and its name (cut to fit a
    /// metadata record: a feed's name lists its symbols).
    pub(super) fn feed_block(&self, feed: &dyn FeedSource) -> StatsHandle<FeedBlock> {
        let name = feed.name();
        let venue = name.split(':').next().unwrap_or(name);
        let mut end = name.len().min(FEED_LABEL_MAX);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        self.core.stats.region.block_or_private(Owner::Core, &[("venue", venue), ("feed", &name[..end])])
    }

    /// The engine's stats region (the file, or an anonymous mapping): other threads place their
    /// own blocks in it; the stats thread reads it.
    pub fn stats_region(&self) -> StatsRegion {
        self.core.stats.region.clone()
    }
}
