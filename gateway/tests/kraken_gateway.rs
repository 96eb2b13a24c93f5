//! The Kraken gateway's own pieces (issue #20): the nonce that never goes backwards, even
//! across a restart with the wall clock stepped back; Kraken's error texts → reject reasons;
//! the documented `executions` samples read exactly, with fills de-duplicated by `exec_id`;
//! and the gateway's signed REST requests (AddOrder, OpenOrders, CancelOrder,
//! CancelAllOrdersAfter, Balance, GetWebSocketsToken) accepted by the simulator's Kraken
//! protocol, whose answers the gateway's envelope reader reads.

use qt_core::{
    AccountId, Instrument, InstrumentId, OrderId, OrderRequest, OrderType, Qty, Rate, RejectReason, Side, StrategyId,
    TimeInForce, Venue,
};
use qt_gateway::kraken::errors::{is_auth_refusal, is_nonce_refusal, is_unknown_order, reject_reason};
use qt_gateway::kraken::executions::{ExecIds, ExecType, Frame, parse_frame};
use qt_gateway::kraken::nonce::{NonceError, NonceSource, RESERVE};
use qt_gateway::kraken::rest::{self, BodyError, ClOrdId};
use qt_gateway::sign::kraken::KrakenSigner;
use qt_gateway::sign::{Credentials, Secret};
use qt_test_support::TestInstrument;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::kraken::KrakenV2;
use qt_venue_sim::market::{AccountConfig, Market, MarketConfig, SymbolConfig};
use qt_venue_sim::protocol::{Ctx, HttpRequest, Protocol};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static CLOCK_US: AtomicU64 = AtomicU64::new(0);

fn test_clock() -> u64 {
    CLOCK_US.load(Ordering::SeqCst)
}

fn temp_journal(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("qt-kraken-nonce-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("nonce")
}

/// A restart after the wall clock went back an hour still issues nonces above every nonce of
/// the previous run: the journal's ceiling, not the clock, bounds them. Without the journal
/// (the unjournalled source, as a naive "wall clock in µs" nonce would be) the same restart
/// issues a lower nonce, which Kraken refuses (`EAPI:Invalid nonce`).
#[test]
fn kraken_nonce_never_goes_backwards_across_a_restart() {
    let path = temp_journal("restart");
    let t0 = 1_765_000_000_000_000u64;
    CLOCK_US.store(t0, Ordering::SeqCst);
    let mut first = NonceSource::open_with_clock(&path, test_clock).unwrap();
    let mut issued = Vec::new();
    for i in 0..1000 {
        // The clock moves 1 ms per request, and stands still for every tenth.
        if i % 10 != 0 {
            CLOCK_US.fetch_add(1000, Ordering::SeqCst);
        }
        issued.push(first.issue().unwrap());
    }
    assert!(issued.windows(2).all(|w| w[0] < w[1]), "strictly increasing within a run");
    let last = *issued.last().unwrap();
    // The journal holds a ceiling above every nonce issued, and was written rarely.
    let ceiling: u64 = std::fs::read_to_string(&path).unwrap().trim().parse().unwrap();
    assert!(ceiling > last && ceiling <= last + RESERVE, "{ceiling} vs {last}");
    drop(first); // the process dies (nothing is written at exit)

    CLOCK_US.store(t0 - 3_600_000_000, Ordering::SeqCst); // an hour back
    let mut second = NonceSource::open_with_clock(&path, test_clock).unwrap();
    let n = second.issue().unwrap();
    assert!(n > last, "after the restart: {n} must exceed {last}");
    assert!(second.issue().unwrap() > n);

    // What the journal prevents: a fresh journal (a naive wall-clock nonce) after the clock went
    // back issues a nonce below the previous run's.
    let mut clockless = NonceSource::open_with_clock(&temp_journal("fresh"), test_clock).unwrap();
    assert!(clockless.issue().unwrap() < last, "a fresh journal with the clock back would go backwards");
}

#[test]
fn kraken_nonce_journal_that_is_not_a_nonce_is_an_error() {
    let path = temp_journal("corrupt");
    std::fs::write(&path, "yesterday").unwrap();
    match NonceSource::open(&path) {
        Err(NonceError::Corrupt { text, .. }) => assert_eq!(text, "yesterday"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn kraken_errors_map_onto_reject_reasons() {
    let cases = [
        ("EOrder:Insufficient funds", RejectReason::InsufficientBalance),
        ("EOrder:Order minimum not met", RejectReason::LotSize),
        ("EOrder:Cost minimum not met", RejectReason::MinNotional),
        ("EOrder:Post only order", RejectReason::WouldTakeLiquidity),
        ("EQuery:Unknown asset pair", RejectReason::UnknownInstrument),
        ("EOrder:Rate limit exceeded", RejectReason::RateLimited),
        ("EAPI:Rate limit exceeded", RejectReason::RateLimited),
        ("EGeneral:Temporary lockout", RejectReason::RateLimited),
        ("EOrder:Orders limit exceeded", RejectReason::TooManyOpenOrders),
        ("EGeneral:Invalid arguments:price", RejectReason::PriceFilter),
        ("EGeneral:Invalid arguments:volume", RejectReason::LotSize),
        ("EGeneral:Invalid arguments", RejectReason::Other),
        ("ESomething:new", RejectReason::Other),
    ];
    for (text, want) in cases {
        assert_eq!(reject_reason(text), want, "{text}");
    }
    assert!(is_auth_refusal("EAPI:Invalid key") && is_auth_refusal("EAPI:Invalid signature"));
    assert!(!is_auth_refusal("EAPI:Invalid nonce") && is_nonce_refusal("EAPI:Invalid nonce"));
    assert!(is_unknown_order("EOrder:Unknown order") && !is_unknown_order("EOrder:Insufficient funds"));
}

fn sample(name: &str) -> String {
    let path = format!("{}/../testdata/kraken/orders/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The docs' executions examples, verbatim, read to the right values.
#[test]
fn kraken_documented_executions_parse_exactly() {
    let Frame::Executions { snapshot, sequence, items } =
        parse_frame(&sample("ws_executions_update_trade.json")).unwrap()
    else {
        panic!("an executions frame")
    };
    assert_eq!((snapshot, sequence, items.len()), (false, Some(10), 1));
    let t = &items[0];
    assert_eq!(
        (t.order_id.as_str(), t.exec_type, t.order_status.as_str()),
        ("OK4GJX-KSTLS-7DZZO5", ExecType::Trade, "partially_filled")
    );
    let f = t.fill.as_ref().unwrap();
    assert_eq!(
        (f.exec_id.as_str(), f.trade_id, f.qty.as_str(), f.price.as_str()),
        ("TGBB7L-HT5LX-J3BZ4A", Some(62887576), "0.005", "26599.9")
    );
    assert!(!f.maker);
    assert_eq!(f.fees, vec![("USD".to_owned(), "0.3458".to_owned())]);
    assert_eq!(Qty::parse("0.005", 8).unwrap(), Qty::parse(&f.qty, 8).unwrap());
    assert_eq!(t.cum_qty.as_deref(), Some("0.005"));

    let Frame::Executions { items, .. } = parse_frame(&sample("ws_executions_update_pending_new.json")).unwrap() else {
        panic!()
    };
    assert_eq!((items[0].exec_type, items[0].fill.is_none()), (ExecType::PendingNew, true));
    let Frame::Executions { items, .. } = parse_frame(&sample("ws_executions_update_new.json")).unwrap() else {
        panic!()
    };
    assert_eq!(items[0].exec_type, ExecType::New);
    match parse_frame(&sample("ws_executions_subscribe_ack.json")).unwrap() {
        Frame::Answer { method, result } => assert_eq!((method.as_str(), result), ("subscribe", Ok(()))),
        other => panic!("{other:?}"),
    }
    match parse_frame(&sample("ws_add_order_error_insufficient_funds.json")).unwrap() {
        Frame::Answer { result, .. } => assert_eq!(result, Err("EOrder:Insufficient funds".to_owned())),
        other => panic!("{other:?}"),
    }
    // Malformed input is an error, never a panic.
    for bad in [
        "",
        "{",
        "[1]",
        r#"{"channel":"executions","data":[{"exec_type":"trade"}]}"#,
        r#"{"channel":"executions","data":[{"order_id":"O","exec_type":"trade","exec_id":"T"}]}"#,
    ] {
        assert!(parse_frame(bad).is_err(), "{bad}");
    }
    // A replayed fill is booked once.
    let mut ids = ExecIds::new(2);
    assert!(ids.first("T1") && !ids.first("T1") && ids.first("T2") && ids.first("T3"));
    assert!(!ids.first("T3") && !ids.first("T2"));
}

const KEY: &str = "gw-kraken";
const SECRET: &str = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";

fn inst() -> Instrument {
    TestInstrument::spot(Venue::Kraken, "BTC/USDT")
        .assets("BTC", "USDT")
        .tick("0.1")
        .lot("0.0001")
        .minimums("0.0001", "5")
        .build(0)
}

struct Sim {
    venue: KrakenV2,
    ctx: Ctx,
    signer: KrakenSigner,
    nonces: NonceSource,
}

impl Sim {
    fn new() -> Self {
        let instrument = inst();
        let flow = FlowParams {
            events_per_sec: 1.0,
            start_mid: instrument.parse_price("60000").ok(),
            ..FlowParams::default()
        };
        let market = Market::new(MarketConfig {
            symbols: vec![SymbolConfig { instrument, flow }],
            fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
            accounts: vec![AccountConfig {
                api_key: KEY.into(),
                secret: SECRET.into(),
                balances: vec![("USDT".into(), "100000".into()), ("BTC".into(), "2".into())],
            }],
            seed: 1,
        })
        .unwrap();
        let ctx = Ctx { market, faults: Faults::new(), stop: Arc::new(AtomicBool::new(false)) };
        let creds = Credentials { key: Some(KEY.into()), secret: Secret::new(SECRET), passphrase: None };
        Self {
            venue: KrakenV2::new(),
            ctx,
            signer: KrakenSigner::new(creds).unwrap(),
            nonces: NonceSource::unjournalled(),
        }
    }

    /// Sends `body` (built with `nonce`) to `path` signed as the gateway signs; the envelope.
    fn send(&self, path: &str, nonce: u64, body: &str) -> Result<Value, String> {
        let headers = rest::sign_headers(&self.signer, KEY, path, nonce, body);
        let req = HttpRequest {
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect(),
            body: body.as_bytes().to_vec(),
            peer: "127.0.0.1:1".parse().unwrap(),
        };
        let resp = self.venue.handle_http(&self.ctx, &req);
        rest::envelope(&resp.body)
    }

    fn call(&mut self, path: &str, body: impl FnOnce(u64) -> String) -> Result<Value, String> {
        let n = self.nonces.issue().unwrap();
        self.send(path, n, &body(n))
    }
}

fn order(side: Side, tif: TimeInForce, price: &str, qty: &str) -> OrderRequest {
    let i = inst();
    OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side,
        order_type: OrderType::Limit,
        tif,
        price: i.parse_price(price).unwrap(),
        qty: i.parse_qty(qty).unwrap(),
        reduce_only: false,
        stop_price: None,
    }
}

/// The gateway's requests, signed with its signer and nonces, against the simulator's Kraken.
#[test]
fn kraken_gateway_requests_are_accepted_by_the_simulator() {
    let mut sim = Sim::new();
    let i = inst();
    let cl = ClOrdId::new(7, OrderId(1));
    let req = order(Side::Buy, TimeInForce::Gtc, "30000", "0.01");
    let added = sim.call(rest::ADD_ORDER_PATH, |n| rest::add_order_body(n, &i, OrderId(1), 7, &req).unwrap()).unwrap();
    let txid = rest::add_order_txid(&added).unwrap().to_owned();
    let open = sim.call(rest::OPEN_ORDERS_PATH, rest::nonce_body).unwrap();
    assert_eq!(open["open"][&txid]["cl_ord_id"], cl.as_str(), "{open}");
    assert_eq!(open["open"][&txid]["descr"]["price"], "30000.0");
    // The dead-man's switch arms and disarms.
    let armed = sim.call(rest::CANCEL_AFTER_PATH, |n| rest::cancel_after_body(n, 60)).unwrap();
    assert!(armed["triggerTime"].is_string(), "{armed}");
    sim.call(rest::CANCEL_AFTER_PATH, |n| rest::cancel_after_body(n, 0)).unwrap();
    // Cancel by our client id.
    let c = sim.call(rest::CANCEL_ORDER_PATH, |n| rest::cancel_order_body(n, cl.as_str())).unwrap();
    assert_eq!(c["count"], 1);
    let again = sim.call(rest::CANCEL_ORDER_PATH, |n| rest::cancel_order_body(n, &txid)).unwrap_err();
    assert!(is_unknown_order(&again), "{again}");
    // A reject maps.
    let big = order(Side::Buy, TimeInForce::Gtc, "30000", "100");
    let e = sim.call(rest::ADD_ORDER_PATH, |n| rest::add_order_body(n, &i, OrderId(2), 7, &big).unwrap()).unwrap_err();
    assert_eq!(reject_reason(&e), RejectReason::InsufficientBalance, "{e}");
    // Post-only and IOC are written as Kraken's flags; FOK is not offered by REST AddOrder.
    let post =
        rest::add_order_body(1, &i, OrderId(2), 7, &order(Side::Sell, TimeInForce::PostOnly, "90000", "0.01")).unwrap();
    assert!(post.contains("&oflags=post") && post.contains("&pair=BTC%2FUSDT"), "{post}");
    let fok = rest::add_order_body(1, &i, OrderId(2), 7, &order(Side::Sell, TimeInForce::Fok, "90000", "0.01"));
    assert_eq!(fok, Err(BodyError::Unsupported("fill-or-kill")));
    // A replayed nonce is refused; balances and a token come back.
    let bal = sim.call(rest::BALANCE_PATH, rest::nonce_body).unwrap();
    assert_eq!(bal["USDT"], "100000", "{bal}");
    let last = sim.nonces.last();
    let replay = sim.send(rest::BALANCE_PATH, last, &rest::nonce_body(last)).unwrap_err();
    assert!(is_nonce_refusal(&replay), "{replay}");
    let token = sim.call(rest::WS_TOKEN_PATH, rest::nonce_body).unwrap();
    assert!(token["token"].as_str().is_some_and(|t| !t.is_empty()), "{token}");
}

/// The order body the live path writes has the documented AddOrder fields with the documented
/// values (`rest_add_order_request_form_fields.json`: a limit buy of 1.25 XBTUSD at 27500),
/// and the documented ack's txid reads.
#[test]
fn kraken_order_body_matches_the_documented_request_and_the_ack_reads() {
    let doc: Value = serde_json::from_str(&sample("rest_add_order_request_form_fields.json")).unwrap();
    let xbt = TestInstrument::spot(Venue::Kraken, "XBTUSD").assets("XBT", "USD").tick("0.1").lot("0.00000001").build(0);
    let mut req = order(Side::Buy, TimeInForce::Gtc, "1", "1");
    (req.price, req.qty) = (xbt.parse_price("27500").unwrap(), xbt.parse_qty("1.25").unwrap());
    let mut body = String::with_capacity(256);
    rest::write_order_body(&mut body, &xbt, OrderId(3), 7, &req).unwrap();
    let fields: std::collections::HashMap<&str, &str> = body.split('&').filter_map(|kv| kv.split_once('=')).collect();
    for key in ["ordertype", "type", "pair"] {
        assert_eq!(Some(fields[key]), doc[key].as_str(), "{key}: {body}");
    }
    let num = |t: &str| qt_core::Notional::parse(t).unwrap();
    assert_eq!(num(fields["volume"]), num(doc["volume"].as_str().unwrap()), "{body}");
    assert_eq!(num(fields["price"]), num(doc["price"].as_str().unwrap()), "{body}");
    // Our cl_ord_id is a short UUID (32 hex digits) that names the run and the order.
    let cl = fields["cl_ord_id"];
    assert!(cl.len() == 32 && cl.bytes().all(|b| b.is_ascii_hexdigit()), "{cl}");
    assert_eq!(ClOrdId::parse(cl), Some((7, OrderId(3))));
    assert_eq!(ClOrdId::parse(doc["cl_ord_id"].as_str().unwrap()), None, "a UUID not of ours");
    let ack = rest::envelope(sample("rest_add_order_response.json").as_bytes()).unwrap();
    assert_eq!(rest::add_order_txid(&ack), Some("OUF4EM-FRGI2-MQMWZD"));
}

/// The gateway's refresh schedule keeps the simulator's switch from firing while healthy; once
/// the engine is unhealthy (or gone) the refreshes stop and the venue cancels every order.
#[test]
fn kraken_dead_mans_switch_refreshed_while_healthy_fires_when_not() {
    use qt_gateway::kraken::dead_man::DeadMan;
    use std::time::{Duration, Instant};
    let mut sim = Sim::new();
    let i = inst();
    let req = order(Side::Buy, TimeInForce::Gtc, "30000", "0.01");
    sim.call(rest::ADD_ORDER_PATH, |n| rest::add_order_body(n, &i, OrderId(1), 9, &req).unwrap()).unwrap();
    let open =
        |sim: &mut Sim| sim.call(rest::OPEN_ORDERS_PATH, rest::nonce_body).unwrap()["open"].as_object().unwrap().len();
    let mut dm = DeadMan::new(Duration::from_secs(1));
    let run = |sim: &mut Sim, dm: &mut DeadMan, healthy: bool, for_: Duration| {
        let until = Instant::now() + for_;
        while Instant::now() < until {
            let now = Instant::now();
            if dm.due(now, healthy) {
                let t = dm.timeout_s();
                match sim.call(rest::CANCEL_AFTER_PATH, |n| rest::cancel_after_body(n, t)) {
                    Ok(_) => dm.refreshed(now),
                    Err(_) => dm.failed(),
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    run(&mut sim, &mut dm, true, Duration::from_millis(2500));
    assert_eq!(open(&mut sim), 1, "refreshed while healthy: the order rests");
    run(&mut sim, &mut dm, false, Duration::from_millis(2500));
    assert_eq!(open(&mut sim), 0, "unhealthy: the switch fired");
    sim.ctx.stop.store(true, Ordering::Relaxed);
}

// ---- the gateway thread, end to end over TLS against the simulator's Kraken ------------------

mod util;

use qt_core::{ExecutionReport, Liquidity, Price, ReportKind, VenueId};
use qt_gateway::kit::config::GatewayConfig;
use qt_gateway::kraken::{GatewayStats, spawn};
use qt_venue_sim::market::OrderRef;
use qt_venue_sim::server::RunningServer;
use std::time::Duration;
use util::{Ends, GW, MAKER_FEE_BPS, SkewedClock, TAKER, TAKER_FEE_BPS, check_fills};

const RUN_ID: u32 = 0x5eed_000a;
const SPOT: InstrumentId = InstrumentId(0);
/// The simulator keys its accounts with `gw-secret`'s bytes (it is not base64); Kraken secrets
/// are base64 text, so the gateway is given the same bytes in base64.
const GW_SECRET_B64: &str = "Z3ctc2VjcmV0";

fn gw_inst() -> Instrument {
    TestInstrument::spot(Venue::Kraken, "BTC/USDT")
        .assets("BTC", "USDT")
        .tick("0.1")
        .lot("0.00001")
        .minimums("0.00001", "5")
        .build(0)
}

struct Harness {
    server: RunningServer,
    cfg: GatewayConfig,
    ends: Ends,
}

fn state_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("qt-kraken-gw-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Harness {
    fn start(name: &str) -> Self {
        Self::start_with(name, |_| {})
    }

    fn start_with(name: &str, tweak: impl FnOnce(&mut GatewayConfig)) -> Self {
        let market = util::market(gw_inst(), 200.0, &[("USDT", "100000000"), ("BTC", "1000")], 17);
        let server = util::start_sim(market, Arc::new(KrakenV2::new()), "qt-gateway-kraken-tests");
        let mut cfg = Self::config(&server, state_dir(name));
        tweak(&mut cfg);
        let ends = Self::spawn(&cfg);
        Self { server, cfg, ends }
    }

    fn config(server: &RunningServer, dir: std::path::PathBuf) -> GatewayConfig {
        let addr = server.addr_of("kraken").unwrap();
        GatewayConfig {
            rest_url: format!("https://{addr}"),
            ws_url: format!("wss://{addr}"),
            ca_file: Some(server.ca_file.clone()),
            server_name: Some("localhost".into()),
            venue: VenueId(6),
            instruments: vec![gw_inst()],
            accounts: vec![(GW, "gw-key".into(), GW_SECRET_B64.into())],
            run_id: RUN_ID,
            request_timeout: Duration::from_secs(10),
            state_dir: Some(dir),
            ..GatewayConfig::default()
        }
    }

    fn spawn(cfg: &GatewayConfig) -> Ends {
        let cfg = cfg.clone();
        Ends::spawn(|orders, reports, stop| spawn(cfg, orders, reports, stop).unwrap())
    }

    fn market(&self) -> &Market {
        &self.server.market
    }

    fn faults(&self) -> &Faults {
        &self.server.faults
    }

    fn best(&self) -> ((Price, Qty), (Price, Qty)) {
        let snap = self.market().snapshot(0, 1).unwrap();
        (snap.bids[0], snap.asks[0])
    }

    fn limit(&mut self, side: Side, tif: TimeInForce, price: Price, qty: Qty) -> OrderId {
        self.ends.send_on(SPOT, side, OrderType::Limit, tif, price, qty, false)
    }

    fn reports_until(&mut self, order_id: OrderId, done: impl Fn(&ExecutionReport) -> bool) -> Vec<ExecutionReport> {
        self.ends.reports_until(order_id, done)
    }

    fn stop(mut self) -> GatewayStats {
        self.ends.stop()
    }
}

fn cl(order_id: OrderId) -> String {
    ClOrdId::new(RUN_ID, order_id).as_str().to_owned()
}

fn q(text: &str) -> Qty {
    gw_inst().parse_qty(text).unwrap()
}

fn is_final(r: &ExecutionReport) -> bool {
    matches!(r.kind, ReportKind::Canceled | ReportKind::Rejected(_))
        || (r.kind == ReportKind::Fill && r.leaves_qty.is_zero())
}

/// A resting sell above the ask, acknowledged.
fn rest_sell(h: &mut Harness, qty: Qty) -> (OrderId, Price) {
    let (_, ask) = h.best();
    let price = Price::from_units(ask.0.units() + 5);
    let id = h.limit(Side::Sell, TimeInForce::Gtc, price, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    (id, price)
}

/// Place → ack → partial fill → fill: a resting sell taken in two parts by another account,
/// each a maker fill with the venue's exact fee; then a marketable IOC filled as a taker.
#[test]
fn kraken_gateway_place_ack_partial_fill_with_exact_fees() {
    let mut h = Harness::start("fills");
    let qty = q("0.002");
    let (id, price) = rest_sell(&mut h, qty);
    let part = util::take_part_on(h.market(), 0, (GW, TAKER), price, q("0.0007"), &cl(id));
    assert!(part < qty);
    let first = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.cum_qty == part);
    util::take_through(h.market(), GW, TAKER, price, &cl(id));
    let rest = h.reports_until(id, is_final);
    let fills: Vec<&ExecutionReport> = first.iter().chain(rest.iter()).collect();
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Maker && f.last_price == price), "{fills:?}");
    assert_eq!(check_fills(&gw_inst(), qty, &fills, MAKER_FEE_BPS), qty);
    // A marketable IOC for more than the best level: taker fills with exact fees, the rest cancelled.
    let (_, ask) = h.best();
    let ioc_qty = Qty::from_units(ask.1.units() + 500);
    let id = h.limit(Side::Buy, TimeInForce::Ioc, ask.0, ioc_qty);
    let r = h.reports_until(id, is_final);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(r[0].venue_order_id > 0);
    let fills: Vec<&ExecutionReport> = r.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Taker), "{fills:?}");
    let filled = check_fills(&gw_inst(), ioc_qty, &fills, TAKER_FEE_BPS);
    let venue = h.market().order(GW, 0, &OrderRef::Client(cl(id))).unwrap();
    assert_eq!(venue.cum_qty, filled, "exactly what the venue filled");
    // A market order (no price, no time in force on the wire): filled as a taker.
    let (_, ask) = h.best();
    let id = h.ends.send_on(SPOT, Side::Buy, OrderType::Market, TimeInForce::Ioc, ask.0, q("0.001"), false);
    let r = h.reports_until(id, is_final);
    let fills: Vec<&ExecutionReport> = r.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert_eq!(check_fills(&gw_inst(), q("0.001"), &fills, TAKER_FEE_BPS), q("0.001"), "{r:?}");
    assert!(h.ends.next_report(Duration::from_millis(300)).is_none(), "nothing twice");
    let stats = h.stop();
    assert_eq!((stats.duplicate_fills, stats.fills_without_fee, stats.malformed), (0, 0, 0), "{stats:?}");
    assert_eq!(stats.transport_errors, 0, "{stats:?}");
}

/// Cancel, cancel-all (the account's, and one instrument's), a second cancel refused, and
/// rejects mapped (insufficient funds, post-only crossing, FOK not offered by REST).
#[test]
fn kraken_gateway_cancel_cancel_all_and_rejects() {
    let mut h = Harness::start("cancel");
    let (bid, ask) = h.best();
    let far = |i: i64| Price::from_units(bid.0.units() * 9 / 10 - i);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far(0), q("0.001"));
    let accepted = h.reports_until(id, |_| true);
    assert_eq!(accepted[0].kind, ReportKind::Accepted);
    h.ends.cancel_on(id, SPOT);
    let canceled = h.reports_until(id, |_| true);
    assert_eq!(canceled[0].kind, ReportKind::Canceled, "{canceled:?}");
    h.ends.cancel_on(id, SPOT);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));
    for instrument in [None, Some(SPOT)] {
        let ids: Vec<OrderId> = (1..=3)
            .map(|i| {
                let id = h.limit(Side::Buy, TimeInForce::Gtc, far(i), q("0.001"));
                assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
                id
            })
            .collect();
        h.ends.orders.push(qt_core::OrderCommand::CancelAll { account: GW, instrument }).unwrap();
        for id in ids {
            assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
        }
        assert!(h.market().open_orders(GW, None).is_empty());
    }
    let rejected = |h: &mut Harness, side, tif, price, qty| {
        let id = h.limit(side, tif, price, qty);
        h.reports_until(id, |_| true)[0].kind
    };
    let big = rejected(&mut h, Side::Buy, TimeInForce::Gtc, far(0), q("100000"));
    assert_eq!(big, ReportKind::Rejected(RejectReason::InsufficientBalance));
    let post = rejected(&mut h, Side::Buy, TimeInForce::PostOnly, ask.0, q("0.001"));
    assert_eq!(post, ReportKind::Rejected(RejectReason::WouldTakeLiquidity));
    let fok = rejected(&mut h, Side::Buy, TimeInForce::Fok, ask.0, q("0.001"));
    assert_eq!(fok, ReportKind::Rejected(RejectReason::Other));
    let stats = h.stop();
    assert_eq!(stats.rejected.get(RejectReason::InsufficientBalance), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::WouldTakeLiquidity), 1, "{stats:?}");
    assert_eq!((stats.cancels, stats.cancel_rejects), (7, 1), "{stats:?}");
}

/// A disconnect with an order in flight: the answer comes after the gateway gave up, so its
/// fate is unknown; the query by `cl_ord_id` finds it working — accepted once, never sent twice.
/// An AddOrder refused with HTTP 503 before the venue saw it is found nowhere, twice: rejected;
/// one refused with HTTP 429 is rejected rate limited at once, and nothing is placed.
#[test]
fn kraken_gateway_order_in_flight_during_a_disconnect_is_not_duplicated() {
    let mut h = Harness::start_with("inflight", |c| c.request_timeout = Duration::from_millis(400));
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    h.faults().fail_http_path(rest::ADD_ORDER_PATH, 1, 503);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, q("0.001"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    // A 429: nothing placed, reported rate limited at once; the gateway backs off, then sends.
    h.faults().fail_http_path(rest::ADD_ORDER_PATH, 1, 429);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, q("0.001"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::RateLimited));
    std::thread::sleep(Duration::from_millis(1100));
    assert!(h.market().open_orders(GW, None).is_empty(), "nothing placed");
    h.faults().set_ack_latency(Duration::from_millis(1200));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, q("0.001"));
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    h.faults().set_ack_latency(Duration::ZERO);
    assert!(h.ends.next_report(Duration::from_millis(1500)).is_none(), "not accepted twice");
    assert_eq!(h.market().open_orders(GW, None).len(), 1, "no duplicate at the venue");
    h.ends.cancel_on(id, SPOT);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.accepted, stats.cancels, stats.rate_limited), (1, 1, 1), "{stats:?}");
    assert!(stats.reconciliations >= 2, "{stats:?}");
}

/// A dropped private stream with a fill in between, and a malformed execution: each missed
/// trade is booked once, with its own fee, from TradesHistory; the malformed frame is counted.
#[test]
fn kraken_gateway_missed_fills_recovered_once_with_real_fees() {
    let mut h = Harness::start("recover");
    let qty = q("0.002");
    let (id, price) = rest_sell(&mut h, qty);
    h.faults().drop_ws_connections();
    util::take_through(h.market(), GW, TAKER, price, &cl(id));
    let r = h.reports_until(id, is_final);
    let fills: Vec<&ExecutionReport> = r.iter().collect();
    assert_eq!(check_fills(&gw_inst(), qty, &fills, MAKER_FEE_BPS), qty, "each trade with its own fee: {r:?}");
    // The next fill's execution arrives cut.
    let (id, price) = rest_sell(&mut h, qty);
    std::thread::sleep(Duration::from_millis(200));
    h.faults().malformed_account_frames(1);
    util::take_through(h.market(), GW, TAKER, price, &cl(id));
    let r = h.reports_until(id, is_final);
    let fills: Vec<&ExecutionReport> = r.iter().collect();
    assert_eq!(check_fills(&gw_inst(), qty, &fills, MAKER_FEE_BPS), qty, "every lot once: {r:?}");
    assert!(h.ends.next_report(Duration::from_millis(400)).is_none(), "nothing reported twice");
    let stats = h.stop();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert_eq!((stats.fills_without_fee, stats.fills_fee_from_trades), (0, 0), "trade by trade: {stats:?}");
}

/// Clock skew: Kraken signs no timestamp — the nonce is ours and only has to increase — so our
/// clock 40 s ahead, or the venue's 45 s behind, refuses nothing; the estimate sees the skew.
#[test]
fn kraken_gateway_clock_skew_is_absorbed() {
    let mut h = Harness::start_with("skew", |c| c.clock = Arc::new(SkewedClock(40_000)));
    h.market().set_clock_skew_ms(-45_000);
    let (_, ask) = h.best();
    let id = h.limit(Side::Buy, TimeInForce::Ioc, ask.0, ask.1);
    let r = h.reports_until(id, is_final);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(r.iter().any(|r| r.kind == ReportKind::Fill), "{r:?}");
    let stats = h.stop();
    assert_eq!((stats.timestamp_rejects, stats.transport_errors), (0, 0), "{stats:?}");
}

/// The nonce across a restart: the first run's nonces are an hour ahead of the wall clock (as
/// after the clock was stepped back an hour), and the restarted gateway, reading the journal's
/// ceiling, still sends nonces the venue accepts. Without the journal the same restart is
/// refused `EAPI:Invalid nonce` at start; and without a state directory the gateway refuses to
/// start at all.
#[test]
fn kraken_gateway_nonce_survives_a_restart_with_the_clock_behind() {
    let dir = state_dir("restart");
    let ahead = qt_gateway::kraken::nonce::wall_clock_us() + 3_600_000_000;
    std::fs::write(qt_gateway::kraken::nonce::journal_path(&dir, "gw-key"), format!("{ahead}\n")).unwrap();
    let mut h = Harness::start_with("restart-first", |c| c.state_dir = Some(dir.clone()));
    let (bid, _) = h.best();
    let id = h.limit(Side::Buy, TimeInForce::Gtc, Price::from_units(bid.0.units() * 9 / 10), q("0.001"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
    let first_stats = h.ends.stop();
    assert_eq!(first_stats.rejected.total(), 0, "{first_stats:?}");
    // The restart, on the same journal: the venue's last nonce is an hour ahead of the clock.
    // (A new run id, as `qt run` gives a restart's orders new ids; the first order rests.)
    let cfg = GatewayConfig { run_id: RUN_ID + 1, ..Harness::config(&h.server, dir.clone()) };
    let mut ends = Harness::spawn(&cfg);
    let (bid, _) = h.best();
    let id = ends.send_on(SPOT, Side::Buy, OrderType::Limit, TimeInForce::Gtc, bid.0, q("0.001"), false);
    let r = ends.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    ends.stop();
    // Without the journal (a fresh directory: the wall clock's nonces) the venue refuses them.
    let fresh = Harness::config(&h.server, state_dir("restart-fresh"));
    let (_o, orders_rx) = qt_core::queue::spsc(8);
    let (reports_tx, _r) = qt_core::queue::spsc(8);
    let refused = spawn(fresh, orders_rx, reports_tx, Arc::new(AtomicBool::new(false))).unwrap_err();
    assert!(refused.to_string().contains("EAPI:Invalid nonce"), "{refused}");
    let none = GatewayConfig { state_dir: None, ..Harness::config(&h.server, dir) };
    let (_o, orders_rx) = qt_core::queue::spsc(8);
    let (reports_tx, _r) = qt_core::queue::spsc(8);
    let err = spawn(none, orders_rx, reports_tx, Arc::new(AtomicBool::new(false))).unwrap_err();
    assert!(err.to_string().contains("state_dir"), "{err}");
}

/// Balances for `qt run`'s reconciliation, and a wrong secret refused as the account's.
#[test]
fn kraken_account_balances_and_a_refused_secret() {
    let h = Harness::start("balances");
    let b = qt_gateway::kraken::account::query_balances(&h.cfg).unwrap();
    assert_eq!((b.len(), b[0].account), (1, GW));
    let btc = b[0].balances.iter().find(|b| b.asset == "BTC").unwrap();
    assert_eq!(btc.total(), qt_core::Notional::parse("1000").unwrap());
    let mut bad = h.cfg.clone();
    bad.accounts[0].2 = "d3Jvbmc=".into();
    assert!(qt_gateway::kraken::account::query_balances(&bad).unwrap_err().is_auth_rejected());
    h.stop();
}
