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
use crate::counters::{self, SharedCounters};
use crate::event::MarketEvent;
use crate::feed_source::{FeedSource, FeedState, FeedStats};
use crate::idle::{IdleStrategy, Idler};
use crate::ids::{AccountId, InstrumentId, OrderId, VenueId};
use crate::instrument::InstrumentRegistry;
use crate::latency::{LatencyHistogram, LatencySummary};
use crate::money::{Notional, Price};
use crate::order::{ExecutionReport, OrderCommand, OrderRequest, RejectReason, ReportKind};
use crate::orders::OrderTable;
use crate::position::{Position, PositionBook};
use crate::queue::{Consumer, Producer, Progress, PushError};
use crate::risk_api::{
    BlockReason, DecisionRecord, PreTradeCheck, RiskAction, RiskActions, RiskCommand, RiskDecision, RiskReply,
    is_sane_reduce_only,
};
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
    /// Interval of the housekeeping timer (monotonic).
    pub housekeeping_interval: Nanos,
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

/// What a run did, for the summary.
#[derive(Debug, Clone)]
pub struct EngineReport {
    /// Pinning outcome.
    pub pinning: Pinning,
    /// Wall time in the loop.
    pub elapsed: Nanos,
    /// Decision records journaled / dropped (journal ring full).
    pub journal: (u64, u64),
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
    tick_to_order: LatencyHistogram,
    fills_digest: u64,
    local_now: Nanos,
    journal: Option<Producer<DecisionRecord>>,
    risk_actions: RiskActions,
    /// Health each venue last reported (`ControlCommand::VenueHealth`), by venue index.
    venue_reported: Vec<bool>,
    /// Reported health and the venue's feeds' state, recomputed on the timer.
    venue_healthy: Vec<bool>,
    replies: Option<crossbeam_channel::Sender<(u64, RiskReply)>>,
    /// Set when the loop has stopped: strategies' actions are dropped from then on.
    halted: bool,
    /// Books that refused a record during the current feed poll, and why, to be handed back to
    /// that feed for a resync (capacity: one per instrument, allocated once).
    refused: Vec<(InstrumentId, BookError)>,
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
    /// On stop, cancel every working order and wait this long for the venues to confirm.
    cancel_on_stop: Option<std::time::Duration>,
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
    /// An engine over `instruments` with the risk gate `risk` and domain clock `clock`.
    /// Allocates every table here.
    pub fn new(cfg: EngineConfig, instruments: InstrumentRegistry, risk: R, clock: Arc<dyn Clock>) -> Self {
        let books = instruments.iter().map(|i| Book::new(i.id(), cfg.book_depth)).collect();
        let n = instruments.len();
        let core = Core {
            positions: PositionBook::new(cfg.accounts.max(1), n),
            orders: OrderTable::new(cfg.max_open_orders),
            subscribers: vec![Vec::new(); n],
            venue_of_instrument: vec![None; n],
            local_reports: VecDeque::with_capacity(1024),
            tick_to_order: LatencyHistogram::new(),
            counters: counters::shared(),
            actions: Actions::default(),
            strategies: Vec::new(),
            venues: Vec::new(),
            fills_digest: FNV_OFFSET,
            local_now: Nanos::ZERO,
            journal: None,
            risk_actions: RiskActions::with_capacity(256),
            venue_reported: Vec::new(),
            venue_healthy: Vec::new(),
            replies: None,
            halted: false,
            refused: Vec::with_capacity(n),
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
            cancel_on_stop: None,
        }
    }

    /// Adds a market-data source (polled in the order added).
    pub fn add_feed(&mut self, feed: Box<dyn FeedSource>) {
        self.feeds.push(feed);
        self.feed_venue.push(None);
    }

    /// Adds a market-data source serving `venue`: while it is `Recovering` the venue counts as
    /// unhealthy for the risk component (outage watch).
    pub fn add_venue_feed(&mut self, feed: Box<dyn FeedSource>, venue: VenueId) {
        self.feeds.push(feed);
        self.feed_venue.push(Some(venue.index()));
    }

    /// Sends every risk decision, with its inputs, to `journal` (full ring: dropped, counted).
    pub fn set_journal(&mut self, journal: Producer<DecisionRecord>) {
        self.core.journal = Some(journal);
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
        (venue, reports_applied)
    }

    /// Adds a strategy; it must have been built with `StrategyId(n)` where `n` is the number of
    /// strategies added before it (its index here).
    pub fn add_strategy(&mut self, strategy: Box<dyn Strategy>) {
        let idx = self.core.strategies.len();
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
        for feed in &mut self.feeds {
            work += feed.poll(t0, &mut |ev: &MarketEvent| core.on_market(ev));
            // Books that refused this feed's records: it resyncs them (cold; empty almost always).
            while let Some((instrument, reason)) = core.refused.pop() {
                feed.on_book_refused(instrument, reason, t0, &mut |ev: &MarketEvent| core.on_market(ev));
            }
        }

        work += self.core.drain_reports();
        work += self.drain_control();

        if t0 >= self.next_housekeeping {
            self.next_housekeeping = t0.saturating_add(self.core.cfg.housekeeping_interval);
            // A venue is healthy when it says so and none of its feeds is recovering.
            for (v, healthy) in self.core.venue_healthy.iter_mut().enumerate() {
                *healthy = self.core.venue_reported[v];
            }
            for (feed, venue) in self.feeds.iter().zip(&self.feed_venue) {
                if let Some(v) = venue
                    && feed.state() == FeedState::Recovering
                    && let Some(h) = self.core.venue_healthy.get_mut(*v)
                {
                    *h = false;
                }
            }
            self.core.housekeeping();
        }

        if work > 0 {
            let counters = &self.core.counters;
            counters.busy_iterations.incr();
            let dt = sys::mono_now().0 - t0.0;
            self.loop_time.record(dt);
            if dt > self.core.cfg.stall_threshold.0 {
                counters.stalls.incr();
            }
        }
        work
    }

    fn drain_control(&mut self) -> usize {
        let Some(rx) = &self.control else { return 0 };
        let mut work = 0;
        while let Ok(cmd) = rx.try_recv() {
            work += 1;
            match cmd {
                ControlCommand::Shutdown => self.stop.store(true, Ordering::Relaxed),
                ControlCommand::CancelAll(account) => self.core.cancel_all(account, None),
                ControlCommand::Risk { id, command } => self.core.risk_command(id, &command),
                ControlCommand::VenueHealth { venue, healthy } => {
                    if let Some(h) = self.core.venue_reported.get_mut(venue.index()) {
                        *h = healthy;
                    }
                }
                ControlCommand::Funding { account, instrument, amount } => {
                    match self.core.positions.get_mut(account, instrument).map(|p| p.apply_funding(amount)) {
                        Some(Ok(())) => self.core.counters.funding_payments.incr(),
                        _ => self.core.counters.accounting_errors.incr(),
                    }
                }
            }
        }
        work
    }

    /// Runs the loop on the calling thread until the stop flag is set or every feed has finished
    /// and no work is left; pins first. Returns the run's report.
    pub fn run(mut self) -> (EngineReport, Self) {
        sys::init_clock();
        let pinning = sys::pin_current_thread(self.core.cfg.cpu);
        match pinning {
            Pinning::Pinned(cpu) => log::info!("core thread pinned to cpu {cpu}"),
            Pinning::NotRequested => log::info!("core thread not pinned (no cpu configured)"),
            Pinning::Failed(cpu) => log::warn!(
                "could not pin the core thread to cpu {cpu} ({} cpus available); running unpinned",
                sys::available_cpus()
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
        (self.report(pinning, elapsed), self)
    }

    /// The stop's wind-down ([`Engine::set_cancel_on_stop`]): cancel-all per account with
    /// working orders, then reports until the table is empty or `grace` is over.
    #[cold]
    fn cancel_working_orders(&mut self, grace: std::time::Duration) {
        let mut accounts: Vec<AccountId> = self.core.orders.iter().map(|o| o.request.account).collect();
        accounts.sort_unstable();
        accounts.dedup();
        if accounts.is_empty() {
            return;
        }
        self.core.halted = true;
        let working = self.core.orders.live();
        for account in &accounts {
            self.core.cancel_all(*account, None);
        }
        let deadline = std::time::Instant::now() + grace;
        while self.core.orders.live() > 0 && std::time::Instant::now() < deadline {
            if self.core.drain_reports() + self.drain_control() == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        match self.core.orders.live() {
            0 => log::info!("stop: {working} working order(s) on {} account(s) closed", accounts.len()),
            left => log::warn!(
                "stop: {left} of {working} working order(s) still open {:.1} s after the cancel-all; \
                 check the venue",
                grace.as_secs_f64()
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
            journal: (c.counters.journal_records.get(), c.counters.journal_dropped.get()),
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
        view!($core, $core.clock.now())
    };
    ($core:expr, $now:expr) => {
        MarketView {
            instruments: &$core.instruments,
            books: &$core.books,
            positions: &$core.positions,
            orders: &$core.orders,
            now: $now,
            local_now: $core.local_now,
        }
    };
}

impl<R: PreTradeCheck> Core<R> {
    /// Book → strategies → risk → orders for one record.
    #[inline]
    fn on_market(&mut self, ev: &MarketEvent) {
        self.counters.market_events.incr();
        let Some(book) = self.books.get_mut(ev.instrument.index()) else {
            self.counters.unknown_instrument_events.incr();
            return;
        };
        if let Err(reason) = book.apply(ev) {
            // The book is invalid already (crossed, or a level it cannot hold); the feed that
            // sent the record is told after its poll, once per book.
            if reason == BookError::Crossed {
                self.counters.books_crossed.incr();
            } else {
                self.counters.book_errors.incr();
            }
            if !self.refused.iter().any(|(i, _)| *i == ev.instrument) && self.refused.len() < self.refused.capacity() {
                self.refused.push((ev.instrument, reason));
            }
        }
        if ev.is_batch_end() {
            self.counters.market_batches.incr();
        }
        // One domain-time read per record, shared by every subscriber (not one per strategy).
        let now = self.clock.now();
        for k in 0..self.subscribers[ev.instrument.index()].len() {
            let s = self.subscribers[ev.instrument.index()][k];
            let view = view!(self, now);
            self.strategies[s].on_market(&view, ev, &mut self.actions);
            if !self.actions.is_empty() {
                self.execute_actions(ev.local_ns);
            }
        }
    }

    /// Carries out the actions a strategy just emitted; `trigger_ns` is the monotonic receive
    /// time of what triggered them.
    #[inline]
    fn execute_actions(&mut self, trigger_ns: Nanos) {
        if self.halted {
            // Stopped: a strategy reacting to the wind-down's reports opens nothing new.
            self.actions.clear();
            return;
        }
        for i in 0..self.actions.len() {
            match self.actions.take(i) {
                Some(StrategyAction::Place(request)) => self.place(request, trigger_ns),
                Some(StrategyAction::Cancel(id)) => self.cancel(id),
                Some(StrategyAction::CancelAll(account, instrument)) => self.cancel_all(account, Some(instrument)),
                None => {}
            }
        }
        let overflowed = self.actions.clear();
        if overflowed > 0 {
            self.counters.signal_overflow.add(overflowed as u64);
        }
    }

    #[inline]
    fn place(&mut self, mut request: OrderRequest, trigger_ns: Nanos) {
        self.counters.order_requests.incr();
        let view = view!(self);
        let decision = self.risk.check(&request, &view);
        if let Some(journal) = &mut self.journal {
            let record =
                DecisionRecord::new(&request, decision, &self.risk.decision_inputs(), view.now, self.local_now);
            match journal.push(record) {
                Ok(()) => self.counters.journal_records.incr(),
                Err(PushError::Full(_)) => self.counters.journal_dropped.incr(),
            }
        }
        match decision {
            RiskDecision::Allow => self.counters.risk_allow.incr(),
            RiskDecision::ScaleDown(qty, reason) => {
                self.counters.risk_scale_down.get(reason).incr();
                request.qty = qty;
            }
            RiskDecision::Block(reason) => {
                self.counters.risk_block.get(reason).incr();
                self.local_reject(OrderId(0), &request, RejectReason::RiskBlocked);
                return;
            }
        }
        let Some(venue) = self.venue_of_instrument.get(request.instrument.index()).copied().flatten() else {
            self.counters.unknown_instrument_events.incr();
            self.local_reject(OrderId(0), &request, RejectReason::UnknownInstrument);
            return;
        };
        let Some(order_id) = self.orders.insert(request, self.local_now) else {
            self.counters.order_table_full.incr();
            self.local_reject(OrderId(0), &request, RejectReason::TooManyOpenOrders);
            return;
        };
        let sent = sys::mono_now();
        let command = OrderCommand::New { order_id, request, sent_local_ns: sent };
        match self.venues[venue].orders.push(command) {
            Ok(()) => {
                self.counters.orders_sent.incr();
                self.tick_to_order.record(sent.0 - trigger_ns.0);
            }
            Err(PushError::Full(_)) => {
                self.orders.forget(order_id);
                self.counters.order_queue_full.incr();
                self.local_reject(order_id, &request, RejectReason::QueueFull);
            }
        }
    }

    fn cancel(&mut self, order_id: OrderId) {
        let Some(order) = self.orders.get(order_id).copied() else { return };
        let Some(venue) = self.venue_of_instrument.get(order.request.instrument.index()).copied().flatten() else {
            return;
        };
        let command =
            OrderCommand::Cancel { order_id, account: order.request.account, instrument: order.request.instrument };
        if self.venues[venue].orders.push(command).is_ok() {
            self.orders.mark_pending_cancel(order_id);
            self.counters.cancels_sent.incr();
        } else {
            self.counters.order_queue_full.incr();
        }
    }

    fn cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        for v in 0..self.venues.len() {
            let serves = self.venue_of_instrument.contains(&Some(v));
            if !serves {
                continue;
            }
            if self.venues[v].orders.push(OrderCommand::CancelAll { account, instrument }).is_ok() {
                self.counters.cancels_sent.incr();
            } else {
                self.counters.order_queue_full.incr();
            }
        }
    }

    #[cold]
    fn local_reject(&mut self, order_id: OrderId, request: &OrderRequest, reason: RejectReason) {
        let report = ExecutionReport::status(
            order_id,
            request,
            VenueId(u16::MAX),
            ReportKind::Rejected(reason),
            self.clock.now(),
        );
        if self.local_reports.len() < self.local_reports.capacity() {
            self.local_reports.push_back((request.strategy.index(), report));
        } else {
            self.counters.signal_overflow.incr();
        }
    }

    /// Drains gateway reports, then local refusals.
    #[inline]
    fn drain_reports(&mut self) -> usize {
        let mut work = 0;
        for v in 0..self.venues.len() {
            for _ in 0..self.cfg.max_reports_per_poll {
                let Ok(report) = self.venues[v].reports.pop() else { break };
                work += 1;
                self.on_report(&report);
                let link = &mut self.venues[v];
                link.applied += 1;
                link.reports_applied.publish(link.applied);
            }
        }
        while let Some((strategy, report)) = self.local_reports.pop_front() {
            work += 1;
            self.notify_strategy(strategy, &report);
        }
        work
    }

    #[inline]
    fn on_report(&mut self, report: &ExecutionReport) {
        self.counters.reports.incr();
        let Some(order) = self.orders.get(report.order_id).copied() else {
            self.counters.unmatched_reports.incr();
            return;
        };
        if self
            .orders
            .apply(report.order_id, report.kind, report.venue_order_id, report.last_qty, report.leaves_qty)
            .is_err()
        {
            self.counters.unmatched_reports.incr();
            return;
        }
        match report.kind {
            ReportKind::Accepted => self.counters.accepted.incr(),
            ReportKind::Rejected(_) => self.counters.venue_rejects.incr(),
            ReportKind::Canceled => self.counters.cancels.incr(),
            ReportKind::CancelRejected(_) => {}
            ReportKind::Fill => {
                self.counters.fills.incr();
                let instrument = order.request.instrument;
                let applied =
                    match (self.instruments.get(instrument), self.positions.get_mut(order.request.account, instrument))
                    {
                        (Some(inst), Some(pos)) => pos
                            .apply_fill(inst, order.request.side, report.last_price, report.last_qty, report.fee)
                            .is_ok(),
                        _ => false,
                    };
                if !applied {
                    self.counters.accounting_errors.incr();
                }
                let mut h = fnv(self.fills_digest, report.order_id.0);
                h = fnv(h, order.request.side as u64);
                h = fnv(h, report.last_price.units() as u64);
                h = fnv(h, report.last_qty.units() as u64);
                h = fnv(h, report.fee.units() as u64);
                self.fills_digest = h;
            }
        }
        self.notify_strategy(order.request.strategy.index(), report);
        let view = view!(self);
        self.risk.on_report(report, &view);
    }

    #[inline]
    fn notify_strategy(&mut self, strategy: usize, report: &ExecutionReport) {
        if strategy >= self.strategies.len() {
            return;
        }
        let view = view!(self);
        self.strategies[strategy].on_report(&view, report, &mut self.actions);
        if !self.actions.is_empty() {
            self.execute_actions(self.local_now);
        }
    }

    /// Periodic gauges for the stats exporter, then the risk component's timer.
    fn housekeeping(&mut self) {
        self.counters.open_orders.set(self.orders.live() as u64);
        let view = view!(self);
        self.risk.on_timer(&view, &self.venue_healthy, &mut self.risk_actions);
        self.execute_risk_actions();
    }

    /// A control command for the risk component; the reply goes back tagged with `id`.
    #[cold]
    fn risk_command(&mut self, id: u64, command: &RiskCommand) {
        let view = view!(self);
        let reply = self.risk.on_command(command, &view, &mut self.risk_actions);
        self.execute_risk_actions();
        let sent = self.replies.as_ref().is_some_and(|tx| tx.try_send((id, reply)).is_ok());
        if !sent {
            self.counters.control_replies_dropped.incr();
        }
    }

    /// Carries out the risk component's actions, in order, and empties the buffer.
    fn execute_risk_actions(&mut self) {
        if self.risk_actions.is_empty() {
            return;
        }
        for i in 0..self.risk_actions.as_slice().len() {
            match self.risk_actions.as_slice()[i] {
                RiskAction::CancelAll(account) => self.cancel_all(account, None),
                RiskAction::Flatten(order) => self.place_risk_order(order),
            }
        }
        let overflowed = self.risk_actions.clear();
        self.counters.risk_action_overflow.add(overflowed);
    }

    /// Sends a risk-originated reduce-only order past the gate, if it is sane.
    fn place_risk_order(&mut self, request: OrderRequest) {
        let position = self.positions.get(request.account, request.instrument).map(|p| p.qty());
        let on_grid = self
            .instruments
            .get(request.instrument)
            .is_some_and(|i| i.is_on_tick(request.price) && i.is_on_lot(request.qty));
        let venue = self.venue_of_instrument.get(request.instrument.index()).copied().flatten();
        let (Some(position), true, Some(venue)) = (position, on_grid, venue) else {
            self.counters.risk_orders_refused.incr();
            return;
        };
        if !is_sane_reduce_only(&request, position) {
            self.counters.risk_orders_refused.incr();
            return;
        }
        let Some(order_id) = self.orders.insert(request, self.local_now) else {
            self.counters.order_table_full.incr();
            self.counters.risk_orders_refused.incr();
            return;
        };
        let command = OrderCommand::New { order_id, request, sent_local_ns: sys::mono_now() };
        match self.venues[venue].orders.push(command) {
            Ok(()) => self.counters.risk_orders_sent.incr(),
            Err(PushError::Full(_)) => {
                self.orders.forget(order_id);
                self.counters.order_queue_full.incr();
                self.counters.risk_orders_refused.incr();
            }
        }
    }
}

#[cfg(test)]
mod tests;
