//! Tests of the core loop: market records through strategies and risk to the order ring,
//! reports, control, the stop's wind-down and books that refuse a record.
use super::*;
use crate::event::EventKind;
use crate::ids::StrategyId;
use crate::instrument::{InstrumentKind, InstrumentSpec, Venue};
use crate::money::Qty;
use crate::order::{OrderType, Side, TimeInForce};
use crate::queue::spsc;
use crate::risk_api::BlockReason;
use crate::time::SimClock;
use std::io::{Read, Write};

pub(super) fn registry() -> InstrumentRegistry {
    let mut r = InstrumentRegistry::new();
    r.add(&InstrumentSpec {
        venue: Venue::Sim,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.1".into(),
        lot_size: "0.001".into(),
        min_qty: None,
        min_notional: None,
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    })
    .unwrap();
    r
}

/// A feed over a non-blocking Unix socket registered with the loop's `mio::Poll`; each line
/// `side price_units qty_units` is one delta, the last of a read ends the batch.
struct SocketFeed {
    stream: mio::net::UnixStream,
    readable: bool,
    buf: Vec<u8>,
    ready_calls: usize,
}

impl FeedSource for SocketFeed {
    fn name(&self) -> &str {
        "socket"
    }
    fn register(&mut self, registry: &mio::Registry, token_base: usize) -> std::io::Result<bool> {
        registry.register(&mut self.stream, mio::Token(token_base), mio::Interest::READABLE)?;
        Ok(true)
    }
    fn on_ready(&mut self, _token: usize) {
        self.readable = true;
        self.ready_calls += 1;
    }
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        if !self.readable {
            return 0;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let text = String::from_utf8(std::mem::take(&mut self.buf)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let f: Vec<i64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            let side = if f[0] == 0 { Side::Buy } else { Side::Sell };
            let kind = if f.len() > 3 { EventKind::BookSnapshot } else { EventKind::BookDelta };
            let mut ev = MarketEvent::new(InstrumentId(0), kind, side, Price::from_units(f[1]), Qty::from_units(f[2]));
            ev.local_ns = local_now;
            if f.len() > 3 {
                ev.flags = f[3] as u16;
            }
            if i + 1 == lines.len() {
                ev.flags |= MarketEvent::BATCH_END;
            }
            sink(&ev);
        }
        lines.len()
    }
    fn state(&self) -> FeedState {
        FeedState::Live
    }
}

/// The eager strategy, its reports unobserved.
pub(super) fn eager() -> Box<dyn Strategy> {
    Box::new(Eager { instruments: [InstrumentId(0)], reports: Default::default() })
}

/// Buys one lot at the best ask on every consistent update; remembers its reports.
struct Eager {
    instruments: [InstrumentId; 1],
    reports: std::sync::Arc<std::sync::Mutex<Vec<ReportKind>>>,
}

impl Strategy for Eager {
    fn name(&self) -> &str {
        "eager"
    }
    fn account(&self) -> AccountId {
        AccountId(0)
    }
    fn instruments(&self) -> &[InstrumentId] {
        &self.instruments
    }
    fn on_market(&mut self, view: &MarketView<'_>, ev: &MarketEvent, out: &mut Actions) {
        let Some(ask) = view.book(ev.instrument).and_then(|b| b.best_ask()) else { return };
        if ev.is_batch_end() {
            out.push(StrategyAction::Place(OrderRequest {
                account: AccountId(0),
                strategy: StrategyId(0),
                instrument: ev.instrument,
                side: Side::Buy,
                order_type: OrderType::Limit,
                tif: TimeInForce::Ioc,
                price: ask.price,
                qty: Qty::from_units(1),
                reduce_only: false,
                stop_price: None,
            }));
        }
    }
    fn on_report(&mut self, _view: &MarketView<'_>, report: &ExecutionReport, _out: &mut Actions) {
        self.reports.lock().unwrap().push(report.kind);
    }
}

/// Allows orders at or below `max_price`, blocks the rest.
pub(super) struct PriceCap(pub(super) Price);

impl PreTradeCheck for PriceCap {
    fn check(&mut self, request: &OrderRequest, _view: &MarketView<'_>) -> RiskDecision {
        if request.price <= self.0 { RiskDecision::Allow } else { RiskDecision::Block(BlockReason::PriceBand) }
    }
}

#[test]
fn socket_feed_through_mio_to_orders_and_local_refusals() {
    let (mut writer, reader) = mio::net::UnixStream::pair().unwrap();
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let cfg = EngineConfig { idle: IdleStrategy::GENTLE, ..EngineConfig::default() };
    let mut engine = Engine::new(cfg, registry(), PriceCap(Price::from_units(1000)), Arc::new(SimClock::new(Nanos(0))));
    engine.add_feed(Box::new(SocketFeed { stream: reader, readable: false, buf: Vec::new(), ready_calls: 0 }));
    let (orders_tx, mut orders_rx) = spsc(1);
    let (_reports_tx, reports_rx) = spsc(4);
    engine.add_venue(orders_tx, reports_rx, &[InstrumentId(0)]);
    engine.add_strategy(Box::new(Eager { instruments: [InstrumentId(0)], reports: reports.clone() }));
    engine.register_feeds().unwrap();
    assert_eq!(engine.do_work(), 0, "nothing written yet");

    // A snapshot: bid 990, ask 1000 → the strategy buys at 1000, allowed, enqueued.
    writer.write_all(b"0 990 5 2\n1 1000 7 0\n").unwrap();
    let mut spins = 0;
    while engine.counters().market_events.get() < 2 {
        engine.do_work();
        spins += 1;
        assert!(spins < 1_000_000, "socket data never arrived");
    }
    let book = engine.book(InstrumentId(0)).unwrap();
    assert!(book.is_valid());
    assert_eq!(book.best_ask().unwrap().price, Price::from_units(1000));
    let c = engine.counters();
    assert_eq!(c.orders_sent.get(), 1);
    assert!(matches!(orders_rx.pop(), Ok(OrderCommand::New { .. })));

    // Ask moves to 1001: blocked by the gate; the strategy hears a local refusal.
    writer.write_all(b"1 1000 0\n1 1001 3\n").unwrap();
    while engine.counters().market_events.get() < 4 {
        engine.do_work();
    }
    engine.do_work(); // local refusals are delivered in the inbound step
    assert_eq!(c.risk_block.get(BlockReason::PriceBand).get(), 1);
    assert_eq!(reports.lock().unwrap().as_slice(), &[ReportKind::Rejected(RejectReason::RiskBlocked)]);

    // Ask back to 999 twice; the order ring holds one slot: the second order finds it full.
    writer.write_all(b"1 999 1\n").unwrap();
    while engine.counters().market_events.get() < 5 {
        engine.do_work();
    }
    writer.write_all(b"1 998 1\n").unwrap();
    while engine.counters().market_events.get() < 6 {
        engine.do_work();
    }
    engine.do_work();
    assert_eq!(c.orders_sent.get(), 2);
    assert_eq!(c.order_queue_full.get(), 1);
    assert_eq!(reports.lock().unwrap().last(), Some(&ReportKind::Rejected(RejectReason::QueueFull)));
    assert_eq!(engine.core.orders.live(), 2, "the refused order left the table; the two sent stay");
}

fn resting_buy(engine: &mut Engine<PriceCap>) -> (OrderId, OrderRequest) {
    let request = OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: Price::from_units(990),
        qty: Qty::from_units(1),
        reduce_only: false,
        stop_price: None,
    };
    (engine.core.orders.insert(request, Nanos(0)).unwrap(), request)
}

#[test]
fn a_stop_cancels_working_orders_and_waits_for_the_venue() {
    let cfg = EngineConfig { idle: IdleStrategy::GENTLE, ..EngineConfig::default() };
    let mut engine = Engine::new(cfg, registry(), PriceCap(Price::MAX), Arc::new(SimClock::new(Nanos(0))));
    let (orders_tx, mut orders_rx) = spsc(8);
    let (mut reports_tx, reports_rx) = spsc(8);
    let (venue, _) = engine.add_venue(orders_tx, reports_rx, &[InstrumentId(0)]);
    let (order_id, request) = resting_buy(&mut engine);
    engine.set_cancel_on_stop(Some(std::time::Duration::from_secs(30)));
    engine.stop_flag().store(true, Ordering::Relaxed);
    // The venue answers a cancel-all with the order's cancel, a little later.
    let venue_thread = std::thread::spawn(move || {
        loop {
            match orders_rx.pop() {
                Ok(OrderCommand::CancelAll { account, instrument: None }) => {
                    assert_eq!(account, AccountId(0));
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    let report = ExecutionReport::status(order_id, &request, venue, ReportKind::Canceled, Nanos(1));
                    reports_tx.push(report).unwrap();
                    return;
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
    });
    let (report, _) = engine.run();
    venue_thread.join().unwrap();
    assert_eq!(report.open_orders, 0, "the cancel was applied before the report");
}

#[test]
fn a_stop_gives_up_on_a_silent_venue_after_the_grace_and_is_off_by_default() {
    let build = || {
        let mut engine =
            Engine::new(EngineConfig::default(), registry(), PriceCap(Price::MAX), Arc::new(SimClock::new(Nanos(0))));
        let (orders_tx, orders_rx) = spsc(8);
        let (_reports_tx, reports_rx) = spsc::<ExecutionReport>(8);
        engine.add_venue(orders_tx, reports_rx, &[InstrumentId(0)]);
        resting_buy(&mut engine);
        engine.stop_flag().store(true, Ordering::Relaxed);
        (engine, orders_rx, _reports_tx)
    };
    let (mut engine, mut orders_rx, _keep) = build();
    engine.set_cancel_on_stop(Some(std::time::Duration::from_millis(50)));
    let (report, _) = engine.run();
    assert!(matches!(orders_rx.pop(), Ok(OrderCommand::CancelAll { account: AccountId(0), instrument: None })));
    assert_eq!(report.open_orders, 1, "still open: the venue never confirmed");
    let (engine, mut orders_rx, _keep) = build();
    let (report, _) = engine.run();
    assert!(orders_rx.pop().is_err(), "no cancel without set_cancel_on_stop");
    assert_eq!(report.open_orders, 1);
}

#[test]
fn control_shutdown_stops_the_loop() {
    let mut engine =
        Engine::new(EngineConfig::default(), registry(), PriceCap(Price::MAX), Arc::new(SimClock::new(Nanos(0))));
    let (tx, rx) = crossbeam_channel::bounded(4);
    engine.set_control(rx);
    tx.send(ControlCommand::Shutdown).unwrap();
    let (report, _) = engine.run();
    assert_eq!(report.market_events, 0);
}

/// A feed that sends one scripted message per poll and records the resyncs it is asked for.
struct ScriptedFeed {
    messages: Vec<Vec<MarketEvent>>,
    refused: Arc<std::sync::Mutex<Vec<(InstrumentId, BookError)>>>,
}

impl FeedSource for ScriptedFeed {
    fn name(&self) -> &str {
        "scripted"
    }
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        if self.messages.is_empty() {
            return 0;
        }
        let message = self.messages.remove(0);
        for mut ev in message.iter().copied() {
            ev.local_ns = local_now;
            sink(&ev);
        }
        message.len()
    }
    fn on_book_refused(
        &mut self,
        instrument: InstrumentId,
        reason: BookError,
        local_now: Nanos,
        sink: &mut dyn FnMut(&MarketEvent),
    ) {
        self.refused.lock().unwrap().push((instrument, reason));
        sink(&MarketEvent::invalidation(instrument, local_now));
    }
    fn state(&self) -> FeedState {
        FeedState::Live
    }
}

fn level(kind: EventKind, side: Side, price: i64, flags: u16) -> MarketEvent {
    let mut ev = MarketEvent::new(InstrumentId(0), kind, side, Price::from_units(price), Qty::from_units(1));
    ev.flags = flags;
    ev
}

#[test]
fn a_crossed_book_is_invalidated_counted_and_handed_back_to_its_feed() {
    sys::init_clock();
    let mut engine =
        Engine::new(EngineConfig::default(), registry(), PriceCap(Price::MAX), Arc::new(SimClock::new(Nanos(0))));
    let snapshot = |bid, ask| {
        vec![
            level(EventKind::BookSnapshot, Side::Buy, bid, MarketEvent::CLEAR),
            level(EventKind::BookSnapshot, Side::Sell, ask, MarketEvent::BATCH_END),
        ]
    };
    let refused = Arc::default();
    let feed = ScriptedFeed {
        messages: vec![snapshot(700_000, 650_020), snapshot(1_000, 1_010)],
        refused: Arc::clone(&refused),
    };
    engine.add_feed(Box::new(feed));
    engine.do_work();
    let book = engine.book(InstrumentId(0)).unwrap();
    assert!(!book.is_valid(), "a crossed snapshot leaves the book invalid");
    assert_eq!(engine.core.counters.books_crossed.get(), 1);
    assert_eq!(book.health(Nanos::ZERO).crossed, 1);
    assert_eq!(*refused.lock().unwrap(), [(InstrumentId(0), BookError::Crossed)]);
    // The feed was asked to resync it; its invalidation emptied the book.
    assert_eq!(book.depth(Side::Buy), 0);
    engine.do_work();
    assert!(engine.book(InstrumentId(0)).unwrap().is_valid(), "the resync's snapshot is sane");
    assert_eq!(engine.core.counters.books_crossed.get(), 1);
    let stats = engine.feed_stats();
    assert_eq!(stats, vec![("scripted".to_string(), None)]);
}

#[test]
fn a_level_the_book_cannot_hold_invalidates_it_and_is_handed_back_to_its_feed() {
    sys::init_clock();
    let mut engine =
        Engine::new(EngineConfig::default(), registry(), PriceCap(Price::MAX), Arc::new(SimClock::new(Nanos(0))));
    let sane = vec![
        level(EventKind::BookSnapshot, Side::Buy, 1_000, MarketEvent::CLEAR),
        level(EventKind::BookSnapshot, Side::Sell, 1_010, MarketEvent::BATCH_END),
    ];
    // A delta at price zero: not a level any book can hold.
    let zero_price = vec![level(EventKind::BookDelta, Side::Buy, 0, MarketEvent::BATCH_END)];
    let refused = Arc::default();
    let feed = ScriptedFeed { messages: vec![sane.clone(), zero_price, sane], refused: Arc::clone(&refused) };
    engine.add_feed(Box::new(feed));
    engine.do_work();
    assert!(engine.book(InstrumentId(0)).unwrap().is_valid());
    engine.do_work();
    assert!(!engine.book(InstrumentId(0)).unwrap().is_valid(), "the book no longer mirrors the venue");
    assert_eq!(engine.core.counters.book_errors.get(), 1);
    assert_eq!(engine.core.counters.books_crossed.get(), 0);
    assert_eq!(*refused.lock().unwrap(), [(InstrumentId(0), BookError::NonPositivePrice)], "handed back for a resync");
    engine.do_work();
    assert!(engine.book(InstrumentId(0)).unwrap().is_valid(), "the resync's snapshot makes it valid again");
}

/// A silent feed with a long name, as a live feed's (venue, then every symbol) can be.
struct LongNamed(String);

impl FeedSource for LongNamed {
    fn name(&self) -> &str {
        &self.0
    }
    fn poll(&mut self, _local_now: Nanos, _sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        0
    }
    fn state(&self) -> FeedState {
        FeedState::Live
    }
    fn stats(&self) -> Option<FeedStats> {
        Some(FeedStats { messages: 42, ..FeedStats::default() })
    }
}

#[test]
fn the_engine_places_its_blocks_in_its_stats_region_and_fills_them_on_the_stats_tick() {
    use crate::stats::{Snapshot, StatsRegion};
    sys::init_clock();
    let region = StatsRegion::anonymous(Default::default()).unwrap();
    let cfg = EngineConfig::default();
    let clock = Arc::new(SimClock::new(Nanos(0)));
    let mut engine =
        Engine::with_stats(cfg, registry(), PriceCap(Price::MAX), clock, region.clone(), &["alpha".to_string()]);
    let long = format!("binance:{}", "SYMBOLUSDT,".repeat(30));
    engine.add_feed(Box::new(LongNamed(long.clone())));
    engine.add_strategy(eager());
    engine.do_work(); // the first iteration runs the stats tick
    let snap = Snapshot::parse(&region.snapshot_bytes()).unwrap();
    assert!(snap.header.heartbeat_ns > 0, "the tick beat the heartbeat");
    let feed = snap.named("feed_messages_total").next().expect("the long-named feed's block is in the file");
    assert_eq!(feed.raw, 42, "copied from the feed's counters on the tick");
    assert!(feed.desc.labels.starts_with("venue=\"binance\",feed=\"binance:SYMBOLUSDT,"), "{}", feed.desc.labels);
    assert!(feed.desc.labels.len() < long.len(), "the feed label is cut to fit");
    let book = snap.named("book_valid").next().unwrap();
    assert_eq!(book.desc.labels, "venue=\"sim\",instrument=\"BTCUSDT\"");
    assert_eq!(snap.named("positions_open").next().unwrap().desc.labels, "account=\"alpha\"");
    let signals = snap.named("signals_generated_total").next().unwrap();
    assert_eq!(signals.desc.labels, "strategy=\"eager\",strategy_id=\"0\"");
    assert!(snap.named("market_events_total").next().is_some(), "the engine counters live in the same region");
}

/// A reduce-only spot request of `qty_units` lots' units on the registry's instrument.
fn reduce_only(side: Side, qty_units: i64) -> OrderRequest {
    OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: Price::from_units(1000),
        qty: Qty::from_units(qty_units),
        reduce_only: true,
        stop_price: None,
    }
}

#[test]
fn a_reduce_only_spot_sell_is_clamped_to_the_position_and_refused_with_nothing_to_reduce() {
    let mut engine = Engine::new(
        EngineConfig::default(),
        registry(),
        PriceCap(Price::from_units(i64::MAX)),
        Arc::new(SimClock::new(Nanos(0))),
    );
    let (orders_tx, mut orders_rx) = spsc(16);
    let (_reports_tx, reports_rx) = spsc(4);
    engine.add_venue(orders_tx, reports_rx, &[InstrumentId(0)]);
    let c = engine.counters();
    let sent_qty = |rx: &mut Consumer<OrderCommand>| match rx.pop() {
        Ok(OrderCommand::New { request, .. }) => Some(request.qty.units()),
        _ => None,
    };

    // No position: nothing to reduce, refused before the ring.
    engine.core.place(reduce_only(Side::Sell, 1), Nanos(0));
    assert_eq!(sent_qty(&mut orders_rx), None);
    assert_eq!(c.risk_block.get(BlockReason::ReduceOnly).get(), 1);

    // Long 3 lots (0.003): a reduce-only sell of 5 is clamped to 3; a buy is refused.
    let inst = engine.core.instruments.get(InstrumentId(0)).unwrap().clone();
    let pos = engine.core.positions.get_mut(AccountId(0), InstrumentId(0)).unwrap();
    pos.apply_fill(&inst, Side::Buy, Price::from_units(1000), Qty::from_units(3), Notional::ZERO).unwrap();
    engine.core.place(reduce_only(Side::Sell, 5), Nanos(0));
    assert_eq!(sent_qty(&mut orders_rx), Some(3));
    assert_eq!(c.risk_scale_down.get(BlockReason::ReduceOnly).get(), 1);
    engine.core.place(reduce_only(Side::Buy, 1), Nanos(0));
    assert_eq!(sent_qty(&mut orders_rx), None);
    assert_eq!(c.risk_block.get(BlockReason::ReduceOnly).get(), 2);

    // The clamped sell of 3 is working: a second reduce-only sell has nothing left.
    engine.core.place(reduce_only(Side::Sell, 1), Nanos(0));
    assert_eq!(sent_qty(&mut orders_rx), None);
    assert_eq!(c.risk_block.get(BlockReason::ReduceOnly).get(), 3);

    // Within the room, as asked; a plain (not reduce-only) sell is not the core's business here.
    let pos = engine.core.positions.get_mut(AccountId(0), InstrumentId(0)).unwrap();
    pos.apply_fill(&inst, Side::Buy, Price::from_units(1000), Qty::from_units(2), Notional::ZERO).unwrap();
    engine.core.place(reduce_only(Side::Sell, 2), Nanos(0));
    assert_eq!(sent_qty(&mut orders_rx), Some(2));
    engine.core.place(OrderRequest { reduce_only: false, ..reduce_only(Side::Sell, 50) }, Nanos(0));
    assert_eq!(sent_qty(&mut orders_rx), Some(50));
    assert_eq!(c.risk_scale_down.get(BlockReason::ReduceOnly).get(), 1);
}
