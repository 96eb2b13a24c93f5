//! [`Engine`]: the pinned event loop of the core thread.
//!
//! One thread, pinned to a configured CPU (a warning, not a failure, if pinning is refused),
//! runs [`Engine::do_work`] in a loop with a pluggable [`IdleStrategy`]. Each iteration polls, in
//! this fixed order:
//!
//! 1. sockets — one `mio::Poll` with a zero timeout, only if a feed registered a socket;
//! 2. feed sources — every record goes book → subscribed strategies → risk gate → order queue;
//!    a book that refused a source's record (crossed or locked after a message, or a level it
//!    cannot hold: invalid, counted) is handed back to that source after its poll
//!    ([`FeedSource::on_book_refused`]) to be resynced;
//! 3. inbound queues — execution reports from each gateway, then local refusals, then control
//!    commands (`try_recv` only);
//! 4. timers — housekeeping gauges.
//!
//! Steady state allocates nothing, takes no lock and makes no blocking call: books, the order
//! table, positions, histograms and action buffers are sized at construction; queues are
//! preallocated SPSC rings whose full policy is in [`crate::queue`]. Busy iterations are timed
//! into a histogram and slow ones counted as stalls.

use crate::book::{Book, BookError, BookHealth};
use crate::counters::SharedCounters;
use crate::event::MarketEvent;
use crate::feed_source::{FeedSource, FeedState, FeedStats};
use crate::idle::{IdleStrategy, Idler};
use crate::ids::{AccountId, InstrumentId, OrderId, VenueId};
use crate::instrument::InstrumentRegistry;
use crate::journal::{JournalAttachment, JournalEvent, JournalLink, JournalRecord, JournaledDecision, Pushed};
use crate::latency::{LatencyHistogram, LatencySummary};
use crate::money::{Notional, Price};
use crate::order::{ExecutionReport, OrderCommand, OrderRequest, RejectReason, ReportKind};
use crate::orders::OrderTable;
use crate::position::{Position, PositionBook};
use crate::queue::{Consumer, Producer, Progress, PushError};
use crate::risk_api::{
    BlockReason, DecisionRecord, PreTradeCheck, RiskAction, RiskActions, RiskCommand, RiskDecision, RiskReply,
    RiskState, is_sane_reduce_only,
};
use crate::stats::StatsRegion;
use crate::stats::blocks::FeedBlock;
use crate::strategy::swap::StrategySwap;
use crate::strategy::{Actions, MarketView, Strategy, StrategyAction};
use crate::sys::{self, Pinning};
use crate::time::{Clock, Nanos};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Static settings of the loop.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// CPU to pin the core thread to; `None` floats.
    pub cpu: Option<usize>,
    /// What to do when an iteration finds no work.
    pub idle: IdleStrategy,
    /// Levels kept per book side.
    pub book_depth: usize,
    /// Working orders the table holds.
    pub max_open_orders: usize,
    /// Number of accounts (positions are preallocated per account × instrument).
    pub accounts: usize,
    /// A busy iteration slower than this counts as a stall.
    pub stall_threshold: Nanos,
    /// Reports drained from one gateway per iteration, so feeds are never starved.
    pub max_reports_per_poll: usize,
    /// Interval of the housekeeping timer.
    pub housekeeping_interval: Nanos,
    /// Which time paces the housekeeping timer.
    pub timer_clock: TimerClock,
}

/// Which time paces the housekeeping timer (and with it the risk component's tick).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimerClock {
    /// The loop's monotonic time, checked every iteration: live runs.
    #[default]
    Monotonic,
    /// Domain time, checked as each market record arrives (before it is applied): simulated
    /// runs, so where the timer falls among the inputs depends on the inputs only, not on the
    /// machine's speed — the same seed gives the same fills even when a tick acts.
    Domain,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cpu: None,
            idle: IdleStrategy::BusySpin,
            book_depth: 256,
            max_open_orders: 4096,
            accounts: 1,
            stall_threshold: Nanos(100_000),
            max_reports_per_poll: 1024,
            housekeeping_interval: Nanos::MILLI,
            timer_clock: TimerClock::Monotonic,
        }
    }
}

/// The queues to and from one gateway thread.
#[derive(Debug)]
pub struct VenueLink {
    /// Its id (index in the engine's venue table).
    pub venue: VenueId,
    /// Orders to the gateway.
    pub orders: Producer<OrderCommand>,
    /// Reports from the gateway.
    pub reports: Consumer<ExecutionReport>,
    /// Reports fully applied (positions, strategy, risk), published after each one.
    pub reports_applied: Arc<Progress>,
    applied: u64,
}

/// Commands from other threads (control plane; `try_recv` only on the core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // copied through a bounded channel: boxing would make the core thread free memory
pub enum ControlCommand {
    /// Leave the loop at the end of this iteration.
    Shutdown,
    /// Cancel every working order of an account.
    CancelAll(AccountId),
    /// A command for the risk component; its [`RiskReply`] goes back tagged with `id` on the
    /// reply channel ([`Engine::set_control_replies`]).
    Risk {
        /// Correlates the reply.
        id: u64,
        /// The command.
        command: RiskCommand,
    },
    /// A gateway's (or supervisor's) view of a venue's health, combined with the feeds' state.
    VenueHealth {
        /// The venue.
        venue: VenueId,
        /// Whether it is usable.
        healthy: bool,
    },
    /// The account's capital as its venues hold it at the start of a live run, when below its
    /// configured starting equity (the configuration is a cap: README, "Accounts start from
    /// their venues"); the risk component sizes and measures losses from it.
    Capital {
        /// Account.
        account: AccountId,
        /// Capital, settlement currency.
        equity: Notional,
    },
    /// The open position the venue holds at the start of a live run, where it differs from
    /// the engine's: the engine takes the venue's quantity and entry.
    Position {
        /// Account.
        account: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Signed quantity.
        qty: crate::Qty,
        /// Signed entry notional of that quantity.
        entry_notional: Notional,
    },
    /// Replace a running strategy's parameters and version, with the hand-over its policy names
    /// ([`crate::strategy::swap`]); the answer goes back tagged with `id` like a risk command's
    /// (`id` 0: no one waits for it, e.g. a control scheduled at a domain time).
    StrategySwap {
        /// Correlates the reply.
        id: u64,
        /// The swap.
        swap: StrategySwap,
    },
    /// A funding payment on a perpetual, booked to the position's realized PnL.
    Funding {
        /// Account.
        account: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Received (positive) or paid (negative), settlement currency.
        amount: Notional,
    },
}

/// One account's position in one instrument at the end of a run.
#[derive(Debug, Clone, Copy)]
pub struct PositionReport {
    /// Account.
    pub account: AccountId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The position.
    pub position: Position,
    /// Mark price (book mid), if the book had both sides.
    pub mark: Option<Price>,
    /// Unrealized PnL at the mark.
    pub unrealized: Option<Notional>,
}

/// Risk decisions of a run, by decision and reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskTally {
    /// Allowed as asked.
    pub allow: u64,
    /// Scaled down, by reason.
    pub scale_down: Vec<(BlockReason, u64)>,
    /// Blocked, by reason.
    pub block: Vec<(BlockReason, u64)>,
}

impl RiskTally {
    /// One line: `allow N  scale-down N (reason N, ...)  block N (reason N, ...)`.
    pub fn render(&self) -> String {
        let part = |v: &[(BlockReason, u64)]| {
            let total: u64 = v.iter().map(|(_, n)| n).sum();
            let reasons: Vec<String> = v.iter().map(|(r, n)| format!("{} {n}", r.name())).collect();
            if reasons.is_empty() { format!("{total}") } else { format!("{total} ({})", reasons.join(", ")) }
        };
        format!("allow {}  scale-down {}  block {}", self.allow, part(&self.scale_down), part(&self.block))
    }
}

/// The core's side of journaling over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalTally {
    /// Records pushed.
    pub records: u64,
    /// Records dropped (`DropAndCount` with a full ring, or the journal thread gone).
    pub dropped: u64,
    /// Pushes that waited for room (backpressure).
    pub waits: u64,
    /// Loop iterations that took no market input for lack of room (backpressure).
    pub market_holds: u64,
    /// Strategy orders refused because the journal could not write.
    pub refused_orders: u64,
}

/// What a run did, for the summary.
#[derive(Debug, Clone)]
pub struct EngineReport {
    /// Pinning outcome.
    pub pinning: Pinning,
    /// Wall time in the loop.
    pub elapsed: Nanos,
    /// What the core handed the journal.
    pub journal: JournalTally,
    /// Risk-originated (flatten) orders sent / refused.
    pub risk_orders: (u64, u64),
    /// Market records processed.
    pub market_events: u64,
    /// Venue messages processed.
    pub market_batches: u64,
    /// Order requests from strategies.
    pub order_requests: u64,
    /// Orders sent.
    pub orders_sent: u64,
    /// Fills.
    pub fills: u64,
    /// Working orders left at the end.
    pub open_orders: usize,
    /// Risk decisions.
    pub risk: RiskTally,
    /// Busy iterations slower than the stall threshold.
    pub stalls: u64,
    /// Tick (receive of the triggering record) → order enqueued, ns.
    pub tick_to_order: LatencySummary,
    /// Duration of busy loop iterations, ns.
    pub loop_time: LatencySummary,
    /// FNV-1a digest of every fill in order: equal digests mean identical fills.
    pub fills_digest: u64,
    /// Positions with any activity.
    pub positions: Vec<PositionReport>,
    /// Each feed's name and decoder counters (`None`: a source without a decoder), in the
    /// order added: the feed health of the run summary.
    pub feeds: Vec<(String, Option<FeedStats>)>,
    /// Each instrument's book health.
    pub books: Vec<BookReport>,
    /// Strategy swaps carried out, in order.
    pub swaps: Vec<swap::SwapEvent>,
}

/// One book's health at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookReport {
    /// The instrument.
    pub instrument: InstrumentId,
    /// What the book counted (messages, invalidations = resyncs, crossings, time invalid).
    pub health: BookHealth,
    /// Sequence gaps of this book, where its feed tracks them per book.
    pub gaps: Option<u64>,
    /// Whether the book was valid at the end.
    pub valid: bool,
}

/// Everything the dispatch path touches, split from the feeds so a feed can be polled while
/// its records are dispatched.
struct Core<R> {
    cfg: EngineConfig,
    instruments: InstrumentRegistry,
    books: Vec<Book>,
    positions: PositionBook,
    orders: OrderTable,
    strategies: Vec<Box<dyn Strategy>>,
    subscribers: Vec<Vec<usize>>,
    risk: R,
    venues: Vec<VenueLink>,
    venue_of_instrument: Vec<Option<usize>>,
    local_reports: VecDeque<(usize, ExecutionReport)>,
    actions: Actions,
    clock: Arc<dyn Clock>,
    counters: SharedCounters,
    /// The blocks in the stats file beyond `counters` (per account, venue, book, strategy).
    stats: stats::EngineStats,
    tick_to_order: LatencyHistogram,
    fills_digest: u64,
    local_now: Nanos,
    /// Domain time read once at the current input's entry; every view and record of that
    /// input uses it.
    domain_now: Nanos,
    journal: Option<JournalLink>,
    /// When the domain-time housekeeping timer is next due ([`TimerClock::Domain`]).
    next_domain_timer: Nanos,
    /// The current input's record, not yet pushed (see `Core::stage`).
    staged: Option<JournalRecord>,
    /// The risk component's state last journaled.
    risk_state: RiskState,
    risk_actions: RiskActions,
    /// Health each venue last reported (`ControlCommand::VenueHealth`), by venue index.
    venue_reported: Vec<bool>,
    /// Each venue's health verdict (live: [`routing::Routing`]'s score; replay: the timer's
    /// bitmask), recomputed on the timer.
    venue_healthy: Vec<bool>,
    /// Canonical instruments, the router and the health score ([`crate::routing`]).
    routing: routing::Routing,
    replies: Option<crossbeam_channel::Sender<(u64, RiskReply)>>,
    /// Where each changed position is copied (live runs' periodic reconciliation).
    position_tap: Option<crate::position::PositionTap>,
    /// Set when the loop has stopped: strategies' actions are dropped from then on.
    halted: bool,
    /// Books that refused a record during the current feed poll, and why, to be handed back to
    /// that feed for a resync (capacity: one per instrument, allocated once).
    refused: Vec<(InstrumentId, BookError)>,
    /// Control commands due at a domain time ([`Engine::schedule_control`]), soonest last.
    scheduled: Vec<(Nanos, ControlCommand)>,
    /// When the soonest scheduled control is due (`NEVER`: none).
    next_scheduled: Nanos,
    /// A scheduled shutdown came due: the loop stops after this iteration.
    stop_requested: bool,
    /// Strategy swaps carried out (capacity [`swap::MAX_SWAP_EVENTS`], allocated once).
    swaps: Vec<swap::SwapEvent>,
}

/// The core thread's event loop.
pub struct Engine<R> {
    core: Core<R>,
    feeds: Vec<Box<dyn FeedSource>>,
    feed_venue: Vec<Option<usize>>,
    control: Option<crossbeam_channel::Receiver<ControlCommand>>,
    poll: Option<(mio::Poll, mio::Events, Vec<usize>)>,
    stop: Arc<AtomicBool>,
    loop_time: LatencyHistogram,
    next_housekeeping: Nanos,
    /// Each feed's block in the stats file, in the order added.
    feed_stats: Vec<crate::stats::StatsHandle<FeedBlock>>,
    /// When the stats tick is next due (monotonic).
    next_stats: Nanos,
    /// On stop, cancel every working order and wait this long for the venues to confirm.
    cancel_on_stop: Option<std::time::Duration>,
    /// The log ring's producer, installed on the core thread while [`Engine::run`] runs.
    log_sink: Option<crate::log_ring::LogSink>,
}

impl<R> std::fmt::Debug for Engine<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("instruments", &self.core.instruments.len())
            .field("feeds", &self.feeds.len())
            .field("strategies", &self.core.strategies.len())
            .field("venues", &self.core.venues.len())
            .finish()
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv(mut h: u64, v: u64) -> u64 {
    for b in v.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

impl<R: PreTradeCheck> Engine<R> {
    /// An engine over `instruments` with the risk gate `risk` and domain clock `clock`, its
    /// stats in a private anonymous mapping (accounts labelled by index). Allocates every table
    /// here.
    pub fn new(cfg: EngineConfig, instruments: InstrumentRegistry, risk: R, clock: Arc<dyn Clock>) -> Self {
        #[allow(clippy::expect_used)] // a few anonymous pages failing to map is out of memory
        let region = StatsRegion::anonymous(crate::stats::Capacity::default()).expect("anonymous stats mapping");
        Self::with_stats(cfg, instruments, risk, clock, region, &[])
    }

    /// [`Engine::new`] with the engine's counters placed in `stats` (the stats file, or an
    /// anonymous mapping), its accounts labelled `account_names` (by index where absent).
    pub fn with_stats(
        cfg: EngineConfig,
        instruments: InstrumentRegistry,
        risk: R,
        clock: Arc<dyn Clock>,
        stats: StatsRegion,
        account_names: &[String],
    ) -> Self {
        let books: Vec<Book> = instruments.iter().map(|i| Book::new(i.id(), cfg.book_depth)).collect();
        let n = instruments.len();
        let accounts = cfg.accounts.max(1);
        let names = (0..accounts).map(|a| account_names.get(a).cloned().unwrap_or_else(|| a.to_string())).collect();
        let counters = stats.block_or_private(crate::stats::Owner::Core, &[]);
        let engine_stats = stats::EngineStats::new(stats, names, &books, &instruments, &risk);
        let core = Core {
            positions: PositionBook::new(cfg.accounts.max(1), n),
            orders: OrderTable::new(cfg.max_open_orders),
            subscribers: vec![Vec::new(); n],
            venue_of_instrument: vec![None; n],
            local_reports: VecDeque::with_capacity(1024),
            tick_to_order: LatencyHistogram::new(),
            counters,
            stats: engine_stats,
            actions: Actions::default(),
            strategies: Vec::new(),
            venues: Vec::new(),
            fills_digest: FNV_OFFSET,
            local_now: Nanos::ZERO,
            domain_now: Nanos(0),
            journal: None,
            staged: None,
            next_domain_timer: Nanos::ZERO,
            risk_state: RiskState::default(),
            risk_actions: RiskActions::with_capacity(256),
            venue_reported: Vec::new(),
            venue_healthy: Vec::new(),
            routing: routing::Routing::new(accounts, &instruments, cfg.max_open_orders),
            replies: None,
            position_tap: None,
            halted: false,
            refused: Vec::with_capacity(n),
            scheduled: Vec::new(),
            next_scheduled: NEVER,
            stop_requested: false,
            swaps: Vec::with_capacity(swap::MAX_SWAP_EVENTS),
            books,
            instruments,
            risk,
            clock,
            cfg,
        };
        Self {
            core,
            feeds: Vec::new(),
            feed_venue: Vec::new(),
            control: None,
            poll: None,
            stop: Arc::new(AtomicBool::new(false)),
            loop_time: LatencyHistogram::new(),
            next_housekeeping: Nanos::ZERO,
            feed_stats: Vec::new(),
            next_stats: Nanos::ZERO,
            cancel_on_stop: None,
            log_sink: None,
        }
    }

    /// Adds a market-data source (polled in the order added).
    pub fn add_feed(&mut self, feed: Box<dyn FeedSource>) {
        self.feed_stats.push(self.feed_block(&*feed));
        self.feeds.push(feed);
        self.feed_venue.push(None);
    }

    /// Adds a market-data source serving `venue`: while it is `Recovering` the venue counts as
    /// unhealthy for the risk component (outage watch).
    pub fn add_venue_feed(&mut self, feed: Box<dyn FeedSource>, venue: VenueId) {
        self.feed_stats.push(self.feed_block(&*feed));
        self.feeds.push(feed);
        self.feed_venue.push(Some(venue.index()));
    }

    /// Journals every input and decision through `journal` ([`crate::journal`]); its full
    /// policy decides between backpressure and drop-and-count. The risk component's state at
    /// this moment is the baseline later changes are journaled against.
    pub fn set_journal(&mut self, journal: JournalLink) {
        self.core.risk_state = self.core.risk.state();
        self.core.journal = Some(journal);
    }

    /// Hands the core's log lines ([`crate::core_log!`]) to a logging thread through `sink`:
    /// [`Engine::run`] installs it on the core thread ([`crate::log_ring::install`]) and takes
    /// it back when the loop ends.
    pub fn set_log_sink(&mut self, sink: crate::log_ring::LogSink) {
        self.log_sink = Some(sink);
    }

    /// Copies every position the core changes (a fill, a funding payment) to `tap`, without
    /// waiting ([`crate::position::PositionTap`]).
    pub fn set_position_tap(&mut self, tap: crate::position::PositionTap) {
        self.core.position_tap = Some(tap);
    }

    /// Carries out `cmd` now, on the calling thread, before the loop runs (journaled like a
    /// command from the control channel, so a replay applies it at the same point).
    pub fn control_now(&mut self, cmd: ControlCommand) {
        self.apply_control(cmd);
    }

    /// Where replies to [`ControlCommand::Risk`] go (`try_send`; a full channel drops, counted).
    pub fn set_control_replies(&mut self, replies: crossbeam_channel::Sender<(u64, RiskReply)>) {
        self.core.replies = Some(replies);
    }

    /// Adds a gateway link; orders for `instruments` go to it. Returns its id and the count of
    /// reports the engine has fully applied (for a gateway that runs in lockstep).
    pub fn add_venue(
        &mut self,
        orders: Producer<OrderCommand>,
        reports: Consumer<ExecutionReport>,
        instruments: &[InstrumentId],
    ) -> (VenueId, Arc<Progress>) {
        let idx = self.core.venues.len();
        let venue = VenueId(idx as u16);
        for i in instruments {
            if let Some(slot) = self.core.venue_of_instrument.get_mut(i.index()) {
                *slot = Some(idx);
            }
        }
        let reports_applied = Progress::new();
        self.core.venues.push(VenueLink {
            venue,
            orders,
            reports,
            reports_applied: reports_applied.clone(),
            applied: 0,
        });
        self.core.venue_reported.push(true);
        self.core.venue_healthy.push(true);
        self.core.routing.add_venue();
        // The venue's name for the stats file: its instruments' venue when they share one.
        let mut names = instruments.iter().filter_map(|i| self.core.instruments.get(*i)).map(|i| i.venue().name());
        let first = names.next();
        let name = match first {
            Some(n) if names.all(|m| m == n) => n.to_string(),
            _ => format!("venue{idx}"),
        };
        self.core.stats.add_venue(&name);
        (venue, reports_applied)
    }

    /// Adds a strategy; it must have been built with `StrategyId(n)` where `n` is the number of
    /// strategies added before it (its index here).
    pub fn add_strategy(&mut self, strategy: Box<dyn Strategy>) {
        let idx = self.core.strategies.len();
        self.core.stats.add_strategy(strategy.name());
        for i in strategy.instruments() {
            if let Some(subs) = self.core.subscribers.get_mut(i.index()) {
                subs.push(idx);
            }
        }
        self.core.strategies.push(strategy);
    }

    /// Sets the control-plane receiver.
    pub fn set_control(&mut self, rx: crossbeam_channel::Receiver<ControlCommand>) {
        self.control = Some(rx);
    }

    /// Uses `flag` (shared with a signal handler or a supervisor) as the stop flag.
    pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
        self.stop = flag;
    }

    /// On a stop (the stop flag, not the feeds finishing), before [`Engine::run`] returns:
    /// stop the strategies, send a cancel-all for every account with working orders and keep
    /// applying reports (and control commands) until none is left or `grace` has passed. Off by
    /// default: a simulated venue stops with the engine, a live one keeps what it was sent.
    pub fn set_cancel_on_stop(&mut self, grace: Option<std::time::Duration>) {
        self.cancel_on_stop = grace;
    }

    /// The flag that stops the loop when set.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The engine's counters (shared with readers on other threads).
    pub fn counters(&self) -> SharedCounters {
        self.core.counters.clone()
    }

    /// The risk gate.
    pub fn risk(&self) -> &R {
        &self.core.risk
    }

    /// A book.
    pub fn book(&self, instrument: InstrumentId) -> Option<&Book> {
        self.core.books.get(instrument.index())
    }

    /// A position.
    pub fn position(&self, account: AccountId, instrument: InstrumentId) -> Position {
        self.core.positions.get(account, instrument).copied().unwrap_or_default()
    }

    /// Registers socket-backed feeds with a `mio::Poll` (created only if one registers).
    pub fn register_feeds(&mut self) -> std::io::Result<()> {
        let poll = mio::Poll::new()?;
        let mut owners = Vec::new();
        let mut any = false;
        for (idx, feed) in self.feeds.iter_mut().enumerate() {
            let base = idx * 1024;
            if feed.register(poll.registry(), base)? {
                any = true;
            }
            owners.push(base);
        }
        if any {
            self.poll = Some((poll, mio::Events::with_capacity(256), owners));
        }
        Ok(())
    }

    /// Whether every feed has finished (end of a simulation or replay).
    pub fn feeds_finished(&self) -> bool {
        !self.feeds.is_empty() && self.feeds.iter().all(|f| f.state() == FeedState::Finished)
    }

    /// One loop iteration; returns the amount of work done (0 = idle).
    #[inline]
    pub fn do_work(&mut self) -> usize {
        let t0 = sys::mono_now();
        let counters = &self.core.counters;
        counters.loop_iterations.incr();
        self.core.local_now = t0;
        let mut work = 0;

        if let Some((poll, events, _)) = &mut self.poll
            && poll.poll(events, Some(std::time::Duration::ZERO)).is_ok()
        {
            for event in events.iter() {
                let token = event.token().0;
                if let Some(feed) = self.feeds.get_mut(token / 1024) {
                    feed.on_ready(token);
                }
            }
        }

        let core = &mut self.core;
        let hold_market = core.journal.as_ref().is_some_and(JournalLink::should_hold_market);
        if hold_market {
            // Backpressure: no new market input until the journal thread has made room.
            core.counters.journal_market_holds.incr();
        }
        for feed in self.feeds.iter_mut().filter(|_| !hold_market) {
            work += feed.poll(t0, &mut |ev: &MarketEvent| core.on_market(ev));
            // Books that refused this feed's records: it resyncs them (cold; empty almost always).
            while let Some((instrument, reason)) = core.refused.pop() {
                feed.on_book_refused(instrument, reason, t0, &mut |ev: &MarketEvent| core.on_market(ev));
            }
        }

        work += self.core.drain_reports();
        work += self.drain_control();
        if self.core.stop_requested {
            self.stop.store(true, Ordering::Relaxed);
        }

        if self.core.cfg.timer_clock == TimerClock::Monotonic && t0 >= self.next_housekeeping {
            self.next_housekeeping = t0.saturating_add(self.core.cfg.housekeeping_interval);
            // Each venue's health score (gateway, feeds, answers, latency, rejects, book age),
            // then each account's router; the timer journals the venues' verdicts.
            self.judge_health(t0);
            self.core.timer();
        }

        if t0 >= self.next_stats {
            self.next_stats = t0.saturating_add(stats::STATS_INTERVAL);
            self.stats_tick(t0);
        }

        if work > 0 {
            let counters = &self.core.counters;
            counters.busy_iterations.incr();
            let dt = sys::mono_now().0 - t0.0;
            self.loop_time.record(dt);
            self.core.stats.latency.loop_iteration.record(dt);
            if dt > self.core.cfg.stall_threshold.0 {
                counters.stalls.incr();
            }
        }
        work
    }

    fn drain_control(&mut self) -> usize {
        let mut work = 0;
        while let Some(cmd) = self.control.as_ref().and_then(|rx| rx.try_recv().ok()) {
            work += 1;
            self.apply_control(cmd);
        }
        work
    }

    /// Carries out one control command, journaling it first (who and what).
    fn apply_control(&mut self, cmd: ControlCommand) {
        self.core.domain_now = self.core.clock.now();
        if self.core.control(cmd) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Carries out `cmd` when domain time reaches `at`: checked as each market record arrives,
    /// before it is applied (like the domain timer), so where it falls among the inputs depends
    /// on the inputs only and a seed reproduces it. Journaled as any control command where it is
    /// carried out, so a replay applies it at the same point. Call before the loop runs.
    pub fn schedule_control(&mut self, at: Nanos, cmd: ControlCommand) {
        let core = &mut self.core;
        // Soonest last; of equal times the one scheduled first is carried out first.
        let pos = core.scheduled.iter().position(|(t, _)| *t <= at).unwrap_or(core.scheduled.len());
        core.scheduled.insert(pos, (at, cmd));
        core.next_scheduled = core.scheduled.last().map_or(NEVER, |(t, _)| *t);
    }

    /// Runs the loop on the calling thread until the stop flag is set or every feed has finished
    /// and no work is left; pins first. Returns the run's report.
    pub fn run(mut self) -> (EngineReport, Self) {
        sys::init_clock();
        let own_sink = self.log_sink.is_some();
        let previous_sink = self.log_sink.take().and_then(crate::log_ring::install);
        let pinning = sys::pin_current_thread(self.core.cfg.cpu);
        match pinning {
            Pinning::Pinned(cpu) => crate::core_log!(Info, "core thread pinned", 0; cpu = cpu),
            Pinning::NotRequested => crate::core_log!(Info, "core thread not pinned (no cpu configured)", 0),
            Pinning::Failed(cpu) => crate::core_log!(
                Warn, "could not pin the core thread; running unpinned", 0;
                cpu = cpu, cpus_available = sys::available_cpus()
            ),
        }
        let mut idler = Idler::new(self.core.cfg.idle);
        let start = sys::mono_now();
        let mut idle_after_finish = 0u32;
        while !self.stop.load(Ordering::Relaxed) {
            let work = self.do_work();
            idler.idle(work);
            if work == 0 && self.feeds_finished() {
                // Let in-flight reports arrive before leaving.
                idle_after_finish += 1;
                if idle_after_finish > 1000 {
                    break;
                }
            } else {
                idle_after_finish = 0;
            }
        }
        if let Some(grace) = self.cancel_on_stop
            && self.stop.load(Ordering::Relaxed)
        {
            self.cancel_working_orders(grace);
        }
        let elapsed = sys::mono_now().saturating_sub(start);
        if own_sink {
            self.log_sink = crate::log_ring::uninstall();
            if let Some(previous) = previous_sink {
                crate::log_ring::install(previous);
            }
        }
        (self.report(pinning, elapsed), self)
    }

    /// The stop's wind-down ([`Engine::set_cancel_on_stop`]): cancel-all per account with
    /// working orders, then reports until the table is empty or `grace` is over.
    #[cold]
    fn cancel_working_orders(&mut self, grace: std::time::Duration) {
        let (accounts, working) = self.core.wind_down();
        if accounts == 0 {
            return;
        }
        let deadline = std::time::Instant::now() + grace;
        while self.core.orders.live() > 0 && std::time::Instant::now() < deadline {
            if self.core.drain_reports() + self.drain_control() == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        match self.core.orders.live() {
            0 => crate::core_log!(Info, "stop: working orders closed", 0; working = working, accounts = accounts),
            left => crate::core_log!(
                Warn, "stop: working orders still open after the cancel-all; check the venue", 0;
                open = left, working = working, grace_ms = grace.as_millis() as u64
            ),
        }
    }

    /// The report of what has happened so far.
    pub fn report(&self, pinning: Pinning, elapsed: Nanos) -> EngineReport {
        let c = &self.core;
        let mut positions = Vec::new();
        for account in 0..c.positions.accounts() {
            let account = AccountId(account as u16);
            for inst in c.instruments.iter() {
                let Some(p) = c.positions.get(account, inst.id()) else { continue };
                if p.fills() == 0 {
                    continue;
                }
                let mark = c.books[inst.id().index()].mid();
                let unrealized = mark.and_then(|m| p.unrealized(inst, m).ok());
                positions.push(PositionReport { account, instrument: inst.id(), position: *p, mark, unrealized });
            }
        }
        EngineReport {
            pinning,
            elapsed,
            journal: JournalTally {
                records: c.counters.journal_records.get(),
                dropped: c.counters.journal_dropped.get(),
                waits: c.counters.journal_waits.get(),
                market_holds: c.counters.journal_market_holds.get(),
                refused_orders: c.counters.journal_refused_orders.get(),
            },
            risk_orders: (c.counters.risk_orders_sent.get(), c.counters.risk_orders_refused.get()),
            market_events: c.counters.market_events.get(),
            market_batches: c.counters.market_batches.get(),
            order_requests: c.counters.order_requests.get(),
            orders_sent: c.counters.orders_sent.get(),
            fills: c.counters.fills.get(),
            open_orders: c.orders.live(),
            risk: RiskTally {
                allow: c.counters.risk_allow.get(),
                scale_down: c.counters.risk_scale_down.nonzero().collect(),
                block: c.counters.risk_block.nonzero().collect(),
            },
            stalls: c.counters.stalls.get(),
            tick_to_order: c.tick_to_order.summary(),
            loop_time: self.loop_time.summary(),
            fills_digest: c.fills_digest,
            positions,
            feeds: self.feed_stats(),
            books: self.book_reports(),
            swaps: c.swaps.clone(),
        }
    }

    /// The instrument registry.
    pub fn instruments(&self) -> &InstrumentRegistry {
        &self.core.instruments
    }

    /// Each feed's name and decoder counters (`None` for a source without a decoder), in the
    /// order added: the feed health of the run summary. Allocates; call after the loop.
    pub fn feed_stats(&self) -> Vec<(String, Option<FeedStats>)> {
        self.feeds.iter().map(|f| (f.name().to_string(), f.stats())).collect()
    }

    /// Every book's health now (time invalid up to the monotonic now). Allocates.
    pub fn book_reports(&self) -> Vec<BookReport> {
        let now = sys::mono_now();
        self.core
            .books
            .iter()
            .map(|b| BookReport {
                instrument: b.instrument(),
                health: b.health(now),
                gaps: self.feeds.iter().find_map(|f| f.book_gaps(b.instrument())),
                valid: b.is_valid(),
            })
            .collect()
    }
}

/// A [`MarketView`] over the core's fields, borrowing them individually so the strategies, the
/// risk gate and the action buffer stay mutably borrowable beside it.
macro_rules! view {
    ($core:expr) => {
        view!($core, $core.domain_now)
    };
    ($core:expr, $now:expr) => {
        MarketView {
            instruments: &$core.instruments,
            books: &$core.books,
            positions: &$core.positions,
            orders: &$core.orders,
            now: $now,
            local_now: $core.local_now,
            siblings: &$core.routing.siblings,
        }
    };
}

mod handlers;
mod reduce_only;
mod replay;
mod restore;
mod routing;
mod stats;
pub mod swap;

pub use restore::{RUN_ORDER_ID_BITS, run_order_id_base};
use swap::NEVER;

#[cfg(test)]
mod journal_tests;
#[cfg(test)]
mod routing_tests;
#[cfg(test)]
mod swap_tests;
#[cfg(test)]
mod tests;
