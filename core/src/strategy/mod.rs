//! The strategy seam: [`Strategy`] reads the world through a [`MarketView`] and emits
//! [`StrategyAction`]s into a fixed-capacity [`Actions`] buffer.
//!
//! Strategies run inline on the core thread after the book is updated and before the risk gate,
//! so they must not allocate, lock or block. The same view is used live and in replay.
//!
//! A running strategy can be swapped — new parameters and version while it holds positions and
//! has orders working — by a journaled control command ([`swap`]: the policy, by default a
//! hand-over of its working orders to the new version, or cancel-then-replace).

pub mod imbalance;
pub mod swap;

use crate::book::Book;
use crate::event::MarketEvent;
use crate::ids::{AccountId, InstrumentId, OrderId};
use crate::instrument::{Instrument, InstrumentRegistry};
use crate::order::{ExecutionReport, OrderRequest};
use crate::orders::OrderTable;
use crate::position::{Position, PositionBook};
use crate::time::Nanos;

/// Read-only view of the engine's state, given to strategies and the risk gate.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    /// All instruments.
    pub instruments: &'a InstrumentRegistry,
    /// Books, indexed by instrument id.
    pub books: &'a [Book],
    /// Positions.
    pub positions: &'a PositionBook,
    /// Working orders.
    pub orders: &'a OrderTable,
    /// Domain time (Unix-epoch ns) from the engine's clock.
    pub now: Nanos,
    /// Monotonic time at the start of this loop iteration.
    pub local_now: Nanos,
    /// Which instruments are one canonical instrument listed at several venues
    /// ([`crate::routing::NO_SIBLINGS`] where none are).
    pub siblings: &'a crate::routing::Siblings,
}

impl<'a> MarketView<'a> {
    /// The book of `instrument`.
    #[inline]
    pub fn book(&self, instrument: InstrumentId) -> Option<&'a Book> {
        self.books.get(instrument.index())
    }

    /// The instrument.
    #[inline]
    pub fn instrument(&self, instrument: InstrumentId) -> Option<&'a Instrument> {
        self.instruments.get(instrument)
    }

    /// The position of `account` in `instrument` (flat if unknown).
    #[inline]
    pub fn position(&self, account: AccountId, instrument: InstrumentId) -> Position {
        self.positions.get(account, instrument).copied().unwrap_or_default()
    }

    /// The book to price an order of `instrument` from: its own when valid, else the first
    /// valid book of a sibling listing (the same canonical instrument at another venue, on the
    /// same grid) — where the router sends the order while the instrument's venue is down
    /// (docs/FAILOVER.md) — else its own (invalid) book.
    #[inline]
    pub fn canonical_book(&self, instrument: InstrumentId) -> Option<&'a Book> {
        let own = self.book(instrument);
        if own.is_some_and(Book::is_valid) {
            return own;
        }
        self.siblings.of(instrument).iter().filter_map(|s| self.book(*s)).find(|b| b.is_valid()).or(own)
    }

    /// The quantity `account` holds of `instrument`'s canonical instrument: the sum of its
    /// positions at every venue listing it (orders are routed to any of them), or the
    /// instrument's own position where it is listed once.
    #[inline]
    pub fn canonical_qty(&self, account: AccountId, instrument: InstrumentId) -> crate::money::Qty {
        let siblings = self.siblings.of(instrument);
        if siblings.is_empty() {
            return self.position(account, instrument).qty();
        }
        let units = siblings.iter().map(|s| self.position(account, *s).qty().units()).fold(0i64, i64::saturating_add);
        crate::money::Qty::from_units(units)
    }
}

/// What a strategy asks the engine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyAction {
    /// Place an order (goes through the risk gate).
    Place(OrderRequest),
    /// Cancel one of this strategy's orders.
    Cancel(OrderId),
    /// Cancel all of this strategy's account's orders on an instrument.
    CancelAll(AccountId, InstrumentId),
}

/// A fixed-capacity buffer of actions for one callback; no allocation.
#[derive(Debug, Clone)]
pub struct Actions {
    buf: [Option<StrategyAction>; Self::CAPACITY],
    len: usize,
    overflowed: usize,
}

impl Default for Actions {
    fn default() -> Self {
        Self { buf: [None; Self::CAPACITY], len: 0, overflowed: 0 }
    }
}

impl Actions {
    /// Most actions one callback may emit.
    pub const CAPACITY: usize = 16;

    /// Adds an action; returns `false` (and counts it) if the buffer is full.
    #[inline]
    pub fn push(&mut self, action: StrategyAction) -> bool {
        if self.len == Self::CAPACITY {
            self.overflowed += 1;
            return false;
        }
        self.buf[self.len] = Some(action);
        self.len += 1;
        true
    }

    /// Number of actions.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the action at `i`.
    #[inline]
    pub fn take(&mut self, i: usize) -> Option<StrategyAction> {
        self.buf.get_mut(i).and_then(Option::take)
    }

    /// Empties the buffer; returns how many actions had overflowed since the last clear.
    #[inline]
    pub fn clear(&mut self) -> usize {
        for slot in &mut self.buf[..self.len] {
            *slot = None;
        }
        self.len = 0;
        std::mem::take(&mut self.overflowed)
    }
}

/// A trading strategy instance bound to one account.
pub trait Strategy: Send {
    /// Name, for logs, metrics and the account's whitelist.
    fn name(&self) -> &str;

    /// The account it trades for.
    fn account(&self) -> AccountId;

    /// Instruments whose market events it wants.
    fn instruments(&self) -> &[InstrumentId];

    /// A market record was applied to the book (`ev.is_batch_end()` marks a consistent book).
    fn on_market(&mut self, view: &MarketView<'_>, ev: &MarketEvent, out: &mut Actions);

    /// A report on one of its orders, after positions were updated. Local refusals (risk block,
    /// full queue) arrive here as `Rejected` too, so a strategy never waits on an order that was
    /// not sent.
    fn on_report(&mut self, view: &MarketView<'_>, report: &ExecutionReport, out: &mut Actions);

    /// The running version (1 until the first swap).
    fn version(&self) -> u32 {
        1
    }

    /// Takes new parameters and becomes `swap.version`, keeping its slot, id, account and
    /// instruments, with the hand-over of `swap.policy` ([`swap`]): what it has in flight comes
    /// from the engine's order table in `view` (which holds the orders as the policy left them:
    /// still working, or cancels sent). Called on the core thread between two inputs; must not
    /// allocate. A refusal changes nothing.
    fn swap(
        &mut self,
        swap: &swap::StrategySwap,
        view: &MarketView<'_>,
    ) -> Result<swap::SwapApplied, swap::SwapRefused> {
        self.check_swap(swap, view).map(|()| swap::SwapApplied::default())
    }

    /// Whether [`Strategy::swap`] would take `swap` (its parameters valid), changing nothing:
    /// the engine asks before the policy sends any cancel.
    fn check_swap(&self, swap: &swap::StrategySwap, view: &MarketView<'_>) -> Result<(), swap::SwapRefused> {
        let _ = (swap, view);
        Err(swap::SwapRefused::Unsupported)
    }
}
