//! The client side of a simulated exchange: carrying out one [`OrderCommand`] on a set of
//! [`SimExchange`]s and collecting what each operation did — client execution reports and the
//! market records it caused — in the order the matching engine reported it. Shared by the
//! simulated venue thread ([`crate::exchange::venue`]) and backtests (`qt replay --config`).

use crate::exchange::matching::{DoneReason, Fill, MatchSink, NewOrder, OrderDone, Owner};
use crate::exchange::sim_exchange::SimExchange;
use qt_core::{
    AccountId, EventKind, ExecutionReport, InstrumentId, Liquidity, MarketEvent, Nanos, OrderCommand, OrderId, Price,
    Qty, ReportKind, Side, VenueId,
};

/// Collects one operation's callbacks as market records and client reports.
pub struct Collector {
    pub(crate) instrument: InstrumentId,
    venue: VenueId,
    ts: Nanos,
    /// Market records the operation caused (levels changed, public trades).
    pub events: Vec<MarketEvent>,
    /// Client execution reports, in order.
    pub reports: Vec<ExecutionReport>,
    /// Public trades.
    pub trades: u64,
    /// Client fills (one per client side of a trade).
    pub client_fills: u64,
}

impl Collector {
    /// An empty collection for an operation on `instrument` at `ts`.
    pub fn new(instrument: InstrumentId, venue: VenueId, ts: Nanos) -> Self {
        Self { instrument, venue, ts, events: Vec::new(), reports: Vec::new(), trades: 0, client_fills: 0 }
    }

    pub(crate) fn report(
        &self,
        account: AccountId,
        order_id: OrderId,
        venue_order_id: u64,
        side: Side,
        kind: ReportKind,
    ) -> ExecutionReport {
        ExecutionReport {
            order_id,
            venue_order_id,
            venue: self.venue,
            account,
            instrument: self.instrument,
            kind,
            side,
            last_price: Price::ZERO,
            last_qty: Qty::ZERO,
            leaves_qty: Qty::ZERO,
            cum_qty: Qty::ZERO,
            fee: qt_core::Notional::ZERO,
            liquidity: Liquidity::Taker,
            exchange_ns: self.ts,
        }
    }

    pub(crate) fn market(&mut self, kind: EventKind, side: Side, price: Price, qty: Qty) {
        let mut ev = MarketEvent::new(self.instrument, kind, side, price, qty);
        ev.exchange_ns = self.ts;
        self.events.push(ev);
    }
}

impl MatchSink for Collector {
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, _ts: Nanos) {
        if let Owner::Client { account, order_id } = order.owner {
            let mut r = self.report(account, order_id, venue_id, order.side, ReportKind::Accepted);
            r.leaves_qty = order.qty;
            self.reports.push(r);
        }
    }

    fn on_fill(&mut self, fill: &Fill) {
        self.trades += 1;
        self.market(EventKind::Trade, fill.aggressor, fill.price, fill.qty);
        let parties = [
            (
                fill.maker,
                fill.maker_venue_id,
                fill.aggressor.opposite(),
                fill.maker_leaves_qty,
                fill.maker_cum_qty,
                fill.maker_fee,
                Liquidity::Maker,
            ),
            (
                fill.taker,
                fill.taker_venue_id,
                fill.aggressor,
                fill.taker_leaves_qty,
                fill.taker_cum_qty,
                fill.taker_fee,
                Liquidity::Taker,
            ),
        ];
        for (owner, venue_id, side, leaves, cum, fee, liquidity) in parties {
            if let Owner::Client { account, order_id } = owner {
                self.client_fills += 1;
                let mut r = self.report(account, order_id, venue_id, side, ReportKind::Fill);
                r.last_price = fill.price;
                r.last_qty = fill.qty;
                r.leaves_qty = leaves;
                r.cum_qty = cum;
                r.fee = fee;
                r.liquidity = liquidity;
                r.exchange_ns = fill.ts;
                self.reports.push(r);
            }
        }
    }

    fn on_done(&mut self, done: &OrderDone) {
        if let Owner::Client { account, order_id } = done.owner
            && done.reason != DoneReason::Filled
        {
            let mut r = self.report(account, order_id, done.venue_id, done.side, ReportKind::Canceled);
            r.cum_qty = done.cum_qty;
            self.reports.push(r);
        }
    }

    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        self.market(EventKind::BookDelta, side, price, qty);
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").field("events", &self.events.len()).field("reports", &self.reports.len()).finish()
    }
}

/// What [`execute`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Executed {
    /// New orders received.
    pub orders: u64,
    /// New orders rejected.
    pub rejects: u64,
}

/// Carries out `cmd` at `now`, appending one [`Collector`] per operation to `out` (a cancel-all
/// over every instrument gives one per instrument).
pub fn execute(
    exchanges: &mut [SimExchange],
    venue: VenueId,
    now: Nanos,
    cmd: &OrderCommand,
    out: &mut Vec<Collector>,
) -> Executed {
    let mut n = Executed::default();
    match *cmd {
        OrderCommand::New { order_id, request, .. } => {
            n.orders += 1;
            let i = request.instrument;
            let mut c = Collector::new(i, venue, now);
            let result = match exchanges.get_mut(i.index()) {
                Some(ex) => ex.submit_client(order_id, &request, now, &mut c).map(|_| ()),
                None => Err(qt_core::RejectReason::UnknownInstrument),
            };
            if let Err(reason) = result {
                n.rejects += 1;
                let mut r = c.report(request.account, order_id, 0, request.side, ReportKind::Rejected(reason));
                r.leaves_qty = Qty::ZERO;
                c.reports.push(r);
            }
            out.push(c);
        }
        OrderCommand::Cancel { order_id, account, instrument } => {
            let mut c = Collector::new(instrument, venue, now);
            if let Some(ex) = exchanges.get_mut(instrument.index())
                && let Err(reason) = ex.cancel_client(account, order_id, now, &mut c)
            {
                let r = c.report(account, order_id, 0, Side::Buy, ReportKind::CancelRejected(reason));
                c.reports.push(r);
            }
            out.push(c);
        }
        OrderCommand::CancelAll { account, instrument } => {
            for (i, ex) in exchanges.iter_mut().enumerate() {
                if instrument.is_some_and(|x| x.index() != i) {
                    continue;
                }
                let mut c = Collector::new(InstrumentId(i as u32), venue, now);
                ex.cancel_all_client(account, now, &mut c);
                out.push(c);
            }
        }
    }
    n
}
