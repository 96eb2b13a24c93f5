//! The Kraken gateway's own pieces (issue #20): the nonce that never goes backwards, even
//! across a restart with the wall clock stepped back; Kraken's error texts → reject reasons;
//! the documented `executions` samples read exactly, with fills de-duplicated by `exec_id`;
//! and the gateway's signed REST requests (AddOrder, OpenOrders, CancelOrder,
//! CancelAllOrdersAfter, Balance, GetWebSocketsToken) accepted by the simulator's Kraken
//! protocol, whose answers the gateway's envelope reader reads.

use qt_core::{
    AccountId, ClientOrderId, Instrument, InstrumentId, OrderId, OrderRequest, OrderType, Qty, Rate, RejectReason,
    Side, StrategyId, TimeInForce, Venue,
};
use qt_gateway::kraken::errors::{is_auth_refusal, is_nonce_refusal, is_unknown_order, reject_reason};
use qt_gateway::kraken::executions::{ExecIds, ExecType, Frame, parse_frame};
use qt_gateway::kraken::nonce::{NonceError, NonceSource, RESERVE};
use qt_gateway::kraken::rest::{self, BodyError};
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
    let cl = ClientOrderId::new(7, OrderId(1));
    let req = order(Side::Buy, TimeInForce::Gtc, "30000", "0.01");
    let added = sim.call(rest::ADD_ORDER_PATH, |n| rest::add_order_body(n, &i, &req, &cl).unwrap()).unwrap();
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
    let cl2 = ClientOrderId::new(7, OrderId(2));
    let e = sim.call(rest::ADD_ORDER_PATH, |n| rest::add_order_body(n, &i, &big, &cl2).unwrap()).unwrap_err();
    assert_eq!(reject_reason(&e), RejectReason::InsufficientBalance, "{e}");
    // Post-only and IOC are written as Kraken's flags; FOK is not offered by REST AddOrder.
    let post = rest::add_order_body(1, &i, &order(Side::Sell, TimeInForce::PostOnly, "90000", "0.01"), &cl2).unwrap();
    assert!(post.contains("&oflags=post") && post.contains("&pair=BTC%2FUSDT"), "{post}");
    let fok = rest::add_order_body(1, &i, &order(Side::Sell, TimeInForce::Fok, "90000", "0.01"), &cl2);
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

/// The gateway's refresh schedule keeps the simulator's switch from firing while healthy; once
/// the engine is unhealthy (or gone) the refreshes stop and the venue cancels every order.
#[test]
fn kraken_dead_mans_switch_refreshed_while_healthy_fires_when_not() {
    use qt_gateway::kraken::dead_man::DeadMan;
    use std::time::{Duration, Instant};
    let mut sim = Sim::new();
    let i = inst();
    let req = order(Side::Buy, TimeInForce::Gtc, "30000", "0.01");
    let cl = ClientOrderId::new(9, OrderId(1));
    sim.call(rest::ADD_ORDER_PATH, |n| rest::add_order_body(n, &i, &req, &cl).unwrap()).unwrap();
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
