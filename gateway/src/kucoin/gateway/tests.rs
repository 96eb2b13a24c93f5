//! The gateway thread's handling of pushes and listed fills, fed directly (no venue): the
//! documented `open` push accepts, a post-only closed before it was shown working is a reject,
//! a listed trade is booked once with its fee, malformed frames are counted and queue queries.

use super::stream_events::Listed;
use super::*;
use crate::kit::config::GatewayConfig;
use crate::kit::http::{server_name, tls_config};
use crate::kucoin::orders::FillRow;
use qt_core::ClientOrderId;
use qt_core::queue::spsc;
use qt_core::{InstrumentKind, InstrumentSpec, Liquidity, Notional, OrderType, Qty, Side, StrategyId, Venue};

const RUN: u32 = 9;

/// A gateway trading BTC-USDT (tick 0.1, lot 0.00001); never contacted: REST fails at once.
fn gateway() -> (Gateway, Consumer<ExecutionReport>) {
    let spec = InstrumentSpec {
        venue: Venue::Kucoin,
        symbol: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.1".into(),
        lot_size: "0.00001".into(),
        min_qty: None,
        min_notional: None,
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    };
    let cfg = GatewayConfig {
        instruments: vec![Instrument::from_spec(InstrumentId(0), &spec).unwrap()],
        accounts: vec![(AccountId(0), "k".into(), "s".into())],
        passphrases: vec![(AccountId(0), "p".into())],
        run_id: RUN,
        ..GatewayConfig::default()
    };
    let endpoint = crate::kit::http::Endpoint::parse("https://127.0.0.1:1", &["https"]).unwrap();
    let name = server_name(&endpoint, None).unwrap();
    let http = HttpsClient::new(endpoint, name, tls_config(None).unwrap(), Duration::from_millis(10));
    let (reports_tx, reports_rx) = spsc(64);
    (Gateway::new(&cfg, http, reports_tx).unwrap(), reports_rx)
}

fn live(g: &mut Gateway, id: u64, tif: TimeInForce, qty: &str) {
    let i = &g.instruments[0];
    let request = OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif,
        price: i.parse_price("50000").unwrap(),
        qty: i.parse_qty(qty).unwrap(),
        reduce_only: false,
        stop_price: None,
    };
    g.core.state.insert(OrderId(id), request);
}

fn link(id: u64) -> String {
    ClientOrderId::new(RUN, OrderId(id)).to_string()
}

fn drain(rx: &mut Consumer<ExecutionReport>) -> Vec<ExecutionReport> {
    std::iter::from_fn(|| rx.pop().ok()).collect()
}

/// `testdata/kucoin/orders/ws_trade_orders_v2_open.json` (the spec's `open` push) for our
/// order `id`, of `kind` with `filled` filled.
fn push(id: u64, kind: &str, filled: &str) -> String {
    include_str!("../../../../testdata/kucoin/orders/ws_trade_orders_v2_open.json")
        .trim()
        .replace("5c52e11203aa677f33e493fb", &link(id))
        .replace(r#""type":"open""#, &format!(r#""type":"{kind}""#))
        .replace(r#""filledSize":"0""#, &format!(r#""filledSize":"{filled}""#))
}

#[test]
fn the_documented_open_push_accepts_and_a_repeat_does_nothing() {
    let (mut g, mut rx) = gateway();
    live(&mut g, 1, TimeInForce::Gtc, "0.00001");
    g.on_frame(0, &push(1, "open", "0")).unwrap();
    g.on_frame(0, &push(1, "open", "0")).unwrap();
    let r = drain(&mut rx);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].kind, ReportKind::Accepted);
    assert_eq!(r[0].exchange_ns.0, 1_730_211_033_335_000_000, "ts, ns");
    assert_eq!(g.kucoin_ids.get(&OrderId(1)).map(String::as_str), Some("6720ecd9ec71f4000747731a"));
    // The real id is 96 bits: reported as 0, the order named by clientOid.
    assert_eq!(r[0].venue_order_id, 0);
    g.on_frame(0, &push(1, "canceled", "0")).unwrap();
    let r = drain(&mut rx);
    assert_eq!(r.iter().map(|r| r.kind).collect::<Vec<_>>(), [ReportKind::Canceled]);
    assert!(g.core.state.is_empty() && g.kucoin_ids.is_empty(), "forgotten");
}

#[test]
fn post_only_and_fok_closed_before_working_are_rejected() {
    let (mut g, mut rx) = gateway();
    live(&mut g, 1, TimeInForce::PostOnly, "0.00001");
    live(&mut g, 2, TimeInForce::Fok, "0.00001");
    live(&mut g, 3, TimeInForce::PostOnly, "0.00001");
    g.on_frame(0, &push(1, "canceled", "0")).unwrap();
    g.on_frame(0, &push(2, "canceled", "0")).unwrap();
    // Shown working first, then cancelled: a cancel.
    g.on_frame(0, &push(3, "open", "0")).unwrap();
    g.on_frame(0, &push(3, "canceled", "0")).unwrap();
    let kinds: Vec<ReportKind> = drain(&mut rx).iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            ReportKind::Rejected(RejectReason::WouldTakeLiquidity),
            ReportKind::Rejected(RejectReason::FokUnfillable),
            ReportKind::Accepted,
            ReportKind::Canceled
        ]
    );
}

fn row(trade: &str, size: &str, fee: &str, ccy: &str) -> FillRow {
    FillRow {
        trade_id: trade.into(),
        order_id: "0000000000000000000000a1".into(),
        price: "50000".into(),
        size: size.into(),
        fee: Notional::parse(fee).unwrap(),
        fee_currency: ccy.into(),
        maker: true,
        time_ms: 1_729_577_515_473,
    }
}

#[test]
fn a_listed_trade_is_booked_once_with_its_fee() {
    let (mut g, mut rx) = gateway();
    live(&mut g, 1, TimeInForce::Gtc, "0.00003");
    let t1 = row("11", "0.00001", "0.0005", "USDT");
    g.book_trade(OrderId(1), 0, &t1, None).unwrap().unwrap();
    g.book_trade(OrderId(1), 0, &t1, None).unwrap().unwrap();
    // The same trade as a push names it, with the cumulative size after it: not again.
    g.book_trade(OrderId(1), 0, &t1, Some(Qty::from_units(1))).unwrap().unwrap();
    let r = drain(&mut rx);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].kind, r[0].liquidity), (ReportKind::Fill, Liquidity::Maker));
    assert_eq!(
        (r[0].last_qty, r[0].cum_qty, r[0].leaves_qty),
        (Qty::from_units(1), Qty::from_units(1), Qty::from_units(2))
    );
    assert_eq!(r[0].fee, Notional::parse("0.0005").unwrap());
    assert_eq!(r[0].exchange_ns.0, 1_729_577_515_473_000_000);
    // The trade's own push, after its listing booked it: a duplicate, counted, not listed again.
    let m = push(1, "match", "0.00001").replace(
        r#""type":"match""#,
        r#""type":"match","matchPrice":"50000","matchSize":"0.00001","tradeId":"11","liquidity":"maker""#,
    );
    g.on_frame(0, &m).unwrap();
    g.on_frame(0, &m).unwrap();
    assert_eq!((g.core.state.stats.duplicate_fills, g.core.state.stats.trade_queries), (2, 0));
    let kinds: Vec<ReportKind> = drain(&mut rx).iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ReportKind::Accepted], "shown to exist, no second fill");
    // A fee in another currency is not booked as quote (counted).
    g.book_trade(OrderId(1), 0, &row("12", "0.00001", "0.00000001", "BTC"), None).unwrap().unwrap();
    let r = drain(&mut rx);
    assert_eq!((r.len(), r[0].fee), (1, Notional::ZERO));
    assert_eq!(g.core.state.stats.fees_not_in_quote, 1);
    // Unreadable: named, nothing booked.
    assert!(g.book_trade(OrderId(1), 0, &row("13", "0.000001", "0", "USDT"), None).unwrap_err().contains("size"));
    assert!(drain(&mut rx).is_empty());
}

#[test]
fn a_match_whose_fills_cannot_be_listed_is_queried_never_booked_without_its_fee() {
    let (mut g, mut rx) = gateway();
    live(&mut g, 1, TimeInForce::Gtc, "0.00002");
    let m = push(1, "match", "0.00001").replace(
        r#""type":"match""#,
        r#""type":"match","matchPrice":"50000","matchSize":"0.00001","tradeId":"77","liquidity":"maker""#,
    );
    g.on_frame(0, &m).unwrap();
    let r = drain(&mut rx);
    assert_eq!(r.iter().map(|r| r.kind).collect::<Vec<_>>(), [ReportKind::Accepted], "no fill without its fee");
    assert_eq!(g.core.state.pending().len(), 1, "queried shortly");
    assert_eq!(g.book_listed(0, OrderId(1), 0, None).unwrap(), Listed::Unavailable);
}

#[test]
fn malformed_frames_are_counted_and_queue_a_query_never_a_report() {
    let (mut g, mut rx) = gateway();
    live(&mut g, 1, TimeInForce::Gtc, "0.00001");
    let good = push(1, "open", "0");
    for bad in [
        r#"{"topic":"/spotMarket/tradeOrdersV2","type":"message","subject":"orderChange","data":{"#.to_string(),
        "[]".to_string(),
        good.replace(r#""type":"open""#, r#""type":"match""#),
        good.replace(r#""filledSize":"0""#, r#""filledSize":"0.000001""#),
        good.replace(r#""symbol":"BTC-USDT""#, r#""symbol":"ETH-USDT""#),
    ] {
        g.on_frame(0, &bad).unwrap();
    }
    assert!(drain(&mut rx).is_empty());
    assert_eq!(g.core.state.stats.malformed, 5);
    assert_eq!(g.core.state.pending().len(), 1, "the live order is queried");
}

/// KuCoin's 429000 backs off even when it comes with HTTP 200; its 400002 is a refused
/// timestamp (the clock estimate expires), nothing else is.
#[test]
fn a_429000_backs_off_and_a_400002_is_a_timestamp_refusal() {
    let (mut g, _rx) = gateway();
    let answer = |status, code: &str| Response {
        status,
        headers: Vec::new(),
        body: format!(r#"{{"code":"{code}","msg":"m"}}"#).into_bytes(),
    };
    let req = Req { method: "POST", path: ORDERS_PATH, query: "", body: "", cost: limits::NEW_ORDER };
    assert!(!g.core.link.limits.backing_off(Instant::now()));
    ShellGateway::note_answer(&mut g, 0, 0, &answer(200, "200000"), req);
    assert!(!g.core.link.limits.backing_off(Instant::now()));
    ShellGateway::note_answer(&mut g, 0, 0, &answer(200, "429000"), req);
    assert!(g.core.link.limits.backing_off(Instant::now()));
    assert_eq!(g.core.state.stats.rate_limited, 1);
    assert!(<Gateway as ShellGateway>::is_timestamp_reject(&answer(401, "400002")));
    assert!(!<Gateway as ShellGateway>::is_timestamp_reject(&answer(401, "400005")));
    ShellGateway::note_answer(&mut g, 0, 0, &answer(401, "400002"), req);
    assert_eq!(g.core.state.stats.timestamp_rejects, 1);
}
