//! `qt run` end to end, as a user runs it: the real binary, the embedded default, the summary.

use std::process::Command;

mod util;
use util::qt;

/// The number after `label` on the summary line starting with `line` (thousands separators removed).
fn figure(summary: &str, line: &str, label: &str) -> u64 {
    let l = summary
        .lines()
        .find(|l| l.trim_start().starts_with(line))
        .unwrap_or_else(|| panic!("no {line} line in:\n{summary}"));
    let rest = l.split_once(&format!(" {label} ")).unwrap_or_else(|| panic!("no {label} in {l}")).1;
    rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
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
    // The default journals every market record, decision, order and report.
    let records = out.lines().find(|l| l.trim_start().starts_with("journal")).unwrap();
    let records: u64 =
        records.split_once(" records ").unwrap().1.split(':').next().unwrap().replace(',', "").parse().unwrap();
    assert!(records > figure(&out, "market", "events") + decisions, "{out}");
    assert!(out.contains("dropped 0"), "{out}");
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
    // All three journal into the same directory: each simulated run writes a folder of its own
    // and never restores from an earlier one.
    let journal = util::temp_dir("same-seed-journal");
    let run = |seed: &str| {
        let args =
            ["run", "--duration", "20s", "--pace", "max", "--seed", seed, "--journal", journal.to_str().unwrap()];
        let (code, out, err) = qt(&args);
        assert_eq!(code, 0, "stderr: {err}");
        out
    };
    let (a, b, c) = (run("42"), run("42"), run("43"));
    assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 3, "one journal folder per run");
    let _ = std::fs::remove_dir_all(&journal);
    assert!(figure(&a, "orders", "fills") > 50, "{a}");
    assert_eq!(util::fills_digest(&a), util::fills_digest(&b), "same seed:\n{a}\n{b}");
    assert_eq!(figure(&a, "orders", "fills"), figure(&b, "orders", "fills"));
    assert_eq!(figure(&a, "market", "events"), figure(&b, "market", "events"));
    assert_ne!(util::fills_digest(&a), util::fills_digest(&c), "different seeds gave the same fills");
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
    assert_eq!(code, 2, "an unreadable configuration is a configuration problem");
    assert!(err.contains("/nonexistent/qt.toml"), "{err}");
}

#[test]
fn check_only_validates() {
    let (code, out, _) = qt(&["run", "--check"]);
    assert_eq!(code, 0);
    assert!(out.contains("configuration OK"));
}

/// `qt run` (simulated, real time, long) with stderr read on a thread; returns once the core
/// thread has started (its pinning line), so the signal handler is in place.
fn started_run() -> (std::process::Child, std::sync::mpsc::Receiver<String>, util::Scratch) {
    use std::io::BufRead;
    let (mut cmd, cwd) = util::qt_command();
    let mut child = cmd
        .args(["run", "--duration", "600s", "--pace", "realtime"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qt runs");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("core thread") => return (child, rx, cwd),
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the core thread never started");
            }
        }
    }
}

fn signal(child: &std::process::Child, sig: &str) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success(), "kill {sig} {pid}");
}

#[test]
fn sigterm_stops_cleanly_with_the_summary_and_exit_0() {
    let (child, stderr, _cwd) = started_run();
    std::thread::sleep(std::time::Duration::from_millis(500));
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    let log: Vec<String> = stderr.try_iter().collect();
    assert_eq!(out.status.code(), Some(0), "{summary}\n{}", log.join("\n"));
    assert!(figure(&summary, "market", "events") > 0, "{summary}");
    assert!(summary.contains("reconcile"), "{summary}");
    assert!(log.iter().any(|l| l.contains("stop requested")), "{}", log.join("\n"));
}

#[test]
fn a_second_signal_exits_at_once_without_the_summary() {
    let (child, _stderr, _cwd) = started_run();
    // Stopped, the process holds both signals pending (SIGINT and SIGTERM are distinct, so
    // they do not merge) and receives them back to back when continued: the second arrives
    // while the clean stop is under way.
    signal(&child, "-STOP");
    signal(&child, "-INT");
    signal(&child, "-TERM");
    signal(&child, "-CONT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(qt_tools::signals::EXIT_SECOND_SIGNAL), "{out:?}");
}

#[test]
fn a_journal_directory_that_cannot_be_written_stops_the_run_at_start() {
    let dir = util::temp_dir("journal-unwritable");
    let file = dir.join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let (code, out, err) = qt(&["run", "--duration", "1s", "--journal", file.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("journal: cannot open") && err.contains("--no-journal"), "{err}");
    assert!(!out.contains("run summary"), "nothing ran: {out}");
    // --no-journal runs without one.
    let (code, out, err) = qt(&["run", "--duration", "1s", "--pace", "max", "--no-journal"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("journal   off"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
