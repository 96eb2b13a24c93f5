//! Raw venue frames in the journal (issue #15 item 2): a live run against the venue simulator's
//! Binance spot protocol (real sockets) with `[journal] raw_frames = true` journals every frame
//! and REST snapshot body its feed decoded, and `qt feed-check --journal DIR --feed 0` runs
//! those bytes through the same decoder again: the same number of messages as the run's
//! summary counted for that connection, no gap, no checksum failure.

mod util;

use util::binance::{figure_of, venue};

/// The figure after `label` in the first line containing `line` (thousands separators dropped).
fn figure_in(text: &str, line: &str, label: &str) -> u64 {
    let l = text.lines().find(|l| l.contains(line)).unwrap_or_else(|| panic!("no {line:?} line in:\n{text}"));
    let rest = l.split_once(label).unwrap_or_else(|| panic!("no {label:?} in {l}")).1;
    let token = rest.split_whitespace().next().unwrap().trim_end_matches([',', ')', ':']);
    token.replace(',', "").parse().unwrap_or_else(|_| panic!("{token:?} after {label:?} in {l}"))
}

#[test]
fn a_live_runs_raw_frames_check_again_with_the_same_message_count() {
    let (_server, _market, path) = venue("raw-frames");
    let dir = util::temp_dir("raw-frames");
    let config = dir.join("live.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("[journal]"), "the live example grew a [journal] section: set raw_frames in it");
    std::fs::write(&config, format!("{text}\n[journal]\nraw_frames = true\n")).unwrap();
    let journal = dir.join("journal");

    let (mut cmd, _cwd) = util::qt_command();
    let out = cmd.args(["run", "--duration", "4s", "--config"]).arg(&config).arg("--journal").arg(&journal).output();
    let out = out.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let live_messages = figure_of(&stdout, "feed", "messages");
    assert!(live_messages > 10, "the feed decoded too little to compare: {stdout}");
    let written = figure_in(&stdout, "raw frames:", "written");
    assert_eq!(figure_in(&stdout, "raw frames:", "dropped"), 0, "{stdout}");
    assert!(written > live_messages, "every frame and at least one snapshot body: {stdout}");

    let dir_arg = journal.to_str().unwrap();
    let (code, listed, err) = util::qt(&["feed-check", "--journal", dir_arg]);
    assert_eq!(code, 0, "{listed}{err}");
    assert!(listed.contains(&format!("feed 0: binance BTCUSDT  raw frames {written}")), "{listed}");

    let (code, checked, err) = util::qt(&["feed-check", "--journal", dir_arg, "--feed", "0", "--quiet"]);
    assert_eq!(code, 0, "{checked}{err}");
    let summary = checked.lines().last().unwrap();
    assert_eq!(figure_in(summary, "messages", "messages"), live_messages, "{summary}\nrun:\n{stdout}");
    assert_eq!(figure_in(summary, "gaps", "gaps"), 0, "{summary}");
    assert_eq!(figure_in(summary, "checksum failures", "checksum failures"), 0, "{summary}");
    assert_eq!(figure_in(summary, "parse errors", "parse errors"), 0, "{summary}");
    assert!(summary.contains("valid books 1/1"), "{summary}");

    let (code, stats, err) = util::qt(&["journal", "stats", dir_arg]);
    assert_eq!(code, 0, "{stats}{err}");
    assert_eq!(figure_in(&stats, "raw_frame", "raw_frame"), written, "{stats}");

    let (code, dump, err) = util::qt(&["journal", "dump", dir_arg, "--type", "raw_frame"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(dump.lines().filter(|l| l.contains("raw_frame")).count() as u64, written, "{err}");
    let snapshot = dump.lines().find(|l| l.contains("rest_snapshot feed 0 symbol 0 len ")).expect("a snapshot body");
    assert!(snapshot.contains("lastUpdateId"), "{snapshot}");
    assert!(dump.lines().any(|l| l.contains("ws_text feed 0 len ") && l.contains("depthUpdate")), "frames as text");

    // RawFrame records are not engine inputs: the journal still replays equal.
    util::assert_replays(&journal);

    let (code, _, err) = util::qt(&["feed-check", "--journal", dir_arg, "--feed", "1"]);
    assert_ne!(code, 0);
    assert!(err.contains("no feed 1") && err.contains("feed 0: binance"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
