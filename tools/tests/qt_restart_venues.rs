//! Restart settling beyond Binance spot (`tools/tests/qt_restart.rs`): the orders a previous
//! run left open are settled through the venue registry's settle hook (`Gateway::restore`),
//! over real TLS sockets against the simulator, on Binance USD-M (`GET`/`DELETE
//! /fapi/v1/order`, `GET /fapi/v1/openOrders`) and on Bybit spot and linear (`GET
//! /v5/order/realtime`, `POST /v5/order/cancel`): a working order is cancelled at the venue,
//! one the venue never saw is rejected here, one that filled while down gets its fills (with
//! the venue's fees where its query says them), and one of this journal working at the venue
//! but not in the journal is swept (cancelled, and counted as an orphan).

mod util;

use qt_core::orders::{LiveOrder, OrderStatus};
use qt_core::{
    AccountId, ClientOrderId, InstrumentKind, InstrumentRegistry, InstrumentSpec, Nanos, Notional, OrderId,
    OrderRequest, OrderType, Price, Qty, ReportKind, Side, StrategyId, TimeInForce, Venue, VenueId,
};
use qt_tools::gateways::{BINANCE_USDM, BYBIT, Gateway, GatewaySetup};
use qt_tools::restore::{RestoreReport, settle_open_orders};
use qt_venue_sim::market::{ClientOrderRequest, Market, OrderRef, OrderStatus as VenueStatus};
use qt_venue_sim::server::RunningServer;

const RUN_ID: u32 = 0x5eed_0019;

/// The simulator's instrument `symbol` as the engine's registry holds it: the same contract on
/// the same grid (the test venues' tick 0.01, lot 0.00001 spot and 0.001 linear).
fn registry_of(market: &Market, venue: Venue, symbol: usize) -> (InstrumentRegistry, qt_core::InstrumentId) {
    let mut registry = InstrumentRegistry::new();
    let mut id = None;
    for (i, sim) in market.instruments().iter().enumerate() {
        let lot = if sim.kind() == InstrumentKind::Spot { "0.00001" } else { "0.001" };
        let spec = InstrumentSpec {
            kind: sim.kind(),
            min_notional: Some("5".into()),
            ..InstrumentSpec::spot(venue, sim.symbol(), sim.base(), sim.quote(), "0.01", lot)
        };
        let added = registry.add(&spec).unwrap();
        assert_eq!(
            (added.index(), sim.qty_scale(), sim.price_scale()),
            (i, registry.get(added).unwrap().qty_scale(), 2)
        );
        if i == symbol {
            id = Some(added);
        }
    }
    (registry, id.unwrap())
}

/// Orders `base`+1 (journaled, working at the venue), `base`+2 (journaled, never reached the
/// venue), `base`+3 (working at the venue, its journal record lost) and `base`+4 (journaled
/// unacknowledged, filled at the venue at once) on `symbol`, settled through `gateway`'s hook.
/// `exact_fees`: the settled fills carry the venue's fees (else the venue's query cannot say
/// them, and the settling says so).
fn settles_four_orders(
    server: &RunningServer,
    market: &Market,
    (gateway, venue): (Gateway, Venue),
    symbol: usize,
    base: u64,
    exact_fees: bool,
) {
    let (registry, instrument) = registry_of(market, venue, symbol);
    let inst = registry.get(instrument).unwrap().clone();
    let addr = server.addr_of(venue.name()).unwrap();
    let setup = GatewaySetup {
        rest_url: format!("https://{addr}"),
        ws_url: format!("wss://{addr}"),
        ca_file: Some(server.ca_file.clone()),
        server_name: Some("localhost".into()),
        venue: VenueId(0),
        instruments: vec![inst.clone()],
        accounts: vec![(AccountId(0), "live-test-key".into(), "live-test-secret".into())],
        run_id: RUN_ID,
        ..GatewaySetup::default()
    };
    // A bid 10 % under the mid rests.
    let (mark, scale) = market.mark_price(symbol).unwrap();
    let mid = mark / 10_i128.pow(u32::from(scale - inst.price_scale()));
    let price = Price::from_units(i64::try_from(mid * 9 / 10).unwrap());
    let qty = inst.parse_qty(if inst.kind() == InstrumentKind::Spot { "0.00100" } else { "0.010" }).unwrap();
    // A bid 10 % over the mid takes at once.
    let through = Price::from_units(i64::try_from(mid * 11 / 10).unwrap());
    let place = |id: u64, price: Price, tif: TimeInForce| {
        let client = ClientOrderId::new(RUN_ID, OrderId(id)).as_str().to_string();
        let req = ClientOrderRequest {
            client_order_id: Some(client.clone()),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif,
            price: Some(price),
            qty,
        };
        market.submit(AccountId(0), symbol, req).unwrap();
        client
    };
    let (working, orphan) = (place(base + 1, price, TimeInForce::Gtc), place(base + 3, price, TimeInForce::Gtc));
    let taken = place(base + 4, through, TimeInForce::Ioc);
    let taken = market.order(AccountId(0), symbol, &OrderRef::Client(taken)).unwrap();
    assert_eq!((taken.status, taken.cum_qty), (VenueStatus::Filled, qty));
    let venue_fees = market
        .account_trades(AccountId(0), symbol)
        .iter()
        .filter(|t| t.venue_order_id == taken.venue_order_id)
        .fold(Notional::ZERO, |a, t| a.checked_add(t.fill.fee).unwrap());
    assert!(venue_fees > Notional::ZERO);
    let open = |id: u64, price: Price, status: OrderStatus| LiveOrder {
        id: OrderId(id),
        request: OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price,
            qty,
            reduce_only: false,
            stop_price: None,
        },
        status,
        cum_qty: Qty::ZERO,
        venue_order_id: 0,
        sent_local_ns: Nanos(0),
    };
    let settle = gateway.restore.unwrap_or_else(|| panic!("{gateway:?} settles open orders at a restart"));
    let mut report = RestoreReport::default();
    let journaled = [
        open(base + 1, price, OrderStatus::Working),
        open(base + 2, price, OrderStatus::Working),
        open(base + 4, through, OrderStatus::PendingNew),
    ];
    let reports = settle_open_orders(&journaled, &registry, &[(settle, setup)], RUN_ID, &mut report);

    let lines = report.orders.join("\n");
    assert_eq!((report.open, report.cancelled, report.left_open, report.orphans), (3, 1, 0, 1), "{lines}");
    // The unknown order (rejected here), the one filled while down and the orphan differ; a
    // cancel of a working order does not.
    assert_eq!(report.differences, 3, "{lines}");
    assert!(market.open_orders(AccountId(0), Some(symbol)).is_empty(), "both cancelled at the venue: {lines}");
    for client in [&working, &orphan] {
        let o = market.order(AccountId(0), symbol, &OrderRef::Client(client.clone())).unwrap();
        assert_eq!(o.status, VenueStatus::Canceled, "{client}: {lines}");
    }
    let kinds: Vec<(u64, ReportKind)> = reports.iter().map(|r| (r.order_id.0, r.kind)).collect();
    assert!(kinds.contains(&(base + 1, ReportKind::Canceled)), "{kinds:?}");
    assert!(kinds.iter().any(|(id, k)| *id == base + 2 && matches!(k, ReportKind::Rejected(_))), "{kinds:?}");
    // The order filled while down: acknowledged, then its whole quantity in fills, with the
    // venue's fees where its query says them.
    let of_taken: Vec<_> = reports.iter().filter(|r| r.order_id.0 == base + 4).collect();
    assert_eq!(of_taken[0].kind, ReportKind::Accepted, "{kinds:?}");
    let fills: Vec<_> = of_taken[1..].iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert_eq!(fills.len(), of_taken.len() - 1, "{kinds:?}");
    let filled = fills.iter().fold(Qty::ZERO, |a, f| a.checked_add(f.last_qty).unwrap());
    assert_eq!(filled, qty, "{kinds:?}");
    let fees = fills.iter().fold(Notional::ZERO, |a, f| a.checked_add(f.fee).unwrap());
    if exact_fees {
        assert_eq!(fees, venue_fees, "{lines}");
    } else {
        assert!(lines.contains("fee unknown"), "{lines}");
    }
}

#[test]
fn a_restart_settles_the_orders_left_open_on_usdm() {
    let (mut server, market, _config) = util::usdm::venue("restart");
    settles_four_orders(&server, &market, (BINANCE_USDM, Venue::BinanceUsdm), 0, 0, true);
    server.shutdown();
}

#[test]
fn a_restart_settles_the_orders_left_open_on_bybit_spot_and_linear() {
    let (mut server, market, _config) = util::bybit::venue("restart");
    settles_four_orders(&server, &market, (BYBIT, Venue::Bybit), 0, 0, false);
    settles_four_orders(&server, &market, (BYBIT, Venue::Bybit), 1, 10, true);
    server.shutdown();
}
