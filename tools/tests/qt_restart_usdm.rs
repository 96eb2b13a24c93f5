//! Restart settling on Binance USD-M: the orders a previous run left open are settled through
//! the venue registry's settle hook (`Gateway::restore`, here USD-M's: `GET`/`DELETE
//! /fapi/v1/order`, `GET /fapi/v1/openOrders`), over real TLS sockets against the simulator —
//! a working order is cancelled at the venue, one the venue never saw is rejected here, and
//! one of this journal working at the venue but not in the journal is swept (cancelled, and
//! counted as an orphan).

mod util;

use qt_core::orders::{LiveOrder, OrderStatus};
use qt_core::{
    AccountId, ClientOrderId, InstrumentKind, InstrumentRegistry, InstrumentSpec, Nanos, OrderId, OrderRequest,
    OrderType, Price, Qty, ReportKind, Side, StrategyId, TimeInForce, Venue, VenueId,
};
use qt_tools::gateways::{BINANCE_USDM, GatewaySetup};
use qt_tools::restore::{RestoreReport, settle_open_orders};
use qt_venue_sim::market::{ClientOrderRequest, OrderRef, OrderStatus as VenueStatus};

const RUN_ID: u32 = 0x5eed_0019;

#[test]
fn a_restart_settles_the_orders_left_open_on_usdm() {
    let (mut server, market, _config) = util::usdm::venue("restart");
    let inst = market.instruments()[0].clone();
    let addr = server.addr_of("binance_usdm").unwrap();
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
    // A bid 10 % under the mid rests; ours (this journal's run id), ids 7 (journaled) and 9
    // (its journal record lost).
    let mid = market.mark_price(0).map(|(px, scale)| px / 10_i128.pow(u32::from(scale - inst.price_scale()))).unwrap();
    let price = Price::from_units(i64::try_from(mid * 9 / 10).unwrap());
    let qty = inst.parse_qty("0.010").unwrap();
    let place = |id: u64| {
        let client = ClientOrderId::new(RUN_ID, OrderId(id)).as_str().to_string();
        let req = ClientOrderRequest {
            client_order_id: Some(client.clone()),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Some(price),
            qty,
        };
        market.submit(AccountId(0), 0, req).unwrap();
        client
    };
    let (working, orphan) = (place(7), place(9));
    let open = |id: u64| LiveOrder {
        id: OrderId(id),
        request: OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: inst.id(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price,
            qty,
            reduce_only: false,
            stop_price: None,
        },
        status: OrderStatus::Working,
        cum_qty: Qty::ZERO,
        venue_order_id: 0,
        sent_local_ns: Nanos(0),
    };
    let settle = BINANCE_USDM.restore.expect("USD-M settles open orders at a restart");
    // The engine's registry: the same contract on the same grid (id 0).
    let mut instruments = InstrumentRegistry::new();
    let spec = InstrumentSpec {
        kind: InstrumentKind::LinearPerpetual,
        ..InstrumentSpec::spot(Venue::BinanceUsdm, inst.symbol(), "ETH", "USDT", "0.01", "0.001")
    };
    assert_eq!(instruments.add(&spec).unwrap(), inst.id());
    let mut report = RestoreReport::default();
    // Order 8 never reached the venue.
    let reports = settle_open_orders(&[open(7), open(8)], &instruments, &[(settle, setup)], RUN_ID, &mut report);

    let lines = report.orders.join("\n");
    assert_eq!((report.open, report.cancelled, report.left_open, report.orphans), (2, 1, 0, 1), "{lines}");
    // Order 8 unknown (rejected here) and the orphan: two differences; order 7's cancel is not one.
    assert_eq!(report.differences, 2, "{lines}");
    assert!(market.open_orders(AccountId(0), None).is_empty(), "both of ours cancelled at the venue: {lines}");
    for client in [&working, &orphan] {
        let o = market.order(AccountId(0), 0, &OrderRef::Client(client.clone())).unwrap();
        assert_eq!(o.status, VenueStatus::Canceled, "{client}: {lines}");
    }
    let kinds: Vec<(u64, ReportKind)> = reports.iter().map(|r| (r.order_id.0, r.kind)).collect();
    assert!(kinds.contains(&(7, ReportKind::Canceled)), "{kinds:?}");
    assert!(kinds.iter().any(|(id, k)| *id == 8 && matches!(k, ReportKind::Rejected(_))), "{kinds:?}");
    server.shutdown();
}
