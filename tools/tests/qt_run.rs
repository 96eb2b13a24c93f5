//! `qt run` end to end, as a user runs it: the real binary, the embedded default, the summary.

use std::process::Command;

fn qt(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qt")).args(args).env("RUST_LOG", "warn").output().expect("qt runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `label` on the summary line starting with `line` (thousands separators removed).
fn figure(summary: &str, line: &str, label: &str) -> u64 {
    let l = summary
        .lines()
        .find(|l| l.trim_start().starts_with(line))
        .unwrap_or_else(|| panic!("no {line} line in:\n{summary}"));
    let rest = l.split_once(&format!(" {label} ")).unwrap_or_else(|| panic!("no {label} in {l}")).1;
    rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

fn digest(summary: &str) -> String {
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("fills digest "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn default_run_trades_on_the_simulated_venue_in_real_time() {
    let (code, out, err) = qt(&["run", "--duration", "5s"]);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(figure(&out, "market", "events") > 10_000, "{out}");
    assert!(figure(&out, "orders", "sent") > 0, "{out}");
    // Risk decisions by reason, the journal's count of them, and a clean reconciliation.
    let decisions = figure(&out, "journal", "decisions");
    assert!(decisions >= figure(&out, "orders", "sent"), "{out}");
    assert!(out.contains("ess       armed"), "{out}");
    assert!(out.contains(" 0 differences") && figure(&out, "reconcile", "ledger:") > 0, "{out}");
    assert!(figure(&out, "orders", "fills") > 0, "{out}");
    assert!(out.contains("tick→order ns  p50"), "{out}");
    for account in ["alpha", "beta"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(account) && l.contains("net PnL")),
            "{account} in {out}"
        );
    }
    assert!(out.contains("simulated 5.000 s"), "{out}");
}

#[test]
fn same_seed_same_fills_different_seed_different_fills() {
    let run = |seed: &str| {
        let (code, out, err) = qt(&["run", "--duration", "20s", "--pace", "max", "--seed", seed]);
        assert_eq!(code, 0, "stderr: {err}");
        out
    };
    let (a, b, c) = (run("42"), run("42"), run("43"));
    assert!(figure(&a, "orders", "fills") > 50, "{a}");
    assert_eq!(digest(&a), digest(&b), "same seed:\n{a}\n{b}");
    assert_eq!(figure(&a, "orders", "fills"), figure(&b, "orders", "fills"));
    assert_eq!(figure(&a, "market", "events"), figure(&b, "market", "events"));
    assert_ne!(digest(&a), digest(&c), "different seeds gave the same fills");
}

#[test]
fn bad_config_is_refused_naming_every_field() {
    let dir = std::env::temp_dir().join(format!("qt-bad-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    let text = qt_tools::config::EMBEDDED_DEFAULT
        .replace("tick_size = \"0.10\"", "tick_size = \"0.1x\"")
        .replace("max_order_notional = \"1000\"", "max_order_notional = \"-1000\"");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = qt(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("instruments[0].tick_size") && err.contains("0.1x"), "{err}");
    assert!(err.contains("accounts[1].overrides.max_order_notional") && err.contains("-1000"), "{err}");
    let (code, _, err) = qt(&["run", "--config", "/nonexistent/qt.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/qt.toml"), "{err}");
}

#[test]
fn check_only_validates() {
    let (code, out, _) = qt(&["run", "--check"]);
    assert_eq!(code, 0);
    assert!(out.contains("configuration OK"));
}
