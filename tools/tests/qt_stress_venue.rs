//! `qt stress` venue scenarios, short forms (issue #21 items 4 and 5): `exchange_outage`,
//! `stale_feed` and `ack_latency_spike` run live against the venue simulator in the `qt`
//! process. Each passes under testdata/stress/venue-short.toml (examples/sim.toml with the
//! outage trigger and the return to the primary short enough for a short run) and fails, naming
//! the check, under the broken configuration that switches its check off.
//!
//! The runs are live (real sockets, wall-clock faults): they run one at a time so that no two
//! compete for the two cores.

mod util;

use std::process::Output;
use std::sync::Mutex;

/// The risk configuration the short forms are judged under.
const SHORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/stress/venue-short.toml");

fn testdata(name: &str) -> String {
    format!("{}/../testdata/stress/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `qt stress SCENARIO --short --config CONFIG [extra]`, one at a time.
fn stress(scenario: &str, config: &str, extra: &[&str]) -> (Output, String) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (mut cmd, _cwd) = util::qt_command();
    let out = cmd.args(["stress", scenario, "--short", "--no-stats", "--config", config]).args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// Asserts a PASS with exit 0 and every named check printed as held.
fn assert_passes(scenario: &str, checks: &[&str]) {
    let (out, stdout) = stress(scenario, SHORT, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr (tail):\n{}", tail(&stderr));
    assert!(stdout.contains(&format!("PASS {scenario} (")), "{stdout}");
    for check in checks {
        assert!(stdout.contains(&format!("[ok] {check}: ")), "{check} held: {stdout}");
    }
}

/// Asserts a FAIL with exit 1 whose reason names `check` (the failed check's name and detail).
fn assert_fails_naming(scenario: &str, broken: &str, check: &str) -> String {
    let (out, stdout) = stress(scenario, &testdata(broken), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr (tail):\n{}", tail(&stderr));
    let line =
        stdout.lines().find(|l| l.starts_with(&format!("FAIL {scenario} ("))).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains(&format!("{check}: ")), "the reason names {check:?}: {line}");
    assert!(stdout.contains(&format!("[FAILED] {check}: ")), "{stdout}");
    stdout
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn exchange_outage_short_passes() {
    assert_passes(
        "exchange_outage",
        &[
            "failover: new orders move to the next venue of the chain",
            "no duplicate: every order accepted once, at the venue it was sent to",
            "outage trigger trips the ESS",
            "no order to a dead venue",
        ],
    );
}

#[test]
fn exchange_outage_fails_when_the_outage_trigger_waits_an_hour_and_says_so_in_json() {
    let (out, stdout) = stress("exchange_outage", &testdata("broken-outage-after.toml"), &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", tail(&String::from_utf8_lossy(&out.stderr)));
    let line = stdout.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{stdout}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["scenario"], "exchange_outage", "{v}");
    assert_eq!(v["passed"], false, "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.starts_with("outage trigger trips the ESS: "), "{reason}");
    assert!(reason.contains("did not trip"), "{reason}");
    let checks = v["verdict"]["checks"].as_array().unwrap();
    let failed: Vec<&str> =
        checks.iter().filter(|c| c["passed"] == false).map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(failed, ["outage trigger trips the ESS"], "only the switched-off check fails: {v}");
}

#[test]
fn stale_feed_short_passes() {
    assert_passes(
        "stale_feed",
        &[
            "sequence gap: book invalid, then resynced",
            "bad checksum: book invalid, then resynced",
            "resyncs counted",
            "no order on an invalid book",
            "book freshness: a stalled book is refused",
            "book freshness: no order on a book silent longer than max_mark_age",
        ],
    );
}

#[test]
fn stale_feed_fails_when_a_book_may_be_an_hour_old() {
    let stdout = assert_fails_naming("stale_feed", "broken-mark-age.toml", "book freshness: a stalled book is refused");
    assert!(stdout.contains("0 refused as book_stale"), "{stdout}");
}

#[test]
fn ack_latency_spike_short_passes() {
    assert_passes(
        "ack_latency_spike",
        &[
            "venue health falls with slow acks",
            "new orders re-routed or throttled",
            "nothing duplicated: every order accepted once, at the venue it was sent to",
        ],
    );
}

#[test]
fn ack_latency_spike_fails_when_the_ack_thresholds_are_out_of_reach() {
    let stdout =
        assert_fails_naming("ack_latency_spike", "broken-ack-health.toml", "venue health falls with slow acks");
    assert!(stdout.contains("stayed healthy through the"), "{stdout}");
}
