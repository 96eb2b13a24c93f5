//! `qt journal stats|dump DIR`: read a journal directory from another process, read-only.
//!
//! `stats` counts records per type, shows the sequence and time range and the segments, and
//! reports where damage stops the read (segment, offset, sequence) instead of hiding it. `dump`
//! prints one line per record — the frame's fields and the decoded payload for the types that
//! have an encoding (market event, order command, execution report, risk decision; others as
//! hex) — or, with `--json`, one JSON object per line. Filters: `--type`, `--from`/`--to`
//! (sequence), `--account` (order commands, execution reports and risk decisions of that
//! account; records without an account are dropped). `tail` (`journal_tail.rs`) prints with the
//! same [`print_record`] and [`DumpFilter`]. Neither needs the writer: both map the segments read-only and stop at the
//! committed position, so they are safe on a running engine's journal.

use qt_core::{DecisionRecord, ExecutionReport, MarketEvent, OrderCommand};
use qt_recorder::{JournalError, JournalReader, Record, RecordType, decode_record};
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

/// The snake_case name of a record type, as `--type` takes it.
pub fn type_name(kind: RecordType) -> &'static str {
    match kind {
        RecordType::Config => "config",
        RecordType::MarketEvent => "market_event",
        RecordType::BookInvalidation => "book_invalidation",
        RecordType::Intent => "intent",
        RecordType::RiskDecision => "risk_decision",
        RecordType::OrderCommand => "order_command",
        RecordType::ExecutionReport => "execution_report",
        RecordType::LocalRefusal => "local_refusal",
        RecordType::ControlCommand => "control_command",
        RecordType::ControlAnswer => "control_answer",
        RecordType::Ess => "ess",
        RecordType::GlobalRiskLevel => "global_risk_level",
        RecordType::Funding => "funding",
        RecordType::Reconciliation => "reconciliation",
        RecordType::RawFrame => "raw_frame",
        _ => "unknown",
    }
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

/// The account a record is about: the order command's (every variant names one), the execution
/// report's and the risk decision's. `None` for the other types (market events, config, ...)
/// and for a payload that does not decode.
pub fn record_account(r: &Record<'_>) -> Option<u16> {
    match r.entry.kind {
        RecordType::OrderCommand => match decode_record::<OrderCommand>(r).ok()? {
            OrderCommand::New { request, .. } => Some(request.account.0),
            OrderCommand::Cancel { account, .. } | OrderCommand::CancelAll { account, .. } => Some(account.0),
        },
        RecordType::ExecutionReport => decode_record::<ExecutionReport>(r).ok().map(|v| v.account.0),
        RecordType::RiskDecision => decode_record::<DecisionRecord>(r).ok().map(|v| v.account),
        _ => None,
    }
}

/// The decoded payload as text, or why it could not be decoded; types without an encoding yet
/// are shown as hex.
fn payload_text(r: &Record<'_>) -> String {
    let decoded = match r.entry.kind {
        RecordType::MarketEvent => decode_record::<MarketEvent>(r).map(|v| format!("{v:?}")),
        RecordType::OrderCommand => decode_record::<OrderCommand>(r).map(|v| format!("{v:?}")),
        RecordType::ExecutionReport => decode_record::<ExecutionReport>(r).map(|v| format!("{v:?}")),
        RecordType::RiskDecision => decode_record::<DecisionRecord>(r).map(|v| format!("{v:?}")),
        _ => return format!("hex {}", hex_of(r.entry.payload)),
    };
    decoded.unwrap_or_else(|e| format!("undecodable ({e}): hex {}", hex_of(r.entry.payload)))
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
