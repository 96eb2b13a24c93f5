//! The market's own tests: book snapshots and updates, balances locked and moved by orders.

use super::*;
use qt_core::{InstrumentId, InstrumentSpec, Rate, Venue};

pub(crate) fn test_market() -> Arc<Market> {
    let spec = InstrumentSpec {
        venue: Venue::Binance,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01".into(),
        lot_size: "0.00001".into(),
        min_qty: Some("0.00001".into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    };
    let inst = Instrument::from_spec(InstrumentId(0), &spec).unwrap();
    let flow =
        FlowParams { start_mid: Some(Price::from_units(6_500_000)), size_median_lots: 200.0, ..FlowParams::default() };
    Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument: inst, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
        accounts: vec![AccountConfig {
            api_key: "key".into(),
            secret: "secret".into(),
            balances: vec![("USDT".into(), "100000".into()), ("BTC".into(), "2".into())],
        }],
        seed: 7,
    })
    .unwrap()
}

#[test]
fn snapshot_then_updates_rebuild_the_book() {
    let m = test_market();
    let (snap, rx) = m.subscribe_book(0, 10_000).unwrap();
    let mut bids: BTreeMap<i64, i64> = snap.bids.iter().map(|(p, q)| (p.units(), q.units())).collect();
    let mut asks: BTreeMap<i64, i64> = snap.asks.iter().map(|(p, q)| (p.units(), q.units())).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let t = m.start_flow(stop.clone()).unwrap();
    let mut expect = snap.update_id;
    let mut n = 0;
    while n < 300 {
        let u = rx.recv_timeout(Duration::from_secs(5)).expect("updates flow");
        if u.levels.is_empty() {
            continue;
        }
        expect += 1;
        assert_eq!(u.update_id, expect, "no gap");
        for (side, p, q) in &u.levels {
            let book = if *side == Side::Buy { &mut bids } else { &mut asks };
            if q.is_zero() {
                book.remove(&p.units())
            } else {
                book.insert(p.units(), q.units())
            };
        }
        n += 1;
    }
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    let now = m.snapshot(0, 10_000).unwrap();
    if now.update_id == expect {
        let b: Vec<(i64, i64)> = now.bids.iter().map(|(p, q)| (p.units(), q.units())).collect();
        assert_eq!(b, bids.iter().rev().map(|(p, q)| (*p, *q)).collect::<Vec<_>>());
    }
}

#[test]
fn orders_lock_balances_and_fills_move_them() {
    let m = test_market();
    let acc = AccountId(0);
    let ask = m.snapshot(0, 1).unwrap().asks[0];
    let bid = m.snapshot(0, 1).unwrap().bids[0];
    // A resting buy below the bid locks quote.
    let resting = m
        .submit(
            acc,
            0,
            ClientOrderRequest {
                client_order_id: Some("r1".into()),
                side: Side::Buy,
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
                price: Some(Price::from_units(bid.0.units() - 100)),
                qty: Qty::from_units(1000),
            },
        )
        .unwrap();
    assert_eq!(resting.order.status, OrderStatus::New);
    let usdt = |m: &Market| m.balances(acc).into_iter().find(|b| b.asset == "USDT").unwrap();
    assert!(usdt(&m).locked > Notional::ZERO);
    assert_eq!(
        m.submit(
            acc,
            0,
            ClientOrderRequest {
                client_order_id: Some("r1".into()),
                side: Side::Buy,
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
                price: Some(bid.0),
                qty: Qty::from_units(1000),
            }
        ),
        Err(OrderReject::DuplicateClientOrderId)
    );
    let cancelled = m.cancel(acc, 0, &OrderRef::Client("r1".into())).unwrap();
    assert_eq!(cancelled.status, OrderStatus::Canceled);
    assert_eq!(usdt(&m).locked, Notional::ZERO);
    assert_eq!(usdt(&m).free, Notional::parse("100000").unwrap());
    // A marketable IOC buy fills at the ask.
    let taken = m
        .submit(
            acc,
            0,
            ClientOrderRequest {
                client_order_id: None,
                side: Side::Buy,
                order_type: OrderType::Limit,
                tif: TimeInForce::Ioc,
                price: Some(ask.0),
                qty: Qty::from_units(100.min(ask.1.units())),
            },
        )
        .unwrap();
    assert_eq!(taken.order.status, OrderStatus::Filled);
    assert_eq!(taken.fills.len(), 1);
    let btc = m.balances(acc).into_iter().find(|b| b.asset == "BTC").unwrap();
    let bought = Notional::from_scaled(i128::from(100.min(ask.1.units())), 5).unwrap();
    assert_eq!(btc.free, Notional::parse("2").unwrap().checked_add(bought).unwrap());
    assert_eq!(usdt(&m).locked, Notional::ZERO);
    // Too big for the balance.
    assert_eq!(
        m.submit(
            acc,
            0,
            ClientOrderRequest {
                client_order_id: None,
                side: Side::Sell,
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
                price: Some(ask.0),
                qty: Qty::from_units(1_000_000),
            }
        ),
        Err(OrderReject::InsufficientBalance)
    );
}
