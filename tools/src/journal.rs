//! Thread `qt-journal`: drains the core's journal rings ([`qt_core::journal`]) into the
//! memory-mapped journal ([`qt_recorder::JournalWriter`]).
//!
//! Per batch (up to [`BATCH`] records, or whatever is in the ring, then as many raw venue
//! frames from the feeds' byte rings when `[journal] raw_frames` is on): encode each record
//! into a reused buffer ([`CoreEncoder`], no allocation), append it, then `commit` once — publishing
//! the committed position other processes follow — which flushes per the configured
//! [`qt_recorder::PersistMode`]. Idle, it waits by yielding, then short sleeps, and flushes an
//! interval that has come due.
//!
//! A write that fails (disk full at a segment roll, a failed msync, a record too large) is
//! logged once with the reason, raises the core's [`qt_core::journal::JournalHealth`] flag —
//! the core then refuses new strategy orders; cancels and the emergency stop keep working —
//! and the thread keeps draining so the core never blocks, counting what it could not write.
//! Ends when the stop flag is set and both rings are empty, or the core is gone; the writer is
//! handed back so the main thread can append the run's last records (reconciliation) and close.

use crate::config::Plan;
use anyhow::Context;
use qt_core::journal::{JournalEvent, JournalRings};
use qt_core::journal_raw::RawFrameRings;
use qt_core::risk_api::RiskState;
use qt_core::stats::blocks::JournalBlock;
use qt_core::stats::{Owner, StatsHandle, StatsRegion};
use qt_core::{BlockReason, DecisionRecord};
use qt_core::{Clock, WallClock};
use qt_recorder::payload::MAX_LEN;
use qt_recorder::payload::core_record::CoreEncoder;
use qt_recorder::payload::{raw, text};
use qt_recorder::{Entry, JournalConfig};
use qt_recorder::{JournalWriter, RecordType};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Records appended per commit at most.
pub const BATCH: usize = 4096;

/// What the journal thread did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records written (committed).
    pub records: u64,
    /// Records written per record type id.
    pub by_type: Vec<(RecordType, u64)>,
    /// Risk decisions written: allows.
    pub allow: u64,
    /// Scale-downs, by reason.
    pub scale_down: [u64; BlockReason::COUNT],
    /// Blocks, by reason.
    pub block: [u64; BlockReason::COUNT],
    /// Commits (batches).
    pub commits: u64,
    /// Records taken from the rings but not written because writing had failed.
    pub not_written: u64,
    /// The first write failure, if any.
    pub failure: Option<String>,
    /// Sequence the next record gets (the journal's length).
    pub next_sequence: u64,
    /// Raw venue frames (`[journal] raw_frames`): `None` when off, else (written, dropped by
    /// the core because their ring had no room).
    pub raw_frames: Option<(u64, u64)>,
}

impl JournalStats {
    fn count_type(&mut self, kind: RecordType) {
        self.records += 1;
        match self.by_type.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.by_type.push((kind, 1)),
        }
    }

    fn count(&mut self, kind: RecordType, event: &JournalEvent) {
        self.count_type(kind);
        if let JournalEvent::Decision(d) = event {
            let r = d.record(qt_core::Nanos(0), qt_core::Nanos(0));
            match (r.decision, r.block_reason()) {
                (DecisionRecord::ALLOW, _) => self.allow += 1,
                (DecisionRecord::SCALE_DOWN, Some(reason)) => self.scale_down[reason as usize] += 1,
                (DecisionRecord::BLOCK, Some(reason)) => self.block[reason as usize] += 1,
                _ => {}
            }
        }
    }

    /// Records of `kind` written.
    pub fn of_type(&self, kind: RecordType) -> u64 {
        self.by_type.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
    }

    /// Blocks of every reason.
    pub fn blocks(&self) -> u64 {
        self.block.iter().sum()
    }

    /// Scale-downs of every reason.
    pub fn scale_downs(&self) -> u64 {
        self.scale_down.iter().sum()
    }
}

/// The journal thread's state.
struct Drain {
    rings: JournalRings,
    writer: Option<JournalWriter>,
    encoder: CoreEncoder,
    buf: Box<[u8; MAX_LEN]>,
    stats: JournalStats,
    /// Raw venue frames' rings, their bytes and the payload being built (journal thread only).
    raw: Option<(RawFrameRings, Vec<u8>, Vec<u8>)>,
    /// This thread's block in the stats file.
    block: Option<StatsHandle<JournalBlock>>,
}

impl Drain {
    /// Takes up to [`BATCH`] records and commits them; the number taken.
    fn batch(&mut self) -> usize {
        let mut taken = 0;
        let mut appended = false;
        while taken < BATCH {
            let Ok(record) = self.rings.records.pop() else { break };
            taken += 1;
            let attachment =
                if record.event == JournalEvent::Attachment { self.rings.attachments.pop().ok() } else { None };
            let Some(writer) = &mut self.writer else {
                self.stats.not_written += 1;
                continue;
            };
            let result =
                self.encoder.encode(&record, attachment.as_ref(), &mut self.buf).map_err(|e| e.to_string()).and_then(
                    |entry| {
                        let (kind, span) = (entry.kind, qt_recorder::format::frame_span(entry.payload.len()));
                        writer.append(entry).map(|_| (kind, span)).map_err(|e| e.to_string())
                    },
                );
            match result {
                Ok((kind, span)) => {
                    self.stats.count(kind, &record.event);
                    if let Some(b) = &self.block {
                        b.records.incr();
                        b.bytes.add(span as u64);
                    }
                    appended = true;
                }
                Err(e) => {
                    self.fail(e);
                    self.stats.not_written += 1;
                }
            }
        }
        let (raw_taken, raw_appended) = self.raw_batch();
        taken += raw_taken;
        appended |= raw_appended;
        if appended && let Some(writer) = &mut self.writer {
            match writer.commit() {
                Ok(()) => {
                    self.stats.commits += 1;
                    if let Some(b) = &self.block {
                        b.commits.incr();
                    }
                }
                Err(e) => self.fail(e.to_string()),
            }
        }
        taken
    }

    /// Takes up to [`BATCH`] raw frames (round the feeds) and appends a RawFrame record each;
    /// (taken, appended any).
    fn raw_batch(&mut self) -> (usize, bool) {
        let Some((rings, bytes, payload)) = &mut self.raw else { return (0, false) };
        let (mut taken, mut appended, mut failure) = (0, false, None);
        'feeds: for feed in 0..rings.feeds() {
            while taken < BATCH {
                let Some(h) = rings.pop(feed, bytes) else { continue 'feeds };
                taken += 1;
                let Some(writer) = &mut self.writer else {
                    self.stats.not_written += 1;
                    continue;
                };
                let frame = raw::RawFrame { feed: h.feed, kind: h.kind, symbol: h.symbol, bytes };
                raw::encode(&frame, payload);
                let entry = Entry {
                    kind: RecordType::RawFrame,
                    payload_version: raw::VERSION,
                    domain_ts_ns: h.domain_ns.0,
                    mono_ts_ns: h.mono_ns.0,
                    payload,
                };
                match writer.append(entry) {
                    Ok(_) => {
                        self.stats.count_type(RecordType::RawFrame);
                        let counts = self.stats.raw_frames.get_or_insert((0, 0));
                        counts.0 += 1;
                        appended = true;
                    }
                    Err(e) => {
                        self.stats.not_written += 1;
                        failure = Some(e.to_string());
                        break 'feeds;
                    }
                }
            }
        }
        if let Some(why) = failure {
            self.fail(why);
        }
        (taken, appended)
    }

    /// Writing failed: say why once, stop trading through the core's flag, keep draining.
    #[cold]
    fn fail(&mut self, why: String) {
        if self.stats.failure.is_none() {
            log::error!(
                "journal: cannot write ({why}); new orders are refused from now on (cancels and the \
                 emergency stop keep working)"
            );
            self.stats.failure = Some(why);
            if let Some(b) = &self.block {
                b.write_failed.set(1);
            }
        }
        self.rings.health.fail();
        if let Some(w) = &self.writer {
            self.stats.next_sequence = w.next_sequence();
        }
        self.writer = None;
    }

    fn idle_flush(&mut self) {
        if let Some(writer) = &mut self.writer
            && let Err(e) = writer.flush_if_due()
        {
            self.fail(e.to_string());
        }
    }

    fn finish(mut self) -> (JournalStats, Option<JournalWriter>) {
        if let Some((rings, ..)) = &self.raw {
            let counts = self.stats.raw_frames.get_or_insert((0, 0));
            counts.1 = rings.dropped();
        }
        if let Some(writer) = &mut self.writer {
            if let Err(e) = writer.flush() {
                self.fail(e.to_string());
            } else {
                self.stats.next_sequence = writer.next_sequence();
            }
        }
        (self.stats, self.writer)
    }
}

/// Starts the journal thread. `writer: None` (the journal could not be opened, or a test that
/// only counts) drains and counts without writing. `initial` is the risk state the core's link
/// was attached with. `raw`: the live feeds' raw-frame rings (`[journal] raw_frames`), each
/// frame appended as a RawFrame record.
pub fn spawn(
    rings: JournalRings,
    writer: Option<JournalWriter>,
    initial: RiskState,
    stop: Arc<AtomicBool>,
    raw: Option<RawFrameRings>,
) -> std::io::Result<JournalThread> {
    spawn_with_stats(rings, writer, initial, stop, raw, None)
}

/// The journal thread's handle: its numbers and the writer come back when it ends.
pub type JournalThread = std::thread::JoinHandle<(JournalStats, Option<JournalWriter>)>;

/// [`spawn`], with the thread's records, bytes, commits and write failure counted in `stats`
/// (its own block, `journal_written_*`).
pub fn spawn_with_stats(
    rings: JournalRings,
    writer: Option<JournalWriter>,
    initial: RiskState,
    stop: Arc<AtomicBool>,
    raw: Option<RawFrameRings>,
    stats: Option<StatsRegion>,
) -> std::io::Result<JournalThread> {
    let block = stats.map(|r| r.block_or_private::<JournalBlock>(Owner::Journal, &[]));
    std::thread::Builder::new().name("qt-journal".into()).spawn(move || {
        let next_sequence = writer.as_ref().map_or(0, JournalWriter::next_sequence);
        let mut drain = Drain {
            rings,
            writer,
            encoder: CoreEncoder::new(initial),
            buf: Box::new([0u8; MAX_LEN]),
            stats: JournalStats { next_sequence, raw_frames: raw.as_ref().map(|_| (0, 0)), ..JournalStats::default() },
            raw: raw.map(|r| (r, Vec::new(), Vec::new())),
            block,
        };
        let mut idle = 0u32;
        loop {
            if drain.batch() > 0 {
                idle = 0;
                continue;
            }
            if drain.rings.records.is_abandoned() || stop.load(Ordering::Acquire) {
                while drain.batch() > 0 {}
                return drain.finish();
            }
            idle = idle.saturating_add(1);
            if idle < 64 {
                std::hint::spin_loop();
            } else if idle < 256 {
                std::thread::yield_now();
            } else {
                drain.idle_flush();
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    })
}

/// A run's journal: where it is and its writer, opened (and the configuration journaled)
/// before any thread starts, so an unwritable directory or a full disk stops the run at once.
#[derive(Debug)]
pub struct OpenJournal {
    /// The journal directory of this run.
    pub dir: PathBuf,
    /// The writer, with the Config record appended and committed.
    pub writer: JournalWriter,
    /// What opening found (a continued journal, a torn tail removed).
    pub report: qt_recorder::OpenReport,
    /// This run's Config record: every earlier record belongs to earlier runs (what a live
    /// restart restores from, [`crate::restore`]).
    pub config_sequence: u64,
    /// The journal's id ([`JournalWriter::journal_id`]), the same for every run continuing it.
    pub journal_id: u64,
}

/// Opens the journal of a run of `plan` (`None` if journaling is off). A simulated run gets a
/// fresh folder of its own under the journal directory; a live run continues the journal in
/// the directory itself. The configuration text and its hash are the first record.
pub fn open_for_run(plan: &Plan) -> anyhow::Result<Option<OpenJournal>> {
    let Some(j) = &plan.journal else { return Ok(None) };
    let dir = if plan.is_live() { j.dir.clone() } else { j.dir.join(run_folder_name()) };
    let config = JournalConfig { segment_size: j.segment_size, persist: j.persist, ..JournalConfig::default() };
    let mut writer = JournalWriter::open(&dir, config).with_context(|| {
        format!("journal: cannot open {} (set [journal] dir, or --no-journal for a throwaway run)", dir.display())
    })?;
    let report = writer.open_report();
    if let Some(t) = &report.torn_tail {
        log::warn!(
            "journal {}: a torn tail was removed at segment {} offset {} (sequence {}): {}",
            dir.display(),
            t.segment,
            t.offset,
            t.sequence,
            t.reason
        );
    }
    // A simulated run's records carry simulated time; its Config record too.
    let now = if plan.is_live() { WallClock.now() } else { plan.sim.start };
    let config_sequence = append_text(&mut writer, &dir, RecordType::Config, now, &plan.source_text)?;
    log::info!(
        "journal: {} {} (next sequence {})",
        if report.continued { "continuing" } else { "writing" },
        dir.display(),
        writer.next_sequence()
    );
    let journal_id = writer.journal_id();
    Ok(Some(OpenJournal { dir, writer, report, config_sequence, journal_id }))
}

/// Appends a text record (Config or Reconciliation, [`text`]) holding `text` at domain time
/// `at` and commits it; its sequence.
pub fn append_text(
    writer: &mut JournalWriter,
    dir: &std::path::Path,
    kind: RecordType,
    at: qt_core::Nanos,
    text: &str,
) -> anyhow::Result<u64> {
    let payload = text::encode(kind, text);
    writer
        .append(Entry {
            kind,
            payload_version: text::VERSION,
            domain_ts_ns: at.0,
            mono_ts_ns: qt_core::sys::mono_now().0,
            payload: &payload,
        })
        .and_then(|seq| writer.commit().map(|()| seq))
        .with_context(|| format!("journal: cannot write to {}", dir.display()))
}

/// Keys whose values are credentials: never journaled.
const SECRET_KEYS: [&str; 3] = ["api_key", "secret", "passphrase"];

/// The configuration as journaled: verbatim (comments and all) unless it holds a credential
/// inline (`api_key`, `secret`, `passphrase`), which is replaced by `"<redacted>"` (the document is then
/// re-serialized). Replay needs no credential: it talks to no venue.
pub fn redacted_config(text: &str) -> String {
    fn redact(v: &mut toml::Value) -> bool {
        let mut changed = false;
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) && v.is_str() {
                        *v = toml::Value::String("<redacted>".into());
                        changed = true;
                    } else {
                        changed |= redact(v);
                    }
                }
            }
            toml::Value::Array(a) => {
                for v in a {
                    changed |= redact(v);
                }
            }
            _ => {}
        }
        changed
    }
    let Ok(table) = text.parse::<toml::Table>() else { return String::new() };
    let mut doc = toml::Value::Table(table);
    if !redact(&mut doc) {
        return text.to_string();
    }
    toml::to_string(&doc).unwrap_or_default()
}

/// `sim-<UTC time>-<pid>`: unique per run on one machine.
fn run_folder_name() -> String {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
    format!("sim-{stamp}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::journal::{JournalFullPolicy, JournalLink, JournalRecord};
    use qt_core::{AccountId, DecisionInputs, InstrumentId, Nanos, Qty, RiskDecision, Side};

    #[test]
    fn inline_credentials_never_reach_the_journal_and_the_rest_still_loads() {
        let plain = crate::config::EMBEDDED_DEFAULT;
        assert_eq!(redacted_config(plain), plain, "nothing to redact: verbatim, comments kept");
        let with_keys = format!(
            "{plain}\n[accounts.keys.binance]\napi_key = \"AKIA-very-secret-key\"\nsecret = \"s3cr3t-value\"\n\
             [accounts.keys.okx]\napi_key = \"k\"\nsecret = \"s\"\npassphrase = \"okx-pass-phrase\"\n"
        );
        let text = with_keys;
        let journaled = redacted_config(&text);
        for secret in ["AKIA-very-secret-key", "s3cr3t-value", "okx-pass-phrase"] {
            assert!(!journaled.contains(secret), "{secret} journaled: {journaled}");
        }
        assert!(journaled.contains("<redacted>"));
        let original: toml::Table = text.parse().unwrap();
        let back: toml::Table = journaled.parse().unwrap();
        assert_eq!(original.len(), back.len(), "every section is still there");
    }

    #[test]
    fn a_write_failure_raises_the_cores_flag_and_the_thread_keeps_draining() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = JournalWriter::open(dir.path(), qt_recorder::JournalConfig::default()).unwrap();
        writer.poison_for_test();
        let (mut link, rings) = JournalLink::new(64, JournalFullPolicy::Backpressure);
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn(rings, Some(writer), RiskState::default(), stop, None).unwrap();
        // More than the ring holds: the thread must keep taking records after the failure.
        for n in 0..200 {
            link.push(JournalRecord { domain_ns: Nanos(n), mono_ns: Nanos(n), event: JournalEvent::Halt });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !link.failed() {
            assert!(std::time::Instant::now() < deadline, "the core was never told");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(link);
        let (s, writer) = handle.join().unwrap();
        assert!(writer.is_none());
        assert_eq!((s.records, s.not_written), (0, 200), "nothing written, nothing stuck");
        assert!(s.failure.as_deref().is_some_and(|f| f.contains("poisoned")), "{:?}", s.failure);
    }

    #[test]
    fn raw_frames_become_raw_frame_records_and_their_drops_are_counted() {
        use qt_core::journal_raw::RawFrameKind;
        let dir = tempfile::tempdir().unwrap();
        let writer = JournalWriter::open(dir.path(), qt_recorder::JournalConfig::default()).unwrap();
        let (link, rings) = JournalLink::new(64, JournalFullPolicy::Backpressure);
        let clock: Arc<dyn qt_core::Clock> = Arc::new(qt_core::SimClock::new(Nanos(42)));
        let (mut taps, raw_rings) = RawFrameRings::new(2, 1024, clock);
        assert!(taps[1].tap(RawFrameKind::WsText, 0, Nanos(5), b"{\"e\":1}"));
        assert!(taps[0].tap(RawFrameKind::RestSnapshot, 2, Nanos(6), b"snap"));
        assert!(!taps[0].tap(RawFrameKind::WsText, 0, Nanos(7), &[b'x'; 2000]), "larger than the ring");
        let stop = Arc::new(AtomicBool::new(true));
        let handle = spawn(rings, Some(writer), RiskState::default(), stop, Some(raw_rings)).unwrap();
        drop(link);
        let (s, writer) = handle.join().unwrap();
        assert_eq!(s.raw_frames, Some((2, 1)));
        assert_eq!(s.of_type(RecordType::RawFrame), 2);
        drop(writer);
        let mut reader = qt_recorder::JournalReader::open(dir.path()).unwrap();
        let mut got = Vec::new();
        while let Some(r) = reader.next().unwrap() {
            let f = raw::decode(r.entry.payload, r.entry.payload_version).unwrap();
            got.push((f.feed, f.kind, f.symbol, f.bytes.to_vec(), r.entry.domain_ts_ns, r.entry.mono_ts_ns));
        }
        assert_eq!(got, vec![(0, 3, 2, b"snap".to_vec(), 42, 6), (1, 1, 0, b"{\"e\":1}".to_vec(), 42, 5)]);
    }

    #[test]
    fn writes_what_the_core_pushed_and_counts_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let writer = JournalWriter::open(dir.path(), qt_recorder::JournalConfig::default()).unwrap();
        let (mut link, rings) = JournalLink::new(64, JournalFullPolicy::Backpressure);
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn(rings, Some(writer), RiskState::default(), stop, None).unwrap();
        let req = qt_risk::ess::flatten_request(
            AccountId(0),
            InstrumentId(0),
            Side::Buy,
            qt_core::Price::from_units(10),
            Qty::from_units(3),
        );
        let inputs = DecisionInputs::default();
        for d in [
            RiskDecision::Allow,
            RiskDecision::Block(BlockReason::OrderRate),
            RiskDecision::ScaleDown(Qty::from_units(1), BlockReason::Leverage),
        ] {
            let decision = DecisionRecord::new(&req, d, &inputs, Nanos(1), Nanos(2));
            let event = JournalEvent::Decision(qt_core::journal::JournaledDecision::of(&decision));
            link.push(JournalRecord { domain_ns: Nanos(1), mono_ns: Nanos(2), event });
        }
        link.push(JournalRecord { domain_ns: Nanos(3), mono_ns: Nanos(4), event: JournalEvent::Halt });
        drop(link);
        let (s, writer) = handle.join().unwrap();
        assert_eq!((s.records, s.allow, s.blocks(), s.scale_downs()), (4, 1, 1, 1));
        assert_eq!(s.of_type(RecordType::Halt), 1);
        assert!(writer.is_some());
        drop(writer);
        let mut reader = qt_recorder::JournalReader::open(dir.path()).unwrap();
        let mut kinds = Vec::new();
        while let Some(r) = reader.next().unwrap() {
            kinds.push(r.entry.kind);
        }
        assert_eq!(kinds.len(), 4);
        assert_eq!(kinds[3], RecordType::Halt);
    }
}
