//! `qt journal stats|dump DIR`: read a journal directory from another process, read-only.
//!
//! `stats` counts records per type, shows the sequence and time range and the segments, and
//! reports where damage stops the read (segment, offset, sequence) instead of hiding it. `dump`
//! prints one line per record — the frame's fields and the decoded payload of every type the
//! engine writes (the configuration with its hash; an emergency-stop reset's token MAC is never
//! shown; raw frames as hex) — or, with `--json`, one JSON object per line. Filters: `--type`,
//! `--from`/`--to` (sequence), `--account` (order commands, intents, execution reports, local
//! refusals, risk decisions and account control commands of that account; records without an
//! account are dropped). `tail` (`journal_tail.rs`) prints with the same [`print_record`] and
//! [`DumpFilter`]. Neither needs the writer: both map the segments read-only and stop at the
//! committed position, so they are safe on a running engine's journal.

use qt_core::engine::ControlCommand;
use qt_core::journal::{JournalAttachment, JournalEvent};
use qt_core::strategy::StrategyAction;
use qt_core::{OrderCommand, RiskCommand};
use qt_recorder::payload::core_record::{self, CoreEntry};
use qt_recorder::payload::{raw, text};
use qt_recorder::{JournalError, JournalReader, Record, RecordType};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// What `qt journal stats` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalSummary {
    /// Records read (up to the committed end or the first damage).
    pub records: u64,
    /// Records per type name.
    pub per_type: BTreeMap<&'static str, u64>,
    /// First and last sequence read.
    pub sequences: Option<(u64, u64)>,
    /// Smallest and largest domain timestamp read, ns.
    pub domain_range: Option<(i64, i64)>,
    /// Segment files in the directory.
    pub segments: usize,
    /// Where reading stopped on damage, if it did.
    pub damage: Option<String>,
}

/// The snake_case name of a record type (as `--type` takes it).
pub fn type_name(t: RecordType) -> &'static str {
    t.name()
}

/// The record type `--type NAME` names, or an error listing the names.
pub fn parse_type(name: &str) -> anyhow::Result<RecordType> {
    RecordType::ALL.iter().copied().find(|t| type_name(*t) == name).ok_or_else(|| {
        let names: Vec<&str> = RecordType::ALL.iter().map(|t| type_name(*t)).collect();
        anyhow::anyhow!("unknown record type {name:?} (expected one of {})", names.join(", "))
    })
}

fn segment_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().and_then(qt_recorder::format::parse_segment_file_name).is_some())
            .count()
    })
}

/// Reads the whole journal in `dir` (to its committed end) and summarizes it.
pub fn stats(dir: &Path) -> Result<JournalSummary, JournalError> {
    let mut reader = JournalReader::open(dir)?;
    let mut s = JournalSummary { segments: segment_count(dir), ..JournalSummary::default() };
    loop {
        match reader.next() {
            Ok(Some(r)) => {
                s.records += 1;
                *s.per_type.entry(type_name(r.entry.kind)).or_default() += 1;
                s.sequences = Some(s.sequences.map_or((r.sequence, r.sequence), |(a, _)| (a, r.sequence)));
                let t = r.entry.domain_ts_ns;
                s.domain_range = Some(s.domain_range.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
            }
            Ok(None) => return Ok(s),
            Err(e) => {
                s.damage = Some(e.to_string());
                return Ok(s);
            }
        }
    }
}

/// Which records `dump` and `tail` print.
#[derive(Debug, Clone, Default)]
pub struct DumpFilter {
    /// Only this type.
    pub kind: Option<RecordType>,
    /// Only sequences at or above.
    pub from: Option<u64>,
    /// Only sequences at or below.
    pub to: Option<u64>,
    /// Only records of this account (see [`record_account`]); records without one are dropped.
    pub account: Option<u16>,
}

impl DumpFilter {
    /// Whether `r` is printed.
    pub fn admits(&self, r: &Record<'_>) -> bool {
        self.kind.is_none_or(|k| k == r.entry.kind)
            && self.from.is_none_or(|f| r.sequence >= f)
            && self.to.is_none_or(|t| r.sequence <= t)
            && self.account.is_none_or(|a| record_account(r) == Some(a))
    }
}

/// The account a record is about: order commands (every variant names one), intents to place
/// or cancel all, execution reports and local refusals, risk decisions, and account control
/// commands (cancel-all, funding). `None` for the other types (market events, config, ...) and
/// for a payload that does not decode.
pub fn record_account(r: &Record<'_>) -> Option<u16> {
    let entry = core_record::decode(r).ok()??;
    match (entry.record.event, entry.attachment) {
        (JournalEvent::Command(OrderCommand::New { request, .. }), _) => Some(request.account.0),
        (JournalEvent::Command(OrderCommand::Cancel { account, .. } | OrderCommand::CancelAll { account, .. }), _) => {
            Some(account.0)
        }
        (JournalEvent::Intent(StrategyAction::Place(request)), _) => Some(request.account.0),
        (JournalEvent::Intent(StrategyAction::CancelAll(account, _)), _) => Some(account.0),
        (JournalEvent::Report(report) | JournalEvent::LocalRefusal(report), _) => Some(report.account.0),
        (JournalEvent::Decision(d), _) => Some(d.account),
        (_, Some(JournalAttachment::Control(ControlCommand::CancelAll(account)))) => Some(account.0),
        (_, Some(JournalAttachment::Control(ControlCommand::Funding { account, .. }))) => Some(account.0),
        (_, Some(JournalAttachment::Control(ControlCommand::Capital { account, .. }))) => Some(account.0),
        _ => None,
    }
}

/// The decoded payload as text, or why it could not be decoded (then the bytes as hex). An
/// emergency-stop reset's token MAC is never shown; the raw frame type is shown as hex.
fn payload_text(r: &Record<'_>) -> String {
    let e = &r.entry;
    let decoded = match e.kind {
        RecordType::Config | RecordType::Reconciliation => {
            text::decode(e.kind, e.payload, e.payload_version).map(|t| match e.kind {
                RecordType::Config => format!("sha256 {} {:?}", hex_of(&t.hash), t.text),
                _ => format!("{:?}", t.text),
            })
        }
        RecordType::RawFrame => raw::decode(e.payload, e.payload_version).map(|f| raw_frame_text(&f)),
        _ => core_record::decode(r).map(|entry| match entry {
            None => format!("hex {}", hex_of(e.payload)),
            Some(CoreEntry { attachment: Some(JournalAttachment::Control(cmd)), .. }) => redacted_control(&cmd),
            Some(CoreEntry { attachment: Some(a), .. }) => format!("{a:?}"),
            Some(CoreEntry { record, .. }) => format!("{:?}", record.event),
        }),
    };
    decoded.unwrap_or_else(|err| format!("undecodable ({err}): hex {}", hex_of(e.payload)))
}

/// A raw venue frame for display: kind, feed, length (and symbol of a snapshot body), then the
/// bytes as text if they are UTF-8, else hex.
fn raw_frame_text(f: &raw::RawFrame<'_>) -> String {
    use qt_core::journal_raw::RawFrameKind;
    let kind = RawFrameKind::from_code(f.kind).map_or("?", RawFrameKind::name);
    let symbol =
        if f.kind == RawFrameKind::RestSnapshot.code() { format!(" symbol {}", f.symbol) } else { String::new() };
    let body = match std::str::from_utf8(f.bytes) {
        Ok(t) => format!("{t:?}"),
        Err(_) => format!("hex {}", hex_of(f.bytes)),
    };
    format!("{kind} feed {}{symbol} len {} {body}", f.feed, f.bytes.len())
}

/// A control command for display: a reset's MAC replaced.
fn redacted_control(cmd: &ControlCommand) -> String {
    match cmd {
        ControlCommand::Risk {
            id,
            command: RiskCommand::EssReset { operator, timestamp_ms, received_unix_ms, .. },
        } => {
            format!(
                "Risk {{ id: {id}, command: EssReset {{ operator: {:?}, timestamp_ms: {timestamp_ms}, mac: <redacted>, \
                 received_unix_ms: {received_unix_ms} }} }}",
                operator.as_str()
            )
        }
        other => format!("{other:?}"),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints one record as `dump` and `tail` do: one line, or with `json` one JSON object per line.
pub fn print_record(r: &Record<'_>, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let e = &r.entry;
    if json {
        let line = json!({
            "seq": r.sequence,
            "type": type_name(e.kind),
            "version": e.payload_version,
            "domain_ns": e.domain_ts_ns,
            "mono_ns": e.mono_ts_ns,
            "len": e.payload.len(),
            "payload": payload_text(r),
        });
        writeln!(out, "{line}")
    } else {
        writeln!(
            out,
            "{:>10}  {:<18} v{}  domain {}  mono {}  {}",
            r.sequence,
            type_name(e.kind),
            e.payload_version,
            e.domain_ts_ns,
            e.mono_ts_ns,
            payload_text(r)
        )
    }
}

/// Whether `e` (anywhere in its chain) is stdout's reader going away: `qt journal dump DIR |
/// head` ends that way, which is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Prints the records `filter` admits to `out`, one per line (`json`: one JSON object per
/// line); returns how many. Damage ends the dump with the error (after what was printed).
pub fn dump(dir: &Path, filter: &DumpFilter, json: bool, out: &mut dyn Write) -> anyhow::Result<u64> {
    let mut reader = JournalReader::open(dir)?;
    let mut printed = 0;
    while let Some(r) = reader.next()? {
        if filter.to.is_some_and(|t| r.sequence > t) {
            break;
        }
        if !filter.admits(&r) {
            continue;
        }
        print_record(&r, json, out)?;
        printed += 1;
    }
    Ok(printed)
}

/// `stats` as the command prints it.
pub fn render_stats(dir: &Path, s: &JournalSummary) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(t, "journal   {}  segments {}  records {}", dir.display(), s.segments, s.records);
    if let Some((a, b)) = s.sequences {
        let _ = writeln!(t, "sequence  {a} .. {b}");
    }
    if let Some((lo, hi)) = s.domain_range {
        let _ = writeln!(t, "time      {lo} .. {hi} ns (domain)");
    }
    for (name, n) in &s.per_type {
        let _ = writeln!(t, "  {name:<18} {n}");
    }
    match &s.damage {
        Some(d) => {
            let _ = writeln!(t, "DAMAGE    reading stopped: {d}");
        }
        None => {
            let _ = writeln!(t, "intact    every committed record read, no gap or corruption");
        }
    }
    t
}
