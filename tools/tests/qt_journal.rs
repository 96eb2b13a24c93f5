//! `qt journal stats|dump|tail` on a journal written with the real writer: counts, JSON lines,
//! filters (type, sequence, account), damage reported (where) instead of hidden, and a `tail
//! --follow` child process following a writer in this process across segment rolls.

use qt_core::risk_api::{DecisionInputs, DecisionRecord, RiskDecision};
use qt_core::{
    AccountId, EventKind, ExecutionReport, InstrumentId, MarketEvent, Nanos, OrderCommand, OrderId, OrderRequest,
    OrderType, Price, Qty, ReportKind, Side, StrategyId, TimeInForce, VenueId,
};
use qt_recorder::{Entry, JournalConfig, JournalWriter, Payload, RecordType};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod util;
use util::{qt, temp_dir};

/// 40 market events (payload v1) and 2 config records (raw text), committed; returns the
/// sequence of the first market event.
fn write_journal(dir: &Path) -> u64 {
    let config = JournalConfig { segment_size: 4096, ..JournalConfig::default() };
    let mut w = JournalWriter::open(dir, config).unwrap();
    let mut first = 0;
    let config_text = |text: &str| qt_recorder::payload::text::encode(RecordType::Config, text);
    fn raw(payload: &[u8], ts: i64) -> Entry<'_> {
        Entry { kind: RecordType::Config, payload_version: 1, domain_ts_ns: ts, mono_ts_ns: ts, payload }
    }
    let (hello, bye) = (config_text("[engine]\ncpu = 1\n"), config_text("bye"));
    w.append(raw(&hello, 1)).unwrap();
    for k in 0..40i64 {
        let mut ev = MarketEvent::new(
            InstrumentId(0),
            EventKind::BookDelta,
            if k % 2 == 0 { Side::Buy } else { Side::Sell },
            Price::from_units(65_000 + k),
            Qty::from_units(k + 1),
        );
        ev.local_ns = qt_core::Nanos(1_000 + k);
        let mut buf = [0u8; qt_recorder::payload::MAX_LEN];
        let len = ev.encode(&mut buf).unwrap();
        let seq = w
            .append(Entry {
                kind: RecordType::MarketEvent,
                payload_version: MarketEvent::VERSION,
                domain_ts_ns: 1_000 + k,
                mono_ts_ns: 2_000 + k,
                payload: &buf[..len],
            })
            .unwrap();
        if k == 0 {
            first = seq;
        }
    }
    w.append(raw(&bye, 9_999)).unwrap();
    w.commit().unwrap();
    first
}

#[test]
fn stats_and_dump_read_what_the_writer_committed() {
    let dir = temp_dir("journal-read");
    let first = write_journal(&dir);
    let d = dir.to_str().unwrap();
    let (code, out, err) = qt(&["journal", "stats", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("records 42") && out.contains("market_event") && out.contains("intact"), "{out}");
    assert!(out.contains("segments 2") || out.contains("segments 3"), "4 KiB segments roll: {out}");
    assert!(out.contains("time      1 .. 9999 ns"), "{out}");

    let (code, out, err) = qt(&["journal", "dump", d, "--json"]);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 42);
    assert_eq!(lines[1]["type"], "market_event");
    assert!(lines[1]["payload"].as_str().unwrap().contains("65000"), "decoded: {}", lines[1]);
    let config = lines[0]["payload"].as_str().unwrap();
    assert!(config.starts_with("sha256 ") && config.contains("cpu = 1"), "the configuration and its hash: {config}");

    let from = (first + 10).to_string();
    let to = (first + 14).to_string();
    let (code, out, _) = qt(&["journal", "dump", d, "--type", "market_event", "--from", &from, "--to", &to]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 5, "{out}");
    let (code, _, err) = qt(&["journal", "dump", d, "--type", "trades"]);
    assert!(code != 0 && err.contains("unknown record type \"trades\"") && err.contains("market_event"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_is_reported_with_its_place_and_nothing_after_it_is_shown() {
    let dir = temp_dir("journal-flip");
    write_journal(&dir);
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "qtj"))
        .collect();
    segments.sort();
    // A byte inside the tenth frame's payload of the first segment.
    let mut bytes = std::fs::read(&segments[0]).unwrap();
    let at = 128 + 10 * 104 + 50;
    bytes[at] ^= 0x40;
    std::fs::write(&segments[0], &bytes).unwrap();
    let d = dir.to_str().unwrap();
    let (code, out, err) = qt(&["journal", "stats", d]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("DAMAGE") && out.contains("segment 0") && out.contains("offset"), "{out}");
    assert!(err.contains("damaged"), "{err}");
    let (code, out, err) = qt(&["journal", "dump", d]);
    assert_ne!(code, 0);
    assert!(out.lines().count() < 42 && err.contains("corrupt"), "{out}{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_checked_in_v1_journal_reads_intact() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recorder/testdata/journal-v1");
    let (code, out, err) = qt(&["journal", "stats", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact"), "{out}");
}

/// Appends `value` as a record of its payload type (domain and monotonic time = `ts`).
fn append<P: Payload>(w: &mut JournalWriter, value: &P, ts: i64) -> u64 {
    let mut buf = [0u8; qt_recorder::payload::MAX_LEN];
    let len = value.encode(&mut buf).unwrap();
    let entry = Entry {
        kind: P::RECORD_TYPE,
        payload_version: P::VERSION,
        domain_ts_ns: ts,
        mono_ts_ns: ts,
        payload: &buf[..len],
    };
    w.append(entry).unwrap()
}

fn market_event(k: i64) -> MarketEvent {
    MarketEvent::new(InstrumentId(0), EventKind::Trade, Side::Buy, Price::from_units(65_000 + k), Qty::from_units(1))
}

fn request(account: u16) -> OrderRequest {
    OrderRequest {
        account: AccountId(account),
        strategy: StrategyId(1),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: Price::from_units(65_000),
        qty: Qty::from_units(3),
        reduce_only: false,
        stop_price: None,
    }
}

/// Returns the sequences of the records of account 7, in order.
fn write_accounts_journal(dir: &Path) -> Vec<u64> {
    let mut w = JournalWriter::open(dir, JournalConfig { segment_size: 4096, ..JournalConfig::default() }).unwrap();
    let mut of_7 = Vec::new();
    for account in [7u16, 8, 7] {
        let req = request(account);
        let inputs = DecisionInputs::default();
        let decision = DecisionRecord::new(&req, RiskDecision::Allow, &inputs, Nanos(1), Nanos(2));
        let id = OrderId(u64::from(account) * 100);
        let seqs = [
            append(&mut w, &market_event(i64::from(account)), 1),
            append(&mut w, &decision, 2),
            append(&mut w, &OrderCommand::New { order_id: id, request: req, sent_local_ns: Nanos(3) }, 3),
            append(&mut w, &ExecutionReport::status(id, &req, VenueId(1), ReportKind::Accepted, Nanos(4)), 4),
            append(&mut w, &OrderCommand::Cancel { order_id: id, account: req.account, instrument: req.instrument }, 5),
            append(&mut w, &OrderCommand::CancelAll { account: req.account, instrument: None }, 6),
        ];
        if account == 7 {
            of_7.extend_from_slice(&seqs[1..]);
        }
    }
    w.commit().unwrap();
    of_7
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

fn seqs(lines: &[serde_json::Value]) -> Vec<u64> {
    lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect()
}

#[test]
fn the_account_filter_keeps_that_accounts_commands_reports_and_decisions_only() {
    let dir = temp_dir("journal-account");
    let of_7 = write_accounts_journal(&dir);
    let d = dir.to_str().unwrap();
    let (code, out, err) = qt(&["journal", "dump", d, "--json", "--account", "7"]);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    assert_eq!(seqs(&lines), of_7, "{out}");
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types[..5], ["risk_decision", "order_command", "execution_report", "order_command", "order_command"]);
    assert!(lines.iter().all(|l| !l["payload"].as_str().unwrap().contains("AccountId(8)")), "{out}");
    // Combined with the type filter; an account nobody has: nothing, and still success.
    let (code, out, _) = qt(&["journal", "dump", d, "--account", "8", "--type", "execution_report"]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    let (code, out, _) = qt(&["journal", "dump", d, "--account", "9"]);
    assert_eq!((code, out.as_str()), (0, ""));
    // tail takes the same filter: the last two of account 7.
    let (code, out, err) = qt(&["journal", "tail", d, "--json", "-n", "2", "--account", "7"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(seqs(&json_lines(&out)), of_7[of_7.len() - 2..]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tail_prints_the_last_records_or_from_a_sequence_like_dump() {
    let dir = temp_dir("journal-tail");
    let first = write_journal(&dir);
    let d = dir.to_str().unwrap();
    let (code, dumped, _) = qt(&["journal", "dump", d]);
    assert_eq!(code, 0);
    let dumped: Vec<&str> = dumped.lines().collect();
    let (code, out, err) = qt(&["journal", "tail", d]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), dumped[dumped.len() - 10..], "the same lines as dump");
    // Across the 4 KiB segments: the last 30 span more than the last segment.
    let (code, out, _) = qt(&["journal", "tail", d, "--json", "-n", "30"]);
    assert_eq!(code, 0);
    assert_eq!(seqs(&json_lines(&out)), (first + 11..=first + 40).collect::<Vec<_>>());
    let (code, out, _) = qt(&["journal", "tail", d, "-n", "100"]);
    assert_eq!((code, out.lines().count()), (0, 42), "fewer than N: all of them");
    let (code, out, _) = qt(&["journal", "tail", d, "-n", "0"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let from = (first + 35).to_string();
    let (code, out, _) = qt(&["journal", "tail", d, "--json", "--from", &from]);
    assert_eq!(code, 0);
    assert_eq!(seqs(&json_lines(&out)), (first + 35..=first + 40).collect::<Vec<_>>());
    let (code, out, _) = qt(&["journal", "tail", d, "--json", "-n", "3", "--type", "market_event"]);
    assert_eq!(code, 0);
    assert_eq!(seqs(&json_lines(&out)), [first + 37, first + 38, first + 39]);
    let missing = dir.join("nothing-here");
    let (code, _, err) = qt(&["journal", "tail", missing.to_str().unwrap()]);
    assert!(code != 0 && err.contains("nothing-here"), "without --follow a missing journal is an error: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `qt journal tail` child with its stdout lines sent to a channel.
struct TailChild {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl TailChild {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qt"))
            .args(["journal", "tail"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("qt runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The sequences of the next `n` JSON lines (a generous deadline per line: the machine is shared).
    fn next_seqs(&self, n: usize) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let line =
                    self.lines.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|e| panic!("line {i} of {n}: {e}"));
                let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
                v["seq"].as_u64().unwrap()
            })
            .collect()
    }

    /// SIGTERM, then the exit code (within a generous deadline).
    fn terminate(mut self) -> Option<i32> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        for _ in 0..200 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("qt journal tail --follow did not stop on SIGTERM");
    }
}

#[test]
fn tail_follow_prints_records_committed_after_it_started_across_segment_rolls() {
    let dir = temp_dir("journal-follow");
    let jdir = dir.join("journal");
    let mut w = JournalWriter::open(&jdir, JournalConfig { segment_size: 4096, ..JournalConfig::default() }).unwrap();
    for k in 0..5 {
        append(&mut w, &market_event(k), k);
    }
    w.commit().unwrap();
    let tail = TailChild::spawn(&[jdir.to_str().unwrap(), "--follow", "--json", "-n", "3"]);
    assert_eq!(tail.next_seqs(3), [3, 4, 5], "the last 3 first");
    // Now it is following: batches committed one by one, rolling 4 KiB segments (~38 records each).
    let mut next = 6;
    for batch in 0..20u64 {
        let start = next;
        for _ in 0..=batch % 7 {
            next = append(&mut w, &market_event(next as i64), next as i64) + 1;
        }
        w.commit().unwrap();
        assert_eq!(tail.next_seqs((next - start) as usize), (start..next).collect::<Vec<_>>(), "batch {batch}");
    }
    assert!(w.segment() >= 1, "the test must cross a segment roll (at segment {})", w.segment());
    // The writer rolls while the child waits on the sealed segment for the next file.
    let before = w.segment();
    let start = next;
    while w.segment() == before {
        next = append(&mut w, &market_event(next as i64), 0) + 1;
    }
    w.commit().unwrap();
    assert_eq!(tail.next_seqs((next - start) as usize), (start..next).collect::<Vec<_>>());
    assert_eq!(tail.terminate(), Some(0), "SIGTERM ends a follow quietly");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tail_follow_waits_for_a_journal_not_created_yet_and_ends_quietly_on_a_closed_pipe() {
    let dir = temp_dir("journal-follow-empty");
    let jdir = dir.join("later");
    let tail = TailChild::spawn(&[jdir.to_str().unwrap(), "--follow", "--json", "--from", "1"]);
    std::thread::sleep(Duration::from_millis(200));
    let mut w = JournalWriter::open(&jdir, JournalConfig { segment_size: 4096, ..JournalConfig::default() }).unwrap();
    for k in 0..50 {
        append(&mut w, &market_event(k), k);
    }
    w.commit().unwrap();
    assert_eq!(tail.next_seqs(50), (1..=50).collect::<Vec<_>>(), "every record from the first segment on");
    // The reader of the pipe goes away: the next records it writes end it, with status 0.
    let TailChild { mut child, lines } = tail;
    drop(lines);
    let mut status = None;
    for k in 0..400 {
        append(&mut w, &market_event(k), k);
        w.commit().unwrap();
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("tail --follow kept running into a closed pipe");
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tail_follow_sees_a_running_engines_records_as_they_are_committed() {
    let dir = temp_dir("journal-follow-engine");
    let (mut cmd, _cwd) = util::qt_command();
    let mut engine = cmd
        .args(["run", "--duration", "60s", "--pace", "realtime", "--journal", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The run's own folder appears under the journal directory.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let run = loop {
        if let Some(e) = std::fs::read_dir(&dir).unwrap().next() {
            break e.unwrap().path();
        }
        assert!(std::time::Instant::now() < deadline, "no run folder");
        std::thread::sleep(Duration::from_millis(20));
    };
    let tail = TailChild::spawn(&[run.to_str().unwrap(), "--follow", "--json", "--from", "1"]);
    let first = tail.next_seqs(1);
    assert_eq!(first, [1], "from the configuration record on");
    // Records keep arriving while the engine runs (real time: they are being written now).
    let seen = tail.next_seqs(2_000);
    assert_eq!(seen, (2..2_002).collect::<Vec<_>>(), "in order, none missing");
    assert!(engine.try_wait().unwrap().is_none(), "the engine is still running");
    let _ = engine.kill();
    let _ = engine.wait();
    let _ = tail.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}
