//! A live restart that continues (issue #15 item 7), over real sockets against the venue
//! simulator's Binance spot protocol: run 1 trades, its emergency stop is tripped with
//! `qt ess trigger`, and it is killed with SIGKILL; run 2 on the same journal restores before
//! it trades — the stop is still latched (no order leaves until `qt ess reset`), its position,
//! average price, realized PnL and fees are what the venue says run 1 left, nothing differs
//! when its open orders are reconciled — and its client order ids never repeat run 1's.

mod util;

use qt_core::{AccountId, ClientOrderId, Notional};
use qt_venue_sim::market::{AccountEvent, ExecKind, Market};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use util::binance::{figure_of, reconcile_line, venue};

/// Client order ids of the orders the venue accepted, in order (collected on a thread).
fn watch_new_orders(market: &Market) -> Arc<Mutex<Vec<String>>> {
    let rx = market.subscribe_account(AccountId(0)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    std::thread::spawn(move || {
        while let Ok(ev) = rx.recv() {
            if let AccountEvent::Order { exec: ExecKind::New, order } = &*ev {
                out.lock().unwrap().push(order.client_order_id.clone());
            }
        }
    });
    seen
}

/// `qt run` on `config` with its journal in `journal` (output piped), in a scratch cwd.
fn start(config: &Path, journal: &Path) -> (Child, util::Scratch) {
    let (mut cmd, cwd) = util::qt_command();
    let child = cmd
        .args(["run", "--duration", "120s", "--config"])
        .arg(config)
        .arg("--journal")
        .arg(journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, cwd)
}

/// `qt ess <args> --config config`, retried until the engine answers (up to 30 s).
fn ess(config: &Path, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut all = vec!["ess"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", config.to_str().unwrap()]);
        let (code, out, err) = util::qt(&all);
        if code == 0 {
            return out;
        }
        assert!(Instant::now() < deadline, "qt ess {args:?}: {out}{err}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn total(market: &Market, asset: &str) -> Notional {
    let b = market.balances(AccountId(0)).into_iter().find(|b| b.asset == asset).unwrap();
    b.free.checked_add(b.locked).unwrap()
}

/// The value after `label ` in `line` (up to the next comma or space).
fn field<'a>(line: &'a str, label: &str) -> &'a str {
    let rest = line.split_once(&format!("{label} ")).unwrap_or_else(|| panic!("{label} in {line}")).1;
    rest.split([',', ' ']).next().unwrap()
}

#[test]
fn a_restart_after_sigkill_keeps_the_stop_latched_and_restores_positions() {
    let (mut server, market, path) = venue("restart");
    let dir = util::temp_dir("restart");
    let secret = dir.join("ess.secret");
    util::write_secret(&secret, "the-secret-of-the-restart-test");
    let config = dir.join("live.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = format!(
        "{text}\n[ess]\nreset_secret_file = {:?}\ncontrol_socket = {:?}\n",
        secret.display().to_string(),
        dir.join("qt.sock").display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let journal = dir.join("journal");
    let orders = watch_new_orders(&market);

    // Run 1: trades, then the stop is tripped and latches; then SIGKILL.
    let (mut run1, _cwd1) = start(&config, &journal);
    let start_btc = Notional::parse("10").unwrap();
    wait_until("run 1 to trade", 30, || total(&market, "BTC") != start_btc);
    let out = ess(&config, &["trigger", "--reason", "restart test"]);
    assert!(out.contains("TRIGGERED"), "{out}");
    wait_until("the stop to latch", 10, || ess(&config, &["status"]).contains("ess latched"));
    // Its flatten orders settle at the venue: the position is flat again (otherwise the stop
    // keeps flattening after the restart — reduce-only orders it must send, which would make
    // "nothing leaves while latched" depend on when the kill fell).
    wait_until("the flatten to fill", 20, || total(&market, "BTC") == start_btc);
    wait_until("no order open at the venue", 10, || market.open_orders(AccountId(0), None).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    run1.kill().unwrap();
    run1.wait().unwrap();
    let run1_orders = orders.lock().unwrap().clone();
    assert!(!run1_orders.is_empty());
    let after_run1 = venue_view(&market);

    // Run 2 on the same journal: restored, still latched, nothing leaves.
    let (run2, _cwd2) = start(&config, &journal);
    let status = ess(&config, &["status"]);
    assert!(status.contains("ess latched (source manual)"), "{status}");
    std::thread::sleep(Duration::from_secs(2));
    let seen = orders.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        run1_orders.len(),
        "an order left while the stop was latched: {seen:?} after {run1_orders:?}"
    );
    let out = ess(&config, &["reset", "--operator", "alice"]);
    assert!(out.contains("reset by alice"), "{out}");
    // Once reset, it trades again — with client order ids run 1 never used.
    wait_until("run 2 to send an order", 20, || orders.lock().unwrap().len() > run1_orders.len());
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("kill").args(["-TERM", &run2.id().to_string()]).status().unwrap().success());
    let out = run2.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));

    // Its counts are its own, not the replayed run's.
    assert_eq!(figure_of(&stdout, "orders", "sent"), figure_of(&stdout, "gateway", "sent"), "{stdout}");
    let all = orders.lock().unwrap().clone();
    let run2_orders = &all[run1_orders.len()..];
    for id in run2_orders {
        assert!(!run1_orders.contains(id), "client order id {id} was used by run 1 too");
        let (run, order) = ClientOrderId::parse(id).unwrap();
        let (run1_run, _) = ClientOrderId::parse(&run1_orders[0]).unwrap();
        assert_eq!(run, run1_run, "one run id per journal");
        assert!(order.0 > 1 << 40, "run 2 numbers its orders in its own range: {id}");
    }

    // The summary's restore section: one earlier run, the stop latched, the position as the
    // venue says run 1 left it, and nothing different at the venue.
    check_restored(&stdout, 1, "ess latched", after_run1);
    // And this run's own trading reconciles with the venue from where the restore left off.
    assert_eq!(reconcile_line(&stdout, "positions vs venue base-asset balances"), (1, 0), "{stdout}");
    assert_eq!(reconcile_line(&stdout, "balances vs venue").1, 0, "{stdout}");

    // Run 3 restores both runs — run 2's reset and its orders in their own id range included —
    // to what the venue says after run 2, with the stop armed.
    let after_run2 = venue_view(&market);
    let (run3, _cwd3) = start(&config, &journal);
    let status = ess(&config, &["status"]);
    assert!(status.contains("ess armed"), "{status}");
    assert!(Command::new("kill").args(["-TERM", &run3.id().to_string()]).status().unwrap().success());
    let out = run3.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    check_restored(&stdout, 2, "ess armed", after_run2);
    assert!(stdout.contains(&format!("next order id {}", (2u64 << 40) + 1)), "{stdout}");
    server.shutdown();
    // The three runs' journal — a SIGKILL, a latched stop, a reset, settled orders, two
    // restarts — replays with every decision equal.
    util::assert_replays(&journal);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the venue says the engine's trading left: (BTC change, USDT change, fees charged).
fn venue_view(market: &Market) -> (Notional, Notional, Notional) {
    let fees = market
        .account_trades(AccountId(0), 0)
        .iter()
        .fold(Notional::ZERO, |acc, t| acc.checked_add(t.fill.fee).unwrap());
    let btc = total(market, "BTC").checked_sub(Notional::parse("10").unwrap()).unwrap();
    let usdt = total(market, "USDT").checked_sub(Notional::parse("1000000").unwrap()).unwrap();
    (btc, usdt, fees)
}

/// The summary's restore lines: `runs` earlier runs replayed to the risk state `ess` without
/// forcing it, the loss windows opened by run 1 (at the example's starting capital, 10000),
/// the position exactly as `venue` says (quantity, cash moved, fees), no order difference.
fn check_restored(stdout: &str, runs: u64, ess: &str, venue: (Notional, Notional, Notional)) {
    let restore: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with("restore ")).collect();
    let head = format!("restored {runs} earlier run(s)");
    assert!(restore.iter().any(|l| l.contains(&head) && l.contains(ess)), "{stdout}");
    assert!(!stdout.contains("FORCED"), "the replay itself reached the stop's state: {stdout}");
    assert!(!stdout.contains("CONFIGURATION CHANGED"), "{stdout}");
    let windows = restore.iter().find(|l| l.contains("restored loss windows account alpha")).unwrap();
    assert!(windows.contains("day reference 10000 floor") && windows.ends_with("Ok"), "{windows}");
    let pos = restore.iter().find(|l| l.contains("restored position account 0")).unwrap_or_else(|| panic!("{stdout}"));
    let qty: i64 = field(pos, "qty").parse().unwrap();
    assert_eq!(Notional::from_scaled(i128::from(qty), 5).unwrap(), venue.0, "{pos}");
    assert_eq!(Notional::parse(field(pos, "cash")).unwrap(), venue.1, "{pos}");
    assert_eq!(Notional::parse(field(pos, "fees")).unwrap(), venue.2, "{pos}");
    assert!(restore.iter().any(|l| l.contains("reconcile orders: 0 open") && l.contains(" 0 differences")), "{stdout}");
}

/// A killed run's orders, settled with the venue at the restart: one still working is
/// cancelled; one the venue filled while we were down gets its fills with the venue's own
/// commissions; one that never reached the venue is rejected.
#[test]
fn orders_a_killed_run_left_open_are_settled_with_the_venue() {
    use qt_core::orders::{LiveOrder, OrderStatus};
    use qt_core::{
        InstrumentId, InstrumentRegistry, OrderId, OrderRequest, OrderType, Price, Qty, RejectReason, ReportKind, Side,
        StrategyId, TimeInForce,
    };
    use qt_tools::gateways::{BINANCE, GatewaySetup};
    use qt_venue_sim::market::{ClientOrderRequest, OrderRef, OrderStatus as VenueStatus};

    let (mut server, market, path) = venue("settle");
    let addr = server.addr_of("binance").unwrap();
    let inst = market.instruments()[0].clone();
    let cfg = GatewaySetup {
        rest_url: format!("https://{addr}"),
        ws_url: format!("wss://{addr}"),
        ca_file: Some(path.parent().unwrap().join("ca.pem")),
        server_name: Some("localhost".into()),
        instruments: vec![inst.clone()],
        accounts: vec![(AccountId(0), "live-test-key".into(), "live-test-secret".into())],
        ..GatewaySetup::default()
    };
    const RUN: u32 = 0x5eed;
    let id = |n| ClientOrderId::new(RUN, OrderId(n)).as_str().to_string();
    let request = |side, order_type, tif, price: i64| OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side,
        order_type,
        tif,
        price: Price::from_units(price),
        qty: Qty::from_units(100),
        reduce_only: false,
        stop_price: None,
    };
    // 1: a buy far below the market, still working; 2: a buy that filled at once; 4: working,
    // but its run's journal lost it (not in the table below).
    let resting = request(Side::Buy, OrderType::Limit, TimeInForce::Gtc, 3_000_000);
    let taker = request(Side::Buy, OrderType::Market, TimeInForce::Ioc, 9_000_000);
    for (n, r) in [(1, &resting), (2, &taker), (4, &resting)] {
        let price = (r.order_type == OrderType::Limit).then_some(r.price);
        let req = ClientOrderRequest {
            client_order_id: Some(id(n)),
            side: r.side,
            order_type: r.order_type,
            tif: r.tif,
            price,
            qty: r.qty,
        };
        market.submit(AccountId(0), 0, req).unwrap();
    }
    let filled = market.order(AccountId(0), 0, &OrderRef::Client(id(2))).unwrap();
    assert_eq!(filled.status, VenueStatus::Filled);
    let venue_fees = market
        .account_trades(AccountId(0), 0)
        .iter()
        .filter(|t| t.venue_order_id == filled.venue_order_id)
        .fold(Notional::ZERO, |a, t| a.checked_add(t.fill.fee).unwrap());
    assert!(venue_fees > Notional::ZERO);

    // What the killed run's table held: 1 acknowledged, 2 and 3 not yet (3 never left).
    let live = |n, request, status| LiveOrder {
        id: OrderId(n),
        request,
        status,
        cum_qty: Qty::ZERO,
        venue_order_id: 0,
        sent_local_ns: qt_core::Nanos(0),
    };
    let open = [
        live(1, resting, OrderStatus::Working),
        live(2, taker, OrderStatus::PendingNew),
        live(3, resting, OrderStatus::PendingNew),
    ];
    let mut registry = InstrumentRegistry::new();
    registry
        .add(&qt_core::InstrumentSpec::spot(qt_core::Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001"))
        .unwrap();
    let mut report = qt_tools::restore::RestoreReport::default();
    let reports =
        qt_tools::restore::settle_open_orders(&open, &registry, &[(BINANCE.restore.unwrap(), cfg)], RUN, &mut report);

    let of = |n| reports.iter().filter(move |r| r.order_id == OrderId(n)).map(|r| r.kind).collect::<Vec<_>>();
    assert_eq!(of(1), [ReportKind::Canceled], "{reports:?}");
    let resting_now = market.order(AccountId(0), 0, &OrderRef::Client(id(1))).unwrap();
    assert_eq!(resting_now.status, VenueStatus::Canceled, "cancelled at the venue");
    let kinds = of(2);
    assert_eq!(kinds[0], ReportKind::Accepted);
    assert!(kinds[1..].iter().all(|k| *k == ReportKind::Fill) && kinds.len() >= 2, "{kinds:?}");
    let fills: Vec<_> = reports.iter().filter(|r| r.order_id == OrderId(2) && r.kind == ReportKind::Fill).collect();
    let qty = fills.iter().fold(Qty::ZERO, |a, f| a.checked_add(f.last_qty).unwrap());
    let fees = fills.iter().fold(Notional::ZERO, |a, f| a.checked_add(f.fee).unwrap());
    assert_eq!((qty, fees), (Qty::from_units(100), venue_fees), "the venue's own commissions");
    assert_eq!(fills.last().unwrap().leaves_qty, Qty::ZERO);
    assert_eq!(of(3), [ReportKind::Rejected(RejectReason::Other)]);
    assert!(of(4).is_empty(), "no order of ours to report on");
    let orphan = market.order(AccountId(0), 0, &OrderRef::Client(id(4))).unwrap();
    assert_eq!(orphan.status, VenueStatus::Canceled, "an order the journal lost is cancelled at the venue");
    assert_eq!(
        (report.open, report.cancelled, report.left_open, report.orphans, report.differences),
        (3, 1, 0, 1, 3),
        "{:?}",
        report.lines()
    );
    assert!(
        report.lines().iter().any(|l| l.contains("FILLED at the venue while we were down")),
        "{:?}",
        report.lines()
    );
    server.shutdown();
}
