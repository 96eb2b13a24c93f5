//! The benches' stand-in venue and the engine they drive: [`wire_engine`] builds an [`Engine`]
//! around one feed, the imbalance taker and the full [`RiskGate`], and [`VenueStandIn`] serves
//! its venue rings from the driving thread — it takes every order off the order ring and
//! answers at once (see [`VenueReplies`]), so orders are really enqueued, reports really flow
//! back, and the strategy (one order in flight at a time) is free to send its next order on the
//! next iteration.
//!
//! Shared by the criterion rig ([`crate::EngineRig`]) and `qt bench` (its in-process mode).
//! Set-up allocates; [`VenueStandIn::serve`] does not.

use qt_core::engine::EngineConfig;
use qt_core::feed_source::FeedSource;
use qt_core::queue::{Consumer, Producer, spsc};
use qt_core::strategy::imbalance::{ImbalanceParams, ImbalanceTaker};
use qt_core::{
    AccountId, Clock, Engine, ExecutionReport, InstrumentId, InstrumentRegistry, Liquidity, OrderCommand, ReportKind,
    SimClock, StrategyId, VenueId,
};
use qt_risk::RiskGate;
use std::sync::Arc;

/// How the rig's stand-in venue answers an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueReplies {
    /// Odd order ids fill completely at the limit price, even ones expire unfilled: positions
    /// move (and the strategy's position cap comes into play).
    FillOddExpireEven,
    /// Every order expires unfilled: the position stays flat, so every signal becomes an order.
    ExpireAll,
}

/// The venue side of an engine's venue link, served by the thread that drives the engine.
#[derive(Debug)]
pub struct VenueStandIn {
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    venue: VenueId,
    clock: SimClock,
    replies: VenueReplies,
    /// Orders taken off the order ring.
    pub orders_seen: u64,
}

impl VenueStandIn {
    /// Answers every order on the ring, showing each to `on_order` first (as taken off the ring).
    #[inline]
    pub fn serve(&mut self, mut on_order: impl FnMut(&OrderCommand)) {
        while let Ok(command) = self.orders.pop() {
            on_order(&command);
            let OrderCommand::New { order_id, request, .. } = command else { continue };
            self.orders_seen += 1;
            let mut report =
                ExecutionReport::status(order_id, &request, self.venue, ReportKind::Canceled, self.clock.now());
            if self.replies == VenueReplies::FillOddExpireEven && order_id.0 % 2 == 1 {
                report.kind = ReportKind::Fill;
                report.last_price = request.price;
                report.last_qty = request.qty;
                report.cum_qty = request.qty;
                report.liquidity = Liquidity::Taker;
            }
            // The ring holds 1024 and the strategy keeps one order in flight: never full.
            let _ = self.reports.push(report);
        }
    }
}

/// An engine (default configuration, the full risk gate of [`crate::gate`]) over `registry`
/// with `feed` as its only feed, one venue trading instrument 0, and the imbalance taker with
/// `params` on it; `clock` is the domain clock (the feed advances it). Returns the engine and
/// the venue's other side.
pub fn wire_engine(
    registry: InstrumentRegistry,
    feed: Box<dyn FeedSource>,
    clock: SimClock,
    params: ImbalanceParams,
    replies: VenueReplies,
) -> (Engine<RiskGate>, VenueStandIn) {
    let instrument = InstrumentId(0);
    let mut engine = Engine::new(EngineConfig::default(), registry, crate::gate(), Arc::new(clock.clone()));
    engine.add_feed(feed);
    let (orders_tx, orders) = spsc(1024);
    let (reports, reports_rx) = spsc(1024);
    let (venue, _applied) = engine.add_venue(orders_tx, reports_rx, &[instrument]);
    engine.add_strategy(Box::new(ImbalanceTaker::new(StrategyId(0), AccountId(0), instrument, params)));
    (engine, VenueStandIn { orders, reports, venue, clock, replies, orders_seen: 0 })
}
