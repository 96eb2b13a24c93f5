//! Unit and property tests of the matching engine: priority, fills, filters, self-trade
//! prevention, fees, and a property test that random flow keeps the book consistent.

use super::*;
use proptest::prelude::*;
use qt_core::{InstrumentId, InstrumentKind, InstrumentSpec, Venue};

/// BTCUSDT-like: tick 0.01 and lot 0.001 held at finer scales (4 and 5 decimals) so off-grid
/// values exist; min qty 0.002, min notional 5.
fn spec() -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Sim,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01".into(),
        lot_size: "0.001".into(),
        min_qty: Some("0.002".into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: Some(4),
        qty_scale: Some(5),
    }
}

fn instrument() -> Instrument {
    Instrument::from_spec(InstrumentId(0), &spec()).unwrap()
}

fn fees() -> FeeSchedule {
    FeeSchedule { maker: Rate::parse("-0.0001").unwrap(), taker: Rate::parse("0.00075").unwrap() }
}

fn engine() -> MatchingEngine {
    MatchingEngine::new(instrument(), fees())
}

fn p(text: &str) -> Price {
    instrument().parse_price(text).unwrap()
}

fn q(text: &str) -> Qty {
    instrument().parse_qty(text).unwrap()
}

fn client(account: u16, order: u64) -> Owner {
    Owner::Client { account: AccountId(account), order_id: OrderId(order) }
}

fn gtc(owner: Owner, side: Side, price: &str, qty: &str) -> NewOrder {
    NewOrder::limit(owner, side, TimeInForce::Gtc, p(price), q(qty))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Accepted(u64, NewOrder),
    Fill(Fill),
    Done(OrderDone),
    Level(Side, Price, Qty),
}

/// Records every callback and rebuilds the public L2 book from `on_level` alone.
#[derive(Debug, Default)]
struct Recorder {
    events: Vec<Event>,
    l2: [BTreeMap<i64, i64>; 2],
}

impl Recorder {
    fn fills(&self) -> Vec<Fill> {
        self.events.iter().filter_map(|e| if let Event::Fill(f) = e { Some(*f) } else { None }).collect()
    }
    fn dones(&self) -> Vec<OrderDone> {
        self.events.iter().filter_map(|e| if let Event::Done(d) = e { Some(*d) } else { None }).collect()
    }
    fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

impl MatchSink for Recorder {
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, _ts: Nanos) {
        self.events.push(Event::Accepted(venue_id, *order));
    }
    fn on_fill(&mut self, fill: &Fill) {
        self.events.push(Event::Fill(*fill));
    }
    fn on_done(&mut self, done: &OrderDone) {
        self.events.push(Event::Done(*done));
    }
    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        let book = &mut self.l2[side as usize];
        if qty.is_zero() {
            book.remove(&price.units());
        } else {
            book.insert(price.units(), qty.units());
        }
        self.events.push(Event::Level(side, price, qty));
    }
}

const T: Nanos = Nanos(1_000);

#[test]
fn price_time_priority_and_partial_fills() {
    let mut e = engine();
    let mut r = Recorder::default();
    let first = e.submit(gtc(client(1, 1), Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    let second = e.submit(gtc(client(2, 2), Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    let better = e.submit(gtc(Owner::Background, Side::Sell, "99.99", "0.060"), T, &mut r).unwrap();
    assert_eq!(e.best_ask(), Some((p("99.99"), q("0.060"))));
    r.take();
    let taker = e.submit(gtc(client(3, 3), Side::Buy, "100.00", "0.200"), T, &mut r).unwrap();
    let fills = r.fills();
    let makers: Vec<_> = fills.iter().map(|f| (f.maker_venue_id, f.price, f.qty)).collect();
    assert_eq!(
        makers,
        vec![(better, p("99.99"), q("0.060")), (first, p("100.00"), q("0.100")), (second, p("100.00"), q("0.040"))]
    );
    assert!(fills.iter().all(|f| f.taker_venue_id == taker && f.aggressor == Side::Buy));
    assert_eq!(fills[2].maker_leaves_qty, q("0.060"));
    assert_eq!(fills[2].maker_cum_qty, q("0.040"));
    assert_eq!(fills[2].taker_leaves_qty, Qty::ZERO);
    assert_eq!(fills[2].taker_cum_qty, q("0.200"));
    assert_eq!(fills.iter().map(|f| f.trade_id).collect::<Vec<_>>(), vec![1, 2, 3]);
    // The partially filled maker keeps its place and quantity; the taker is done.
    assert_eq!(e.order(second).unwrap().leaves_qty, q("0.060"));
    assert_eq!(e.best_ask(), Some((p("100.00"), q("0.060"))));
    assert!(e.order(taker).is_none());
    let done: Vec<_> = r.dones().iter().map(|d| (d.venue_id, d.reason)).collect();
    assert_eq!(done, vec![(better, DoneReason::Filled), (first, DoneReason::Filled), (taker, DoneReason::Filled)]);
    // One level event per changed level, after the trades, with final totals.
    let levels: Vec<_> =
        r.events.iter().filter_map(|e| if let Event::Level(s, p, q) = e { Some((*s, *p, *q)) } else { None }).collect();
    assert_eq!(levels, vec![(Side::Sell, p("99.99"), Qty::ZERO), (Side::Sell, p("100.00"), q("0.060"))]);
    assert!(matches!(r.events.last(), Some(Event::Level(..))));
    e.check_invariants().unwrap();
}

#[test]
fn gtc_remainder_rests_after_partial_fill() {
    let mut e = engine();
    let mut r = Recorder::default();
    e.submit(gtc(Owner::Background, Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    let id = e.submit(gtc(client(1, 1), Side::Buy, "100.01", "0.300"), T, &mut r).unwrap();
    let o = e.order(id).unwrap();
    assert_eq!((o.price, o.leaves_qty, o.cum_qty()), (p("100.01"), q("0.200"), q("0.100")));
    assert_eq!(e.best_bid(), Some((p("100.01"), q("0.200"))));
    assert_eq!(e.best_ask(), None);
    assert_eq!(r.l2[0].get(&p("100.01").units()), Some(&q("0.200").units()));
    assert!(r.l2[1].is_empty());
    e.check_invariants().unwrap();
}

#[test]
fn ioc_remainder_expires() {
    let mut e = engine();
    let mut r = Recorder::default();
    e.submit(gtc(Owner::Background, Side::Buy, "100.00", "0.100"), T, &mut r).unwrap();
    r.take();
    let ioc = NewOrder::limit(client(1, 1), Side::Sell, TimeInForce::Ioc, p("99.00"), q("0.250"));
    let id = e.submit(ioc, T, &mut r).unwrap();
    assert_eq!(r.fills().len(), 1);
    assert_eq!(r.fills()[0].price, p("100.00"));
    let d = *r.dones().last().unwrap();
    assert_eq!((d.venue_id, d.reason, d.cum_qty, d.leaves_qty), (id, DoneReason::Expired, q("0.100"), q("0.150")));
    assert_eq!(e.order_count(), 0);
    assert!(e.best_ask().is_none() && e.best_bid().is_none());
}

#[test]
fn fok_is_all_or_nothing() {
    let mut e = engine();
    let mut r = Recorder::default();
    e.submit(gtc(Owner::Background, Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    e.submit(gtc(Owner::Background, Side::Sell, "100.01", "0.100"), T, &mut r).unwrap();
    r.take();
    let fok = |qty: &str, price: &str| NewOrder::limit(client(1, 1), Side::Buy, TimeInForce::Fok, p(price), q(qty));
    assert_eq!(e.submit(fok("0.201", "100.01"), T, &mut r), Err(RejectReason::FokUnfillable));
    assert_eq!(e.submit(fok("0.150", "100.00"), T, &mut r), Err(RejectReason::FokUnfillable));
    assert!(r.events.is_empty());
    assert_eq!(e.order_count(), 2);
    let id = e.submit(fok("0.200", "100.01"), T, &mut r).unwrap();
    assert_eq!(r.fills().iter().map(|f| f.qty.units()).sum::<i64>(), q("0.200").units());
    assert_eq!(r.dones().last().map(|d| (d.venue_id, d.reason)), Some((id, DoneReason::Filled)));
    assert_eq!(e.order_count(), 0);
    // The same account's resting orders do not count as fillable.
    e.submit(gtc(client(1, 9), Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    assert_eq!(e.submit(fok("0.100", "100.00"), T, &mut r), Err(RejectReason::FokUnfillable));
}

#[test]
fn post_only_rejected_when_crossing() {
    let mut e = engine();
    let mut r = Recorder::default();
    e.submit(gtc(Owner::Background, Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    let post = |price: &str| NewOrder::limit(client(1, 1), Side::Buy, TimeInForce::PostOnly, p(price), q("0.100"));
    assert_eq!(e.submit(post("100.00"), T, &mut r), Err(RejectReason::WouldTakeLiquidity));
    assert_eq!(e.submit(post("100.50"), T, &mut r), Err(RejectReason::WouldTakeLiquidity));
    let id = e.submit(post("99.99"), T, &mut r).unwrap();
    assert_eq!(e.order(id).unwrap().leaves_qty, q("0.100"));
    assert!(r.fills().is_empty());
    let market = NewOrder { tif: TimeInForce::PostOnly, ..NewOrder::market(client(1, 2), Side::Buy, q("0.1"), None) };
    assert_eq!(e.submit(market, T, &mut r), Err(RejectReason::WouldTakeLiquidity));
}

#[test]
fn market_order_respects_protection_bound() {
    let mut e = engine();
    let mut r = Recorder::default();
    for (price, qty) in [("100.00", "0.100"), ("100.50", "0.100"), ("101.00", "0.100")] {
        e.submit(gtc(Owner::Background, Side::Sell, price, qty), T, &mut r).unwrap();
    }
    r.take();
    let id = e.submit(NewOrder::market(client(1, 1), Side::Buy, q("0.300"), Some(p("100.75"))), T, &mut r).unwrap();
    let fills = r.fills();
    assert_eq!(fills.iter().map(|f| f.price).collect::<Vec<_>>(), vec![p("100.00"), p("100.50")]);
    let d = *r.dones().last().unwrap();
    assert_eq!((d.venue_id, d.reason, d.leaves_qty), (id, DoneReason::Expired, q("0.100")));
    assert_eq!(e.best_ask(), Some((p("101.00"), q("0.100"))));
    assert!(e.best_bid().is_none(), "market remainder never rests");
    // Unbounded: sweeps what is there.
    r.take();
    e.submit(NewOrder::market(client(1, 2), Side::Buy, q("0.500"), None), T, &mut r).unwrap();
    assert_eq!(r.fills().len(), 1);
    assert_eq!(e.order_count(), 0);
    // Empty book: accepted, nothing trades, expires.
    r.take();
    let id = e.submit(NewOrder::market(client(1, 3), Side::Sell, q("0.002"), None), T, &mut r);
    assert_eq!(r.dones().last().map(|d| (d.venue_id, d.reason)), Some((id.unwrap(), DoneReason::Expired)));
}

#[test]
fn filters_in_order_with_boundaries() {
    let mut e = engine();
    let mut r = Recorder::default();
    let buy = |price: &str, qty: &str| gtc(client(1, 1), Side::Buy, price, qty);
    // Price filter first, even when the quantity is bad too.
    assert_eq!(e.submit(buy("1000.005", "0.0015"), T, &mut r), Err(RejectReason::PriceFilter));
    assert_eq!(e.submit(buy("0", "1"), T, &mut r), Err(RejectReason::PriceFilter));
    assert_eq!(e.submit(buy("-100", "1"), T, &mut r), Err(RejectReason::PriceFilter));
    // Lot size before notional: off lot, below min qty (one lot less), non-positive.
    assert_eq!(e.submit(buy("1000", "0.0015"), T, &mut r), Err(RejectReason::LotSize));
    assert_eq!(e.submit(buy("1000", "0.001"), T, &mut r), Err(RejectReason::LotSize));
    assert_eq!(e.submit(buy("1", "0.001"), T, &mut r), Err(RejectReason::LotSize));
    assert_eq!(e.submit(buy("1000", "0"), T, &mut r), Err(RejectReason::LotSize));
    assert_eq!(e.submit(buy("1000", "-0.002"), T, &mut r), Err(RejectReason::LotSize));
    // Min notional 5: exactly 5 passes, one lot less (or one tick less) fails.
    assert_eq!(e.submit(buy("500", "0.009"), T, &mut r), Err(RejectReason::MinNotional));
    assert!(e.submit(buy("500", "0.010"), T, &mut r).is_ok());
    assert_eq!(e.submit(buy("2499.99", "0.002"), T, &mut r), Err(RejectReason::MinNotional));
    assert!(e.submit(buy("2500", "0.002"), T, &mut r).is_ok());
    assert!(r.events.iter().all(|e| !matches!(e, Event::Fill(_))));
    // Market: no price filter; notional at the best opposite price, skipped on an empty side.
    let market = |owner, side, qty: &str| NewOrder::market(owner, side, q(qty), Some(Price::from_units(7)));
    assert!(e.submit(market(client(1, 2), Side::Buy, "0.002"), T, &mut r).is_ok());
    let mut e = engine();
    e.submit(buy("500", "0.010"), T, &mut r).unwrap();
    assert_eq!(e.submit(market(client(2, 3), Side::Sell, "0.009"), T, &mut r), Err(RejectReason::MinNotional));
    assert_eq!(e.submit(market(client(2, 3), Side::Sell, "0.001"), T, &mut r), Err(RejectReason::LotSize));
    assert!(e.submit(market(client(2, 3), Side::Sell, "0.010"), T, &mut r).is_ok());
    assert_eq!(e.order_count(), 0);
    // Values that would overflow the exact arithmetic are rejected, never wrapped.
    let huge = Qty::from_units(5_000_000_000_000_000_000);
    assert_eq!(e.submit(NewOrder { qty: huge, ..buy("9999999", "1") }, T, &mut r), Err(RejectReason::Other));
    assert!(e.submit(NewOrder { qty: huge, ..buy("0.01", "1") }, T, &mut r).is_ok());
    assert_eq!(e.submit(NewOrder { qty: huge, ..buy("0.01", "1") }, T, &mut r), Err(RejectReason::Other));
    e.check_invariants().unwrap();
}

#[test]
fn self_trade_cancels_resting_order() {
    let mut e = engine();
    let mut r = Recorder::default();
    let own = e.submit(gtc(client(7, 1), Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    let other = e.submit(gtc(client(8, 2), Side::Sell, "100.00", "0.100"), T, &mut r).unwrap();
    r.take();
    let taker = e.submit(gtc(client(7, 3), Side::Buy, "100.00", "0.150"), T, &mut r).unwrap();
    let dones = r.dones();
    assert_eq!(
        (dones[0].venue_id, dones[0].reason, dones[0].leaves_qty),
        (own, DoneReason::SelfTradePrevented, q("0.100"))
    );
    let fills = r.fills();
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].maker_venue_id, fills[0].qty), (other, q("0.100")));
    assert!(e.order(own).is_none());
    assert_eq!(e.order(taker).unwrap().leaves_qty, q("0.050"));
    assert_eq!(e.best_bid(), Some((p("100.00"), q("0.050"))));
    // Background orders trade with each other.
    let bg = e.submit(gtc(Owner::Background, Side::Sell, "101.00", "0.050"), T, &mut r).unwrap();
    r.take();
    e.submit(gtc(Owner::Background, Side::Buy, "101.00", "0.050"), T, &mut r).unwrap();
    assert_eq!(r.fills().len(), 1);
    assert_eq!((r.fills()[0].maker, r.fills()[0].taker), (Owner::Background, Owner::Background));
    assert!(e.order(bg).is_none());
    e.check_invariants().unwrap();
}

#[test]
fn fees_are_exact_and_rounded_up() {
    let mut e = engine();
    let mut r = Recorder::default();
    e.submit(gtc(Owner::Background, Side::Sell, "26123.41", "0.003"), T, &mut r).unwrap();
    e.submit(gtc(client(1, 1), Side::Buy, "26123.41", "0.003"), T, &mut r).unwrap();
    let f = r.fills()[0];
    // Notional 78.37023; taker 0.075 % = 0.0587776725 (exact); maker -0.01 % = -0.007837023.
    assert_eq!(f.taker_fee, Notional::parse("0.0587776725").unwrap());
    assert_eq!(f.maker_fee, Notional::parse("-0.007837023").unwrap());
    // Inverse: the notional (a division) is inexact, so both fees round up onto the grid.
    let tiny = FeeSchedule { maker: Rate::from_units(-1), taker: Rate::from_units(1) };
    let inverse = Instrument::from_spec(
        InstrumentId(1),
        &InstrumentSpec {
            venue: Venue::Sim,
            symbol: "BTCUSD".into(),
            base: "BTC".into(),
            quote: "USD".into(),
            kind: InstrumentKind::InversePerpetual,
            tick_size: "0.5".into(),
            lot_size: "1".into(),
            min_qty: None,
            min_notional: None,
            multiplier: Some("100".into()),
            price_scale: None,
            qty_scale: None,
        },
    )
    .unwrap();
    let mut e = MatchingEngine::new(inverse.clone(), tiny);
    let px = inverse.parse_price("30000.5").unwrap();
    let one = inverse.parse_qty("1").unwrap();
    e.submit(NewOrder::limit(Owner::Background, Side::Sell, TimeInForce::Gtc, px, one), T, &mut r).unwrap();
    r.take();
    e.submit(NewOrder::limit(client(1, 1), Side::Buy, TimeInForce::Gtc, px, one), T, &mut r).unwrap();
    let f = r.fills()[0];
    let notional = inverse.notional(px, one, Rounding::Up).unwrap();
    assert_eq!(f.taker_fee, notional.checked_mul_rate(Rate::from_units(1), Rounding::Up).unwrap());
    assert!(f.taker_fee.units() > 0 && f.maker_fee.units() <= 0);
    assert_eq!(f.taker_fee.units() + f.maker_fee.units(), 1, "both rounded up: {f:?}");
}

#[test]
fn cancel_and_cancel_all() {
    let mut e = engine();
    let mut r = Recorder::default();
    assert_eq!(e.cancel(42, T, &mut r), Err(RejectReason::UnknownOrder));
    let a = e.submit(gtc(client(1, 1), Side::Buy, "99.00", "0.100"), T, &mut r).unwrap();
    let b = e.submit(gtc(client(1, 2), Side::Sell, "101.00", "0.100"), T, &mut r).unwrap();
    let c = e.submit(gtc(client(2, 3), Side::Buy, "99.00", "0.100"), T, &mut r).unwrap();
    r.take();
    let info = e.cancel(a, T, &mut r).unwrap();
    assert_eq!((info.venue_id, info.leaves_qty), (a, q("0.100")));
    assert_eq!(
        r.take(),
        vec![Event::Done(done(&info, DoneReason::Canceled, T)), Event::Level(Side::Buy, p("99.00"), q("0.100"))]
    );
    assert_eq!(e.cancel(a, T, &mut r), Err(RejectReason::UnknownOrder));
    e.submit(gtc(client(1, 4), Side::Buy, "98.00", "0.100"), T, &mut r).unwrap();
    assert_eq!(e.open_orders_of(AccountId(1)).count(), 2);
    assert_eq!(e.cancel_all_for(AccountId(1), T, &mut r), 2);
    assert_eq!(e.open_orders_of(AccountId(1)).count(), 0);
    assert!(e.order(b).is_none() && e.order(c).is_some());
    assert_eq!(e.levels(Side::Buy).collect::<Vec<_>>(), vec![(p("99.00"), q("0.100"))]);
    assert_eq!(e.levels(Side::Sell).count(), 0);
    e.check_invariants().unwrap();
}

#[test]
fn levels_iterate_best_first() {
    let mut e = engine();
    for (side, price) in
        [(Side::Buy, "99"), (Side::Buy, "98"), (Side::Buy, "99.5"), (Side::Sell, "101"), (Side::Sell, "100.5")]
    {
        e.submit(gtc(Owner::Background, side, price, "0.1"), T, &mut NullSink).unwrap();
    }
    let bids: Vec<_> = e.levels(Side::Buy).map(|(p, _)| p).collect();
    let asks: Vec<_> = e.levels(Side::Sell).map(|(p, _)| p).collect();
    assert_eq!(bids, vec![p("99.5"), p("99"), p("98")]);
    assert_eq!(asks, vec![p("100.5"), p("101")]);
    assert_eq!(e.level_qty(Side::Buy, p("98")), q("0.1"));
    assert_eq!(e.level_qty(Side::Buy, p("97")), Qty::ZERO);
    assert_eq!(e.queue(Side::Sell, p("101")).count(), 1);
}

#[derive(Debug, Clone)]
enum Op {
    Submit { owner: u8, side: bool, market: bool, tif: u8, ticks: i64, lots: i64, odd: bool },
    Cancel { pick: usize },
    CancelAll { account: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, any::<bool>(), prop::bool::weighted(0.1), 0u8..4, 9_990i64..10_010, 1i64..12, prop::bool::weighted(0.05))
            .prop_map(|(owner, side, market, tif, ticks, lots, odd)| Op::Submit { owner, side, market, tif, ticks, lots, odd }),
        3 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => (1u16..3).prop_map(|account| Op::CancelAll { account }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn random_flow_keeps_book_consistent(ops in prop::collection::vec(op(), 1..150)) {
        // Loose filters so most orders pass: tick 0.01, lot 0.001, min notional 0.
        let mut e = MatchingEngine::new(
            Instrument::from_spec(InstrumentId(0), &InstrumentSpec { min_qty: None, min_notional: None, ..spec() }).unwrap(),
            fees(),
        );
        let mut r = Recorder::default();
        let mut ids: Vec<u64> = Vec::new();
        let mut orig: HashMap<u64, (Side, i64)> = HashMap::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Submit { owner, side, market, tif, ticks, lots, odd } => {
                    let owner = if owner == 0 { Owner::Background } else { client(u16::from(owner), n as u64) };
                    let side = if side { Side::Buy } else { Side::Sell };
                    let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::PostOnly][tif as usize];
                    let price = Price::from_units(ticks * 100 + i64::from(odd));
                    let qty = Qty::from_units(lots * 100 + i64::from(odd && lots % 2 == 0));
                    let order = if market {
                        NewOrder { tif, ..NewOrder::market(owner, side, qty, Some(price)) }
                    } else {
                        NewOrder::limit(owner, side, tif, price, qty)
                    };
                    let before = r.events.len();
                    match e.submit(order, Nanos(n as i64), &mut r) {
                        Ok(id) => {
                            ids.push(id);
                            orig.insert(id, (side, qty.units()));
                        }
                        Err(_) => prop_assert_eq!(r.events.len(), before, "a rejected order emits nothing"),
                    }
                }
                Op::Cancel { pick } => {
                    let id = if ids.is_empty() || pick % 10 == 0 { 1_000_000 + pick as u64 % 1000 } else { ids[pick % ids.len()] };
                    let was = e.order(id).copied();
                    match e.cancel(id, Nanos(n as i64), &mut r) {
                        Ok(info) => prop_assert_eq!(Some(info), was),
                        Err(err) => {
                            prop_assert_eq!(err, RejectReason::UnknownOrder);
                            prop_assert!(was.is_none());
                        }
                    }
                }
                Op::CancelAll { account } => {
                    e.cancel_all_for(AccountId(account), Nanos(n as i64), &mut r);
                    prop_assert_eq!(e.open_orders_of(AccountId(account)).count(), 0);
                }
            }
            // (a) uncrossed, (b) level totals equal their queues, index consistent.
            if let Err(msg) = e.check_invariants() {
                prop_assert!(false, "{}", msg);
            }
            // (c) the L2 book rebuilt from on_level equals the engine's.
            for side in [Side::Buy, Side::Sell] {
                let engine_levels: BTreeMap<i64, i64> = e.levels(side).map(|(p, q)| (p.units(), q.units())).collect();
                prop_assert_eq!(&r.l2[side as usize], &engine_levels);
            }
        }
        // (d) conservation: buy fills == sell fills, and per order qty = filled + removed + resting.
        let fills = r.fills();
        let mut filled: HashMap<u64, i64> = HashMap::new();
        for f in &fills {
            prop_assert!(f.maker.account().is_none() || f.maker.account() != f.taker.account(), "self trade {:?}", f);
            prop_assert_eq!(orig[&f.taker_venue_id].0, f.aggressor);
            prop_assert_eq!(orig[&f.maker_venue_id].0, f.aggressor.opposite());
            *filled.entry(f.maker_venue_id).or_default() += f.qty.units();
            *filled.entry(f.taker_venue_id).or_default() += f.qty.units();
        }
        let side_total = |side| orig.iter().filter(|(_, (s, _))| *s == side).map(|(id, _)| filled.get(id).copied().unwrap_or(0)).sum::<i64>();
        prop_assert_eq!(side_total(Side::Buy), side_total(Side::Sell));
        let mut removed: HashMap<u64, i64> = HashMap::new();
        for d in r.dones() {
            prop_assert!(removed.insert(d.venue_id, d.leaves_qty.units()).is_none(), "done twice: {:?}", d);
            prop_assert_eq!(d.cum_qty.units(), filled.get(&d.venue_id).copied().unwrap_or(0));
        }
        for (id, (_, qty)) in &orig {
            let resting = e.order(*id).map_or(0, |o| o.leaves_qty.units());
            let total = filled.get(id).copied().unwrap_or(0) + removed.get(id).copied().unwrap_or(0) + resting;
            prop_assert_eq!(total, *qty, "order {}", id);
            prop_assert!(resting == 0 || !removed.contains_key(id));
        }
    }
}
