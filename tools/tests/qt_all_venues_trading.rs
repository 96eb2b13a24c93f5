//! Trading on all six venues at once, as a user runs it (issue #20): `qt venue-sim` serving every
//! protocol (`examples/venue-sim-all.toml`, on free ports) and `qt run` on
//! `examples/all-venues-trading-venue-sim.toml` — four accounts with their own keys and venue
//! chains, seven strategies — for a few seconds. Every venue's gateway fills orders (Binance
//! spot and USD-M, Bybit, OKX, KuCoin, Kraken, Firi), nothing is refused, and the run's
//! reconciliation with the venues finds no difference.

mod util;

use std::path::{Path, PathBuf};

/// Each venue and the port the examples give it.
const VENUES: [(&str, u16); 7] = [
    ("binance", 9443),
    ("bybit", 9444),
    ("binance_usdm", 9445),
    ("kucoin", 9446),
    ("firi", 9447),
    ("okx", 9448),
    ("kraken", 9449),
];

type Sim = util::venue_sim::VenueSimProcess;

/// `qt venue-sim` on `examples/venue-sim-all.toml` with free ports and its CA file in `dir`.
fn start_sim(dir: &Path) -> Sim {
    let mut text = include_str!("../../examples/venue-sim-all.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", "ca_file = \"ca.pem\"");
    for (_, port) in VENUES {
        text = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:0");
    }
    Sim::start(dir, &text)
}

/// The trading example pointing at `sim`: its ports and CA file, strategies that trade often,
/// reconciliation every second, a gentle idle policy (the test machine has two cores) and the
/// journal in `dir`.
fn run_config(sim: &Sim, dir: &Path) -> PathBuf {
    let mut text = include_str!("../../examples/all-venues-trading-venue-sim.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", sim.ca.display().to_string()))
        // 150 ms between a strategy's orders: within every venue's per-account order limit
        // (Bybit's 10 a second is the tightest), so no order is refused for pace.
        .replace("cooldown = \"200ms\"", "cooldown = \"150ms\"")
        .replace("threshold = \"0.6\"", "threshold = \"0.2\"")
        .replace("reconcile_every = \"60s\"", "reconcile_every = \"1s\"")
        // Start-up routes an order to the next venue of its chain while the first one's book is
        // not valid yet; orders return a second after it is (the example waits 10 s), so every
        // venue trades within the short run.
        .replace("return_after = \"10s\"", "return_after = \"1s\"")
        .replace(
            "idle = { kind = \"spin_yield\", spins = 10000 }",
            "idle = { kind = \"backoff\", spins = 100, yields = 10, max_sleep_us = 200 }",
        );
    for (venue, port) in VENUES {
        text = text.replace(&format!("127.0.0.1:{port}"), &sim.addrs[venue].to_string());
    }
    text.push_str(&format!("\n[journal]\ndir = {:?}\n", dir.join("journal").display().to_string()));
    let path = dir.join("all-venues-trading.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `fills` figure of `venue`'s `gateway` line in the summary.
fn gateway_fills(summary: &str, venue: &str) -> u64 {
    let prefix = format!("{venue}: sent ");
    let line = summary
        .lines()
        .find(|l| l.contains(&prefix))
        .unwrap_or_else(|| panic!("no gateway line for {venue}: {summary}"));
    let rest = line.split_once(" fills ").unwrap_or_else(|| panic!("{line}")).1;
    rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

#[test]
fn every_venue_fills_orders_of_its_accounts_and_reconciles() {
    let dir = std::env::temp_dir().join(format!("qt-all-venues-trading-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sim = start_sim(&dir);
    let path = run_config(&sim, &dir);
    let (mut cmd, _cwd) = util::binance::qt_run_for(&path, "12s");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for (venue, _) in VENUES {
        assert!(gateway_fills(&stdout, venue) > 0, "{venue} filled nothing:\n{stdout}");
    }
    assert_eq!(util::binance::figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");
    let (compared, differences) = util::binance::reconcile_line(&stdout, "balances vs venue");
    assert!(compared >= 4 && differences == 0, "{stdout}");
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}
