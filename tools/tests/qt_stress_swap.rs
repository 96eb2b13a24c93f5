//! `qt stress strategy_swap`: a strategy swapped mid-trade passes with the hand-over (and with
//! cancel-replace), fails naming the double-order check when the configuration under test
//! switches the hand-over off (testdata/stress/broken-swap.toml: `swap_policy = "drop"`), prints
//! JSON, and its journal — the swap included — replays identically with `qt replay`. And
//! `qt strategy swap` reaches a running `qt run` through its control socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod util;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn qt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qt")).args(args).current_dir(repo()).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_swap_with_the_hand_over_passes_every_check() {
    let out = qt(&["stress", "strategy_swap", "--short", "--no-stats"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("PASS strategy_swap"), "{t}");
    for check in [
        "swap carried out mid-trade",
        "position kept by the account",
        "no orphaned order",
        "no double order",
        "every open order tracked by the engine",
    ] {
        assert!(t.contains(&format!("[ok] {check}")), "{check}: {t}");
    }
    assert!(t.contains("(hand_over): 1 working order(s), 1 handed over"), "{t}");
}

#[test]
fn without_the_hand_over_it_fails_naming_the_double_order_check() {
    let out = qt(&["stress", "strategy_swap", "--short", "--no-stats", "--config", "testdata/stress/broken-swap.toml"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let verdict = t.lines().find(|l| l.starts_with("FAIL strategy_swap")).unwrap_or_else(|| panic!("{t}"));
    assert!(verdict.contains("no double order: at most 1 working at once before the swap, 2 after (limit 1)"), "{t}");
}

#[test]
fn cancel_replace_passes_and_the_json_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cancel-replace.toml");
    let broken = std::fs::read_to_string(repo().join("testdata/stress/broken-swap.toml")).unwrap();
    std::fs::write(&config, broken.replace("swap_policy = \"drop\"", "swap_policy = \"cancel_replace\"")).unwrap();
    let out = qt(&["stress", "strategy_swap", "--short", "--no-stats", "--json", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["scenario"], "strategy_swap");
    assert_eq!(v["passed"], true);
    let checks = v["verdict"]["checks"].as_array().unwrap();
    let orphan = checks.iter().find(|c| c["name"] == "no orphaned order").unwrap();
    assert!(orphan["detail"].as_str().unwrap().contains("(1 cancelled, 0 filled)"), "{orphan}");
}

#[test]
fn the_runs_journal_with_the_swap_replays_identically() {
    let out = qt(&["stress", "strategy_swap", "--short", "--no-stats", "--keep"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let scratch = t.lines().find_map(|l| l.strip_prefix("scratch (journals of each scenario): ")).unwrap();
    let journals = Path::new(scratch).join("strategy_swap/journal");
    let run = std::fs::read_dir(&journals).unwrap().next().unwrap().unwrap().path();
    let dump = qt(&["journal", "dump", run.to_str().unwrap()]);
    assert!(text(&dump).contains("StrategySwap"), "the swap is in the journal: {}", text(&dump));
    let replay = qt(&["replay", run.to_str().unwrap()]);
    let r = text(&replay);
    assert_eq!(replay.status.code(), Some(0), "{r}");
    let _ = std::fs::remove_dir_all(scratch);
}

#[test]
fn qt_strategy_swap_reaches_the_running_engine_and_the_summary_shows_it() {
    let dir = util::temp_dir("strategy-swap");
    let (config, socket) = util::ess_config(&dir, "the-secret-of-the-strategy-swap-test");
    let (child, _cwd) = util::start_engine_with_control(&config, &socket);
    let c = config.to_str().unwrap();
    let swap = |version: &str| {
        util::qt(&[
            "strategy",
            "swap",
            "alpha/eth-imbalance",
            "--version",
            version,
            "--param",
            "qty=0.250",
            "--config",
            c,
        ])
    };
    let (code, out, err) = swap("2");
    assert!(code == 0 && out.contains("version 1 -> 2 (hand_over)"), "{out}{err}");
    let (code, out, err) = swap("2");
    assert!(code == 1 && err.contains("must name a later version"), "a repeated swap is refused: {out}{err}");
    let (code, out, err) = util::qt(&["strategy", "swap", "nobody", "--version", "3", "--config", c]);
    assert!(code != 0 && err.contains("no strategy \"nobody\""), "{out}{err}");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
    let line = summary.lines().find(|l| l.trim_start().starts_with("swap ")).unwrap_or_else(|| panic!("{summary}"));
    assert!(line.contains("eth-imbalance (strategy 2) v1 -> v2") && line.contains("(hand_over)"), "{line}");
    assert!(line.ends_with("unchanged"), "{line}");
}
