//! [`Market`]: the simulated exchange's shared state — books, background flow, client accounts
//! and their orders — behind one lock, and the fan-out of market and account events.
//!
//! Every connection thread of the simulator calls into one `Market`. Each operation (a client
//! order, a cancel, a background flow event) runs under the lock against the same
//! [`SimExchange`] matching engine the in-process venue uses, advances the symbol's update id
//! by one when it changed the book, and publishes what happened — level changes and trades to
//! market-data subscribers, order events and balances to the account's subscribers — before the
//! lock is released, so a snapshot and a subscription taken together are always consistent.
//! Balances are spot-style: an order locks what it may spend (quote at the limit price for a
//! buy, base for a sell) and a fill moves it. Derivative symbols lock nothing; their fills move
//! the account's one-way [`Position`] and book realized PnL and fees to the quote (margin) asset
//! ([`positions`], `linear.rs`: positions, marks, funding, reduce-only). Runs on simulator
//! threads; allocates freely.

use crate::exchange::flow::FlowParams;
use crate::exchange::matching::{DoneReason, FeeSchedule, Fill, MatchSink, NewOrder, OrderDone, Owner};
use crate::exchange::sim_exchange::SimExchange;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use qt_core::Clock as _;
use qt_core::{
    AccountId, Instrument, InstrumentKind, Nanos, Notional, OrderId, OrderRequest, OrderType, Price, Qty, RejectReason,
    Rounding, Side, StrategyId, TimeInForce, WallClock,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod linear;
pub mod positions;
#[cfg(test)]
mod tests;

pub use linear::PositionReason;
pub use positions::Position;

/// One tradable symbol of the simulator.
#[derive(Debug, Clone)]
pub struct SymbolConfig {
    /// The instrument (its symbol is the venue symbol, e.g. `BTCUSDT`).
    pub instrument: Instrument,
    /// Background flow.
    pub flow: FlowParams,
}

/// One API account.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// API key clients send.
    pub api_key: String,
    /// Secret the HMAC signatures are made with.
    pub secret: String,
    /// Starting balances: asset → decimal amount.
    pub balances: Vec<(String, String)>,
}

/// Everything a [`Market`] starts from.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    /// Symbols.
    pub symbols: Vec<SymbolConfig>,
    /// Fees for every account.
    pub fees: FeeSchedule,
    /// Accounts.
    pub accounts: Vec<AccountConfig>,
    /// Seed of the background flow.
    pub seed: u64,
}

/// An order's life-cycle status, named as the venues name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Working, nothing filled.
    New,
    /// Working, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled on request (or by self-trade prevention).
    Canceled,
    /// IOC/FOK/market remainder removed.
    Expired,
    /// Refused.
    Rejected,
}

/// A client order as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    /// Symbol index.
    pub symbol: usize,
    /// Venue order id.
    pub venue_order_id: u64,
    /// Client order id.
    pub client_order_id: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// Original quantity.
    pub qty: Qty,
    /// Filled quantity.
    pub cum_qty: Qty,
    /// Filled notional in quote.
    pub cum_quote: Notional,
    /// Status.
    pub status: OrderStatus,
    /// Creation time (Unix ns).
    pub created: Nanos,
    /// Last update time (Unix ns).
    pub updated: Nanos,
}

/// One fill of a client order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillView {
    /// Venue trade id.
    pub trade_id: u64,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// Fee in quote currency.
    pub fee: Notional,
    /// Whether the client order was the maker.
    pub is_maker: bool,
    /// Time.
    pub ts: Nanos,
}

/// What happened to an order in one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    /// Accepted.
    New,
    /// A fill.
    Trade(FillView),
    /// Cancelled.
    Canceled,
    /// Remainder expired.
    Expired,
}

/// A free/locked balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceView {
    /// Asset.
    pub asset: String,
    /// Free.
    pub free: Notional,
    /// Locked by open orders.
    pub locked: Notional,
}

/// An event on an account's private stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// An order event (the order's state after it).
    Order {
        /// What happened.
        exec: ExecKind,
        /// The order after it.
        order: OrderView,
    },
    /// Balances changed (after fills, locks and unlocks).
    Balances {
        /// Time.
        ts: Nanos,
        /// The assets that changed, after the change.
        balances: Vec<BalanceView>,
    },
    /// A derivative position changed (a fill or funding); the margin asset's balance after it.
    Position {
        /// Time.
        ts: Nanos,
        /// What moved it.
        reason: PositionReason,
        /// The position after it.
        position: Position,
        /// The margin (quote) asset's balance after it.
        balance: BalanceView,
    },
}

/// A public trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeView {
    /// Trade id.
    pub trade_id: u64,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// Aggressor side.
    pub aggressor: Side,
    /// Time.
    pub ts: Nanos,
}

/// What one operation did to a symbol's public book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookUpdate {
    /// Symbol index.
    pub symbol: usize,
    /// The book's update id after this operation (one per operation that changed levels).
    pub update_id: u64,
    /// Time.
    pub ts: Nanos,
    /// Changed levels: new total (zero removes).
    pub levels: Vec<(Side, Price, Qty)>,
    /// Trades, in order.
    pub trades: Vec<TradeView>,
    /// Best bid after.
    pub best_bid: Option<(Price, Qty)>,
    /// Best ask after.
    pub best_ask: Option<(Price, Qty)>,
}

/// A consistent image of a symbol's book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookSnapshot {
    /// Symbol index.
    pub symbol: usize,
    /// Update id the image reflects.
    pub update_id: u64,
    /// Time.
    pub ts: Nanos,
    /// Bids, best first.
    pub bids: Vec<(Price, Qty)>,
    /// Asks, best first.
    pub asks: Vec<(Price, Qty)>,
}

/// How an order is named in a cancel or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// By venue order id.
    Venue(u64),
    /// By client order id.
    Client(String),
}

/// A client order request as the protocols decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrderRequest {
    /// Client order id; the venue makes one if absent.
    pub client_order_id: Option<String>,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force (`PostOnly` for LIMIT_MAKER / PostOnly).
    pub tif: TimeInForce,
    /// Limit price (`None` for market orders).
    pub price: Option<Price>,
    /// Quantity.
    pub qty: Qty,
}

/// Why the venue refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderReject {
    /// The matching engine's or the venue's own check.
    Reason(RejectReason),
    /// A client order id already used by an open order.
    DuplicateClientOrderId,
    /// No such order.
    UnknownOrder,
    /// No such symbol.
    UnknownSymbol,
    /// Not enough free balance.
    InsufficientBalance,
    /// A reduce-only order that would open or increase the position.
    ReduceOnly,
}

/// The result of an accepted order: its state after immediate matching, and its fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderOutcome {
    /// The order after matching.
    pub order: OrderView,
    /// Fills during submission.
    pub fills: Vec<FillView>,
}

#[derive(Debug)]
struct ClientOrder {
    view: OrderView,
    /// Amount locked for what is still working (quote for buys, base for sells).
    locked: Notional,
    /// The order's trades, oldest first (the account trade list).
    fills: Vec<FillView>,
}

/// One trade of a client order, as an account trade list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountTradeView {
    /// The order's venue id.
    pub venue_order_id: u64,
    /// The order's side.
    pub side: Side,
    /// The trade (its fee in the quote asset).
    pub fill: FillView,
}

#[derive(Debug)]
struct AccountState {
    api_key: String,
    secret: String,
    balances: BTreeMap<String, (Notional, Notional)>,
    /// Open and recent orders by internal id.
    orders: HashMap<u64, ClientOrder>,
    /// Internal id by (symbol, client order id), open orders only.
    open_by_client_id: HashMap<(usize, String), u64>,
    /// Internal id by venue order id (open and recent).
    by_venue_id: HashMap<(usize, u64), u64>,
    /// Recently closed orders, oldest first (bounded history for queries).
    closed: VecDeque<u64>,
    subscribers: Vec<Sender<Arc<AccountEvent>>>,
    /// Derivative positions by symbol index, and what each recent fill realized.
    linear: linear::LinearBook,
}

#[derive(Debug)]
struct SymbolState {
    ex: SimExchange,
    update_id: u64,
    subscribers: Vec<Sender<Arc<BookUpdate>>>,
}

#[derive(Debug)]
struct State {
    symbols: Vec<SymbolState>,
    accounts: Vec<AccountState>,
    next_internal_id: u64,
    fee_taker: qt_core::Rate,
}

/// Closed orders kept per account for queries.
const CLOSED_HISTORY: usize = 1000;
/// Events a subscriber may fall behind before it is dropped (a real venue disconnects it).
pub const SUBSCRIBER_BACKLOG: usize = 65_536;

/// The simulated exchange's shared state.
#[derive(Debug)]
pub struct Market {
    state: Mutex<State>,
    symbols: Vec<Instrument>,
    keys: HashMap<String, (AccountId, String)>,
    /// Added to the server's clock (fault injection: clock skew), milliseconds.
    clock_skew_ms: AtomicI64,
}

/// Collects one operation's matching callbacks.
#[derive(Default)]
struct Tape {
    levels: Vec<(Side, Price, Qty)>,
    fills: Vec<Fill>,
    accepted: Vec<(u64, NewOrder)>,
    done: Vec<OrderDone>,
}

impl MatchSink for Tape {
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, _ts: Nanos) {
        if matches!(order.owner, Owner::Client { .. }) {
            self.accepted.push((venue_id, *order));
        }
    }
    fn on_fill(&mut self, fill: &Fill) {
        self.fills.push(*fill);
    }
    fn on_done(&mut self, done: &OrderDone) {
        if matches!(done.owner, Owner::Client { .. }) {
            self.done.push(*done);
        }
    }
    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        self.levels.push((side, price, qty));
    }
}

fn asset_amount(qty: Qty, inst: &Instrument) -> Notional {
    Notional::from_scaled(i128::from(qty.units()), inst.qty_scale()).unwrap_or(Notional::MAX)
}

impl Market {
    /// Builds the books (seeded with background liquidity at the current wall time) and accounts.
    pub fn new(cfg: MarketConfig) -> Result<Arc<Self>, String> {
        let now = WallClock.now();
        let mut symbols = Vec::new();
        let mut states = Vec::new();
        for (i, s) in cfg.symbols.iter().enumerate() {
            let mut flow = s.flow.clone();
            flow.start_time_ns = now.0;
            let seed = cfg.seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut ex = SimExchange::new(s.instrument.clone(), cfg.fees, flow, seed)
                .map_err(|e| format!("symbol {}: flow.{e}", s.instrument.symbol()))?;
            ex.seed_book(&mut Tape::default());
            symbols.push(s.instrument.clone());
            states.push(SymbolState { ex, update_id: 1, subscribers: Vec::new() });
        }
        let mut keys = HashMap::new();
        let mut accounts = Vec::new();
        for (i, a) in cfg.accounts.iter().enumerate() {
            let id = AccountId(i as u16);
            if keys.insert(a.api_key.clone(), (id, a.secret.clone())).is_some() {
                return Err(format!("accounts[{i}].api_key is used twice"));
            }
            let mut balances = BTreeMap::new();
            for (asset, amount) in &a.balances {
                let n = Notional::parse(amount).map_err(|e| format!("accounts[{i}].balances.{asset}: {e}"))?;
                balances.insert(asset.clone(), (n, Notional::ZERO));
            }
            accounts.push(AccountState {
                api_key: a.api_key.clone(),
                secret: a.secret.clone(),
                balances,
                orders: HashMap::new(),
                open_by_client_id: HashMap::new(),
                by_venue_id: HashMap::new(),
                closed: VecDeque::new(),
                subscribers: Vec::new(),
                linear: linear::LinearBook::default(),
            });
        }
        Ok(Arc::new(Self {
            state: Mutex::new(State { symbols: states, accounts, next_internal_id: 1, fee_taker: cfg.fees.taker }),
            symbols,
            keys,
            clock_skew_ms: AtomicI64::new(0),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a simulator bug; keep serving regardless.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the thread that plays the background flow in wall-clock time until `stop`.
    pub fn start_flow(self: &Arc<Self>, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let market = self.clone();
        std::thread::Builder::new().name("venue-sim-flow".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let now = WallClock.now();
                let mut next = now.saturating_add(Nanos(5 * Nanos::MILLI.0));
                {
                    let mut st = market.lock();
                    for i in 0..st.symbols.len() {
                        // Bounded catch-up per pass so the lock is never held long.
                        for _ in 0..1000 {
                            if st.symbols[i].ex.next_event_time() > now {
                                break;
                            }
                            let mut tape = Tape::default();
                            let at = st.symbols[i].ex.step(&mut tape);
                            market.apply(&mut st, i, tape, at);
                        }
                        next = next.min(st.symbols[i].ex.next_event_time());
                    }
                }
                let wait = next.saturating_sub(WallClock.now()).0.clamp(50_000, 5_000_000);
                std::thread::sleep(Duration::from_nanos(wait as u64));
            }
        })
    }

    /// The server's clock, Unix milliseconds (with any injected skew).
    pub fn now_ms(&self) -> i64 {
        WallClock.now().0 / 1_000_000 + self.clock_skew_ms.load(Ordering::Relaxed)
    }

    /// Injects (or clears, with 0) a clock skew.
    pub fn set_clock_skew_ms(&self, ms: i64) {
        self.clock_skew_ms.store(ms, Ordering::Relaxed);
    }

    /// All instruments, by symbol index.
    pub fn instruments(&self) -> &[Instrument] {
        &self.symbols
    }

    /// The index of `symbol`.
    pub fn symbol_index(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().position(|i| i.symbol() == symbol)
    }

    /// The account and secret of an API key.
    pub fn account_by_key(&self, api_key: &str) -> Option<(AccountId, String)> {
        self.keys.get(api_key).cloned()
    }

    /// The API key of an account.
    pub fn api_key_of(&self, account: AccountId) -> Option<String> {
        self.lock().accounts.get(account.index()).map(|a| a.api_key.clone())
    }

    /// The secret of an account.
    pub fn secret_of(&self, account: AccountId) -> Option<String> {
        self.lock().accounts.get(account.index()).map(|a| a.secret.clone())
    }

    fn snapshot_locked(st: &State, symbol: usize, depth: usize) -> BookSnapshot {
        let s = &st.symbols[symbol];
        let engine = s.ex.engine();
        BookSnapshot {
            symbol,
            update_id: s.update_id,
            ts: WallClock.now(),
            bids: engine.levels(Side::Buy).take(depth).collect(),
            asks: engine.levels(Side::Sell).take(depth).collect(),
        }
    }

    /// The top `depth` levels of a symbol's book.
    pub fn snapshot(&self, symbol: usize, depth: usize) -> Option<BookSnapshot> {
        let st = self.lock();
        (symbol < st.symbols.len()).then(|| Self::snapshot_locked(&st, symbol, depth))
    }

    /// Subscribes to a symbol's book updates; the snapshot (top `depth`) and the subscription
    /// are taken under one lock, so the first update received is `snapshot.update_id + 1`.
    pub fn subscribe_book(&self, symbol: usize, depth: usize) -> Option<(BookSnapshot, Receiver<Arc<BookUpdate>>)> {
        let mut st = self.lock();
        if symbol >= st.symbols.len() {
            return None;
        }
        let snap = Self::snapshot_locked(&st, symbol, depth);
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_BACKLOG);
        st.symbols[symbol].subscribers.push(tx);
        Some((snap, rx))
    }

    /// Subscribes to an account's order and balance events.
    pub fn subscribe_account(&self, account: AccountId) -> Option<Receiver<Arc<AccountEvent>>> {
        let mut st = self.lock();
        let a = st.accounts.get_mut(account.index())?;
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_BACKLOG);
        a.subscribers.push(tx);
        Some(rx)
    }

    /// Balances of an account.
    pub fn balances(&self, account: AccountId) -> Vec<BalanceView> {
        let st = self.lock();
        st.accounts
            .get(account.index())
            .map(|a| {
                a.balances.iter().map(|(k, (f, l))| BalanceView { asset: k.clone(), free: *f, locked: *l }).collect()
            })
            .unwrap_or_default()
    }

    /// Open orders of an account (on one symbol, or all).
    pub fn open_orders(&self, account: AccountId, symbol: Option<usize>) -> Vec<OrderView> {
        let st = self.lock();
        let Some(a) = st.accounts.get(account.index()) else { return Vec::new() };
        let mut v: Vec<OrderView> = a
            .orders
            .values()
            .filter(|o| matches!(o.view.status, OrderStatus::New | OrderStatus::PartiallyFilled))
            .filter(|o| symbol.is_none_or(|s| s == o.view.symbol))
            .map(|o| o.view.clone())
            .collect();
        v.sort_by_key(|o| o.venue_order_id);
        v
    }

    /// One order (open or recently closed).
    pub fn order(&self, account: AccountId, symbol: usize, r: &OrderRef) -> Option<OrderView> {
        let st = self.lock();
        let a = st.accounts.get(account.index())?;
        let id = Self::find(a, symbol, r)?;
        a.orders.get(&id).map(|o| o.view.clone())
    }

    /// The trades of an account's open and recently closed orders on `symbol`, oldest first.
    pub fn account_trades(&self, account: AccountId, symbol: usize) -> Vec<AccountTradeView> {
        let st = self.lock();
        let Some(a) = st.accounts.get(account.index()) else { return Vec::new() };
        let mut v: Vec<AccountTradeView> = a
            .orders
            .values()
            .filter(|o| o.view.symbol == symbol)
            .flat_map(|o| {
                o.fills.iter().map(|f| AccountTradeView {
                    venue_order_id: o.view.venue_order_id,
                    side: o.view.side,
                    fill: *f,
                })
            })
            .collect();
        v.sort_by_key(|t| t.fill.trade_id);
        v
    }

    fn find(a: &AccountState, symbol: usize, r: &OrderRef) -> Option<u64> {
        match r {
            OrderRef::Venue(v) => a.by_venue_id.get(&(symbol, *v)).copied(),
            OrderRef::Client(c) => a.open_by_client_id.get(&(symbol, c.clone())).copied().or_else(|| {
                a.closed.iter().rev().copied().find(|id| {
                    a.orders.get(id).is_some_and(|o| o.view.symbol == symbol && o.view.client_order_id == *c)
                })
            }),
        }
    }

    /// Places a client order; matching happens immediately.
    pub fn submit(
        &self,
        account: AccountId,
        symbol: usize,
        req: ClientOrderRequest,
    ) -> Result<OrderOutcome, OrderReject> {
        self.submit_with(account, symbol, req, false)
    }

    /// [`Market::submit`], optionally reduce-only: on a derivative symbol such an order is refused
    /// ([`OrderReject::ReduceOnly`]) unless it is against the position and no larger than it,
    /// checked under the same lock as the matching.
    pub fn submit_with(
        &self,
        account: AccountId,
        symbol: usize,
        req: ClientOrderRequest,
        reduce_only: bool,
    ) -> Result<OrderOutcome, OrderReject> {
        let mut st = self.lock();
        let now = WallClock.now();
        let inst = self.symbols.get(symbol).ok_or(OrderReject::UnknownSymbol)?.clone();
        let internal = st.next_internal_id;
        let a = st.accounts.get(account.index()).ok_or(OrderReject::UnknownOrder)?;
        let client_order_id = req.client_order_id.clone().unwrap_or_else(|| format!("sim{internal:016x}"));
        if a.open_by_client_id.contains_key(&(symbol, client_order_id.clone())) {
            return Err(OrderReject::DuplicateClientOrderId);
        }
        // Filters first (as the venues do), then balance.
        let probe = NewOrder {
            owner: Owner::Client { account, order_id: OrderId(internal) },
            side: req.side,
            order_type: req.order_type,
            tif: req.tif,
            price: req.price.unwrap_or(Price::ZERO),
            qty: req.qty,
        };
        st.symbols[symbol].ex.engine().check_filters(&probe).map_err(OrderReject::Reason)?;
        // What the order may spend: quote at the limit (or walked-book) price for buys, base for sells.
        let lock_amount = match req.side {
            Side::Buy => {
                let px = match req.price {
                    Some(p) => p,
                    None => Self::sweep_price(&st, symbol, req.qty).ok_or(OrderReject::Reason(RejectReason::Other))?,
                };
                let n =
                    inst.notional(px, req.qty, Rounding::Up).map_err(|_| OrderReject::Reason(RejectReason::Other))?;
                n.checked_add(
                    n.checked_mul_rate(st.fee_taker.max(qt_core::Rate::ZERO), Rounding::Up).unwrap_or(Notional::ZERO),
                )
                .unwrap_or(Notional::MAX)
            }
            Side::Sell => asset_amount(req.qty, &inst),
        };
        let lock_asset = if req.side == Side::Buy { inst.quote() } else { inst.base() };
        let spot = inst.kind() == InstrumentKind::Spot;
        if reduce_only && !spot && !a.linear.reduces(symbol, req.side, req.qty) {
            return Err(OrderReject::ReduceOnly);
        }
        if spot {
            let free = a.balances.get(lock_asset).map_or(Notional::ZERO, |b| b.0);
            if free < lock_amount {
                return Err(OrderReject::InsufficientBalance);
            }
        }
        let request = OrderRequest {
            account,
            strategy: StrategyId(0),
            instrument: inst.id(),
            side: req.side,
            order_type: req.order_type,
            tif: req.tif,
            price: req.price.unwrap_or(Price::ZERO),
            qty: req.qty,
            reduce_only: false,
            stop_price: None,
        };
        let mut tape = Tape::default();
        let venue_order_id = st.symbols[symbol]
            .ex
            .submit_client(OrderId(internal), &request, now, &mut tape)
            .map_err(OrderReject::Reason)?;
        st.next_internal_id += 1;
        let locked = if spot { lock_amount } else { Notional::ZERO };
        let a = &mut st.accounts[account.index()];
        if spot && let Some(b) = a.balances.get_mut(lock_asset) {
            b.0 = b.0.checked_sub(locked).unwrap_or(b.0);
            b.1 = b.1.checked_add(locked).unwrap_or(b.1);
        }
        a.orders.insert(
            internal,
            ClientOrder {
                view: OrderView {
                    symbol,
                    venue_order_id,
                    client_order_id: client_order_id.clone(),
                    side: req.side,
                    order_type: req.order_type,
                    tif: req.tif,
                    price: req.price.unwrap_or(Price::ZERO),
                    qty: req.qty,
                    cum_qty: Qty::ZERO,
                    cum_quote: Notional::ZERO,
                    status: OrderStatus::New,
                    created: now,
                    updated: now,
                },
                locked,
                fills: Vec::new(),
            },
        );
        a.open_by_client_id.insert((symbol, client_order_id), internal);
        a.by_venue_id.insert((symbol, venue_order_id), internal);
        let fills = self.apply(&mut st, symbol, tape, now);
        let order = st.accounts[account.index()]
            .orders
            .get(&internal)
            .map(|o| o.view.clone())
            .ok_or(OrderReject::UnknownOrder)?;
        let fills =
            fills.into_iter().filter(|(acc, id, _)| *acc == account && *id == internal).map(|(_, _, f)| f).collect();
        Ok(OrderOutcome { order, fills })
    }

    /// The worst price a market order of `qty` would reach walking the opposite side.
    fn sweep_price(st: &State, symbol: usize, qty: Qty) -> Option<Price> {
        let mut left = qty.units();
        let mut last = None;
        for (p, q) in st.symbols[symbol].ex.engine().levels(Side::Sell) {
            last = Some(p);
            left -= q.units();
            if left <= 0 {
                break;
            }
        }
        last
    }

    /// Cancels one open order.
    pub fn cancel(&self, account: AccountId, symbol: usize, r: &OrderRef) -> Result<OrderView, OrderReject> {
        let mut st = self.lock();
        let now = WallClock.now();
        if symbol >= st.symbols.len() {
            return Err(OrderReject::UnknownSymbol);
        }
        let a = st.accounts.get(account.index()).ok_or(OrderReject::UnknownOrder)?;
        let internal = Self::find(a, symbol, r).ok_or(OrderReject::UnknownOrder)?;
        let open = a
            .orders
            .get(&internal)
            .is_some_and(|o| matches!(o.view.status, OrderStatus::New | OrderStatus::PartiallyFilled));
        if !open {
            return Err(OrderReject::UnknownOrder);
        }
        let mut tape = Tape::default();
        st.symbols[symbol]
            .ex
            .cancel_client(account, OrderId(internal), now, &mut tape)
            .map_err(|_| OrderReject::UnknownOrder)?;
        self.apply(&mut st, symbol, tape, now);
        st.accounts[account.index()].orders.get(&internal).map(|o| o.view.clone()).ok_or(OrderReject::UnknownOrder)
    }

    /// Cancels every open order of an account on a symbol (or all symbols); returns them.
    pub fn cancel_all(&self, account: AccountId, symbol: Option<usize>) -> Vec<OrderView> {
        let open = self.open_orders(account, symbol);
        open.iter().filter_map(|o| self.cancel(account, o.symbol, &OrderRef::Venue(o.venue_order_id)).ok()).collect()
    }

    /// Applies one operation's tape: account state, then publication. Returns client fills as
    /// `(account, internal id, fill)`.
    fn apply(&self, st: &mut State, symbol: usize, tape: Tape, ts: Nanos) -> Vec<(AccountId, u64, FillView)> {
        let inst = &self.symbols[symbol];
        let mut client_fills = Vec::new();
        let mut account_events: Vec<(usize, AccountEvent)> = Vec::new();
        let mut touched_balances: Vec<(usize, Vec<String>)> = Vec::new();
        for (venue_id, order) in &tape.accepted {
            if let Owner::Client { account, order_id } = order.owner
                && let Some(o) = st.accounts.get(account.index()).and_then(|a| a.orders.get(&order_id.0))
            {
                let _ = venue_id;
                account_events
                    .push((account.index(), AccountEvent::Order { exec: ExecKind::New, order: o.view.clone() }));
            }
        }
        let mut trades = Vec::new();
        for f in &tape.fills {
            trades.push(TradeView {
                trade_id: f.trade_id,
                price: f.price,
                qty: f.qty,
                aggressor: f.aggressor,
                ts: f.ts,
            });
            for (owner, side, fee, is_maker) in
                [(f.maker, f.aggressor.opposite(), f.maker_fee, true), (f.taker, f.aggressor, f.taker_fee, false)]
            {
                let Owner::Client { account, order_id } = owner else { continue };
                let Some(a) = st.accounts.get_mut(account.index()) else { continue };
                let Some(o) = a.orders.get_mut(&order_id.0) else { continue };
                let quote = inst.notional(f.price, f.qty, Rounding::Nearest).unwrap_or(Notional::ZERO);
                let base = asset_amount(f.qty, inst);
                o.view.cum_qty = o.view.cum_qty.checked_add(f.qty).unwrap_or(o.view.cum_qty);
                o.view.cum_quote = o.view.cum_quote.checked_add(quote).unwrap_or(o.view.cum_quote);
                o.view.status =
                    if o.view.cum_qty >= o.view.qty { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
                o.view.updated = f.ts;
                let fill = FillView { trade_id: f.trade_id, price: f.price, qty: f.qty, fee, is_maker, ts: f.ts };
                o.fills.push(fill);
                if inst.kind() == InstrumentKind::Spot {
                    // The lock shrinks by what this fill used (at the locked price for buys).
                    let (spent_asset, spent, got_asset, got) = match side {
                        Side::Buy => (inst.quote(), quote.checked_add(fee).unwrap_or(quote), inst.base(), base),
                        Side::Sell => (inst.base(), base, inst.quote(), quote.checked_sub(fee).unwrap_or(quote)),
                    };
                    let release = match side {
                        Side::Buy => {
                            let at_limit = if o.view.price.is_positive() {
                                inst.notional(o.view.price, f.qty, Rounding::Up).unwrap_or(quote)
                            } else {
                                quote
                            };
                            at_limit.checked_add(fee.max(Notional::ZERO)).unwrap_or(at_limit)
                        }
                        Side::Sell => base,
                    };
                    let release = release.min(o.locked);
                    o.locked = o.locked.checked_sub(release).unwrap_or(Notional::ZERO);
                    let b = a.balances.entry(spent_asset.to_string()).or_insert((Notional::ZERO, Notional::ZERO));
                    b.1 = b.1.checked_sub(release).unwrap_or(Notional::ZERO);
                    b.0 = b.0.checked_add(release).and_then(|x| x.checked_sub(spent)).unwrap_or(b.0);
                    let g = a.balances.entry(got_asset.to_string()).or_insert((Notional::ZERO, Notional::ZERO));
                    g.0 = g.0.checked_add(got).unwrap_or(g.0);
                    touched_balances.push((account.index(), vec![inst.base().to_string(), inst.quote().to_string()]));
                }
                account_events.push((
                    account.index(),
                    AccountEvent::Order { exec: ExecKind::Trade(fill), order: o.view.clone() },
                ));
                if inst.kind() != InstrumentKind::Spot {
                    let event = linear::on_fill(a, inst, symbol, side, &fill);
                    account_events.push((account.index(), event));
                }
                client_fills.push((account, order_id.0, fill));
            }
        }
        for d in &tape.done {
            let Owner::Client { account, order_id } = d.owner else { continue };
            let Some(a) = st.accounts.get_mut(account.index()) else { continue };
            let Some(o) = a.orders.get_mut(&order_id.0) else { continue };
            let exec = match d.reason {
                DoneReason::Filled => None,
                DoneReason::Canceled | DoneReason::SelfTradePrevented => {
                    o.view.status = OrderStatus::Canceled;
                    Some(ExecKind::Canceled)
                }
                DoneReason::Expired => {
                    o.view.status = OrderStatus::Expired;
                    Some(ExecKind::Expired)
                }
            };
            o.view.updated = d.ts;
            // Whatever is still locked goes back.
            if o.locked > Notional::ZERO {
                let asset = if o.view.side == Side::Buy { inst.quote() } else { inst.base() };
                let b = a.balances.entry(asset.to_string()).or_insert((Notional::ZERO, Notional::ZERO));
                b.0 = b.0.checked_add(o.locked).unwrap_or(b.0);
                b.1 = b.1.checked_sub(o.locked).unwrap_or(Notional::ZERO);
                o.locked = Notional::ZERO;
                touched_balances.push((account.index(), vec![asset.to_string()]));
            }
            let view = o.view.clone();
            a.open_by_client_id.remove(&(symbol, view.client_order_id.clone()));
            a.closed.push_back(order_id.0);
            while a.closed.len() > CLOSED_HISTORY {
                if let Some(old) = a.closed.pop_front()
                    && let Some(o) = a.orders.remove(&old)
                {
                    a.by_venue_id.remove(&(o.view.symbol, o.view.venue_order_id));
                }
            }
            if let Some(exec) = exec {
                account_events.push((account.index(), AccountEvent::Order { exec, order: view }));
            }
        }
        // Publication, still under the lock: book first, then accounts.
        let sym = &mut st.symbols[symbol];
        if !tape.levels.is_empty() || !trades.is_empty() {
            if !tape.levels.is_empty() {
                sym.update_id += 1;
            }
            let engine = sym.ex.engine();
            let update = Arc::new(BookUpdate {
                symbol,
                update_id: sym.update_id,
                ts,
                levels: tape.levels,
                trades,
                best_bid: engine.best_bid(),
                best_ask: engine.best_ask(),
            });
            sym.subscribers.retain(|tx| {
                !matches!(tx.try_send(update.clone()), Err(TrySendError::Disconnected(_) | TrySendError::Full(_)))
            });
        }
        for (acc, assets) in touched_balances {
            let a = &st.accounts[acc];
            let mut balances: Vec<BalanceView> = assets
                .iter()
                .filter_map(|k| a.balances.get(k).map(|(f, l)| BalanceView { asset: k.clone(), free: *f, locked: *l }))
                .collect();
            balances.dedup_by(|x, y| x.asset == y.asset);
            account_events.push((acc, AccountEvent::Balances { ts, balances }));
        }
        for (acc, ev) in account_events {
            let ev = Arc::new(ev);
            st.accounts[acc].subscribers.retain(|tx| tx.try_send(ev.clone()).is_ok());
        }
        client_fills
    }
}
