//! `qt replay DIR`: re-drives a journal through the same engine code and checks that every
//! decision comes out the same.
//!
//! The journal's first record is the run's configuration; from it the replay builds the same
//! [`Engine`], strategies and [`RiskGate`] as the run, on a [`SimClock`] set from each
//! record's domain time. It then reads the journal in order. Each *input* the core consumed
//! (market record, execution report — the gateway's answers come from the journal —, local
//! refusal's delivery, timer tick, control command, halt) is applied with
//! [`Engine::replay_input`]; the engine journals what it does into its own link, and that
//! stream must equal the recorded one record for record — the input's echo, then every intent,
//! risk decision, order command, book refusal, control answer and risk state change, with the
//! same times. The first difference is printed side by side and the replay fails.
//!
//! ```text
//!  journal ──read──► recorded queue ───────────────┐
//!     │ inputs                                      ├─ compare in order, before each input
//!     └──► Engine::replay_input ──► link ──► produced queue
//! ```
//!
//! Only the order command's `sent_local_ns` (latency bookkeeping, read from the monotonic
//! clock when the command is sent) is not compared. A damaged record stops the replay unless
//! `--skip-corrupt` is given: then the damaged stretch is skipped, reported, and comparison
//! restarts at the next input. `--config other.toml` is the backtest mode
//! ([`backtest`]): recorded market data through different settings and the in-process
//! matching engine.

pub mod backtest;
pub(crate) mod engine;

use crate::config::{self, Plan};
use anyhow::{Context, anyhow};
use engine::ReplayEngine;
use qt_core::journal::{JournalAttachment, JournalEvent};
use qt_core::{Engine, Nanos, OrderCommand};
use qt_recorder::payload::core_record::{self, CoreEntry};
use qt_recorder::payload::text;
use qt_recorder::{JournalError, JournalReader, RecordType};
use qt_risk::RiskGate;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as possible.
    Max,
    /// Domain time paced by the wall clock, times this factor (1.0 = real time).
    Times(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "max" => Ok(Self::Max),
            "realtime" => Ok(Self::Times(1.0)),
            _ => match s.strip_suffix('x').and_then(|n| n.parse::<f64>().ok()) {
                Some(f) if f.is_finite() && f > 0.0 => Ok(Self::Times(f)),
                _ => Err(format!("{s:?} is not max, realtime or a factor like 10x")),
            },
        }
    }
}

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayArgs {
    /// The journal directory.
    pub dir: PathBuf,
    /// Pace.
    pub speed: Speed,
    /// Stop after this sequence.
    pub until: Option<u64>,
    /// Skip damaged records instead of stopping.
    pub skip_corrupt: bool,
}

/// The first difference between the journal and the replay.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// Sequence of the recorded record (or of the last input, if the journal has none there).
    pub sequence: u64,
    /// The last input applied before it.
    pub after_input: u64,
    /// What the journal holds there.
    pub recorded: Option<CoreEntry>,
    /// What the replay produced there.
    pub replayed: Option<CoreEntry>,
}

/// What a replay found.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutcome {
    /// The journal.
    pub dir: PathBuf,
    /// Records read (all types).
    pub records: u64,
    /// Inputs applied.
    pub inputs: u64,
    /// Market records among them.
    pub market_events: u64,
    /// Records compared equal (inputs' echoes and outputs).
    pub matched: u64,
    /// Damaged stretches skipped (`--skip-corrupt`), described.
    pub skipped: Vec<String>,
    /// The first difference, if any.
    pub divergence: Option<Divergence>,
    /// Wall time.
    pub wall: Duration,
    /// Stopped at `--until`.
    pub stopped_at: Option<u64>,
    /// A run's records ended early: (records the replay produced that the journal does not
    /// have, the last input before them). A run killed mid-input loses what was still in the
    /// core's ring; everything the journal does have matched.
    pub cut_short: Vec<(usize, u64)>,
}

/// The configuration a journal starts with: its text, checked against its hash.
pub fn journal_config(dir: &Path) -> anyhow::Result<String> {
    let mut reader = JournalReader::open(dir).with_context(|| format!("opening journal {}", dir.display()))?;
    let record = reader
        .next()
        .with_context(|| format!("reading journal {}", dir.display()))?
        .ok_or_else(|| anyhow!("journal {} is empty", dir.display()))?;
    if record.entry.kind != RecordType::Config {
        return Err(anyhow!(
            "journal {}: its first record is {} (sequence {}), not the run's configuration",
            dir.display(),
            record.entry.kind.name(),
            record.sequence
        ));
    }
    let t = text::decode(RecordType::Config, record.entry.payload, record.entry.payload_version)
        .with_context(|| format!("journal {}: configuration record", dir.display()))?;
    Ok(t.text)
}

/// The plan of the run that wrote `dir`.
pub fn journal_plan(dir: &Path) -> anyhow::Result<Plan> {
    let text = journal_config(dir)?;
    config::load(&text, &format!("the configuration journaled in {}", dir.display()))
        .map_err(|e| anyhow!("{e}\n(replay needs the files the run's configuration names, e.g. the ESS secret)"))
}

/// The risk gate of a replayed or backtested `plan`. A run without an ESS secret used a random
/// key nobody knows, so it refused every reset; a key no token was made with refuses them again
/// (without the run's start-up warning about the missing secret).
fn replay_gate(plan: &Plan) -> anyhow::Result<RiskGate> {
    let mut plan = plan.clone();
    plan.ess.secret.get_or_insert_with(|| b"qt replay: the run had no ESS reset secret".to_vec());
    crate::run::build_gate(&plan)
}

/// The engine a replay or backtest drives: `plan`'s engine settings, gate ([`replay_gate`]) and
/// strategies, in order, on `clock`; no venue link yet.
fn replay_engine(plan: &Plan, clock: &qt_core::SimClock) -> anyhow::Result<Engine<RiskGate>> {
    qt_core::sys::init_clock();
    let gate = replay_gate(plan)?;
    let mut engine =
        Engine::new(plan.engine.clone(), plan.instruments.clone(), gate, std::sync::Arc::new(clock.clone()));
    for s in plan.build_strategies() {
        engine.add_strategy(s);
    }
    Ok(engine)
}

/// Order commands are compared without their send time (monotonic latency bookkeeping).
fn normalized(mut e: CoreEntry) -> CoreEntry {
    if let JournalEvent::Command(OrderCommand::New { sent_local_ns, .. }) = &mut e.record.event {
        *sent_local_ns = Nanos(0);
    }
    e
}

/// At a run's end (a Config record, or the journal's end): every recorded record must have
/// matched; records the replay produced beyond the journal are a cut-short run (a crash loses
/// what is still in the ring), noted in `out`, not a difference.
fn check_run_end(cmp: &mut Comparison, out: &mut ReplayOutcome) -> Option<Divergence> {
    if let Some(d) = cmp.check(false) {
        return Some(d);
    }
    if !cmp.recorded.is_empty() {
        return cmp.check(true);
    }
    if !cmp.produced.is_empty() {
        out.cut_short.push((cmp.produced.len(), cmp.last_input));
        cmp.produced.clear();
    }
    None
}

/// Whether a recorded record is an input the replay applies.
fn is_input(e: &CoreEntry) -> bool {
    Engine::<RiskGate>::is_replay_input(&e.record, e.attachment.as_ref())
}

/// The comparison state.
struct Comparison {
    recorded: VecDeque<(u64, CoreEntry)>,
    produced: VecDeque<CoreEntry>,
    last_input: u64,
    matched: u64,
}

impl Comparison {
    /// Compares what both sides have; at `end` also what is left over on either side.
    fn check(&mut self, end: bool) -> Option<Divergence> {
        while let (Some((seq, r)), Some(p)) = (self.recorded.front(), self.produced.front()) {
            if normalized(*r) != normalized(*p) {
                return Some(Divergence {
                    sequence: *seq,
                    after_input: self.last_input,
                    recorded: Some(*r),
                    replayed: Some(*p),
                });
            }
            self.recorded.pop_front();
            self.produced.pop_front();
            self.matched += 1;
        }
        if !end {
            return None;
        }
        match (self.recorded.front(), self.produced.front()) {
            (Some((seq, r)), None) => {
                Some(Divergence { sequence: *seq, after_input: self.last_input, recorded: Some(*r), replayed: None })
            }
            (None, Some(p)) => Some(Divergence {
                sequence: self.last_input,
                after_input: self.last_input,
                recorded: None,
                replayed: Some(*p),
            }),
            _ => None,
        }
    }
}

/// Replays `args.dir` and compares; `Ok` with the outcome (check `divergence`), `Err` if the
/// journal cannot be read at all or is damaged (without `--skip-corrupt`).
pub fn replay(args: &ReplayArgs) -> anyhow::Result<ReplayOutcome> {
    let started = Instant::now();
    let plan = journal_plan(&args.dir)?;
    let mut engine = ReplayEngine::build(&plan)?;
    let mut reader = JournalReader::open(&args.dir)?;
    let mut out = ReplayOutcome { dir: args.dir.clone(), ..ReplayOutcome::default() };
    let mut cmp = Comparison { recorded: VecDeque::new(), produced: VecDeque::new(), last_input: 0, matched: 0 };
    let mut pace: Option<(Nanos, Instant)> = None;
    let mut runs = 0u64;
    loop {
        let (sequence, entry) = match reader.next() {
            Ok(Some(record)) if record.entry.kind == RecordType::Config => {
                // A run boundary (a live journal continued by a restart): the earlier run's
                // outputs must all have come out; then the engine begins the next run as the
                // restarted engine did.
                let sequence = record.sequence;
                out.records += 1;
                if let Some(d) = check_run_end(&mut cmp, &mut out) {
                    out.divergence = Some(d);
                    break;
                }
                engine.begin_run(runs);
                runs += 1;
                cmp.last_input = sequence;
                continue;
            }
            Ok(Some(record)) => {
                let sequence = record.sequence;
                let decoded = core_record::decode(&record).map_err(|e| {
                    anyhow!("journal {}: record {sequence} ({}): {e}", args.dir.display(), record.entry.kind.name())
                })?;
                (sequence, decoded)
            }
            Ok(None) => break,
            Err(e @ JournalError::Corrupt { .. }) if args.skip_corrupt => {
                let skipped = reader.skip_damaged().with_context(|| format!("skipping past {e}"))?;
                out.skipped.push(format!("{e}; skipped {skipped}"));
                // The stretch's records are gone: restart the comparison at the next input.
                cmp.recorded.clear();
                engine.drain(&mut cmp.produced);
                cmp.produced.clear();
                continue;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "journal {} is damaged; replay stops here (--skip-corrupt skips damaged records)",
                    args.dir.display()
                )));
            }
        };
        out.records += 1;
        if let Some(until) = args.until
            && sequence > until
        {
            out.stopped_at = Some(until);
            break;
        }
        let Some(entry) = entry else { continue };
        if is_input(&entry) {
            // Everything the previous input produced and everything the journal recorded for it
            // must have matched one for one before the next input.
            if let Some(d) = cmp.check(true) {
                out.divergence = Some(d);
                break;
            }
            if let Speed::Times(factor) = args.speed {
                wait_for(&mut pace, entry.record.domain_ns, factor);
            }
            cmp.recorded.push_back((sequence, entry));
            cmp.last_input = sequence;
            out.inputs += 1;
            if matches!(entry.record.event, JournalEvent::Market(_)) {
                out.market_events += 1;
            }
            engine.apply(&entry);
            engine.drain(&mut cmp.produced);
        } else {
            cmp.recorded.push_back((sequence, entry));
        }
    }
    if out.divergence.is_none() {
        engine.drain(&mut cmp.produced);
        // Stopped early: what the journal had not shown yet is not a difference.
        out.divergence = if out.stopped_at.is_some() { cmp.check(false) } else { check_run_end(&mut cmp, &mut out) };
    }
    out.matched = cmp.matched;
    out.wall = started.elapsed();
    if engine.dropped() > 0 && out.divergence.is_none() {
        return Err(anyhow!("replay: {} of its own records were dropped (internal ring too small)", engine.dropped()));
    }
    Ok(out)
}

/// Sleeps until `domain` is due at `factor` × real time since the first input.
fn wait_for(pace: &mut Option<(Nanos, Instant)>, domain: Nanos, factor: f64) {
    let (first, wall) = *pace.get_or_insert((domain, Instant::now()));
    let due = Duration::from_secs_f64((domain.0 - first.0).max(0) as f64 / 1e9 / factor);
    let elapsed = wall.elapsed();
    if due > elapsed {
        std::thread::sleep(due - elapsed);
    }
}

/// One record, labelled, for the side-by-side view.
fn describe(e: Option<&CoreEntry>) -> Vec<String> {
    let Some(e) = e else { return vec!["(nothing)".into()] };
    let mut lines = vec![format!("domain {} ns, mono {} ns", e.record.domain_ns.0, e.record.mono_ns.0)];
    let body = match &e.attachment {
        Some(JournalAttachment::Control(c)) => format!("{c:#?}"),
        Some(a @ JournalAttachment::ControlAnswer { .. }) => format!("{a:#?}"),
        None => format!("{:#?}", e.record.event),
    };
    lines.extend(body.lines().map(str::to_string));
    lines
}

/// The replay's report: a summary, or the divergence side by side.
pub fn render(o: &ReplayOutcome) -> String {
    let mut s = String::new();
    let rate = o.market_events as f64 / o.wall.as_secs_f64().max(1e-9);
    let _ = writeln!(
        s,
        "replay {}: {} records, {} inputs ({} market events, {:.0}/s), {} records compared equal, wall {:.3} s",
        o.dir.display(),
        o.records,
        o.inputs,
        o.market_events,
        rate,
        o.matched,
        o.wall.as_secs_f64()
    );
    if let Some(until) = o.stopped_at {
        let _ = writeln!(s, "stopped at --until {until}");
    }
    for k in &o.skipped {
        let _ = writeln!(s, "SKIPPED damaged records: {k}");
    }
    for (n, after) in &o.cut_short {
        let _ = writeln!(
            s,
            "note: a run's journal ends {n} record(s) short after the input at sequence {after} (the run \
             ended before writing them: a crash loses what is still in the core's ring); all it has matches"
        );
    }
    match &o.divergence {
        None => {
            let _ = writeln!(s, "every intent, risk decision and order matches the journal");
        }
        Some(d) => {
            let _ = writeln!(
                s,
                "DIVERGENCE at journal sequence {} (after the input at sequence {}):",
                d.sequence, d.after_input
            );
            let left = describe(d.recorded.as_ref());
            let right = describe(d.replayed.as_ref());
            let width = left.iter().map(|l| l.chars().count()).max().unwrap_or(0).clamp(20, 70);
            let _ = writeln!(s, "  {:<width$} | replay", "journal");
            let _ = writeln!(s, "  {:-<width$}-+-{:-<20}", "", "");
            for k in 0..left.len().max(right.len()) {
                let l = left.get(k).map_or("", String::as_str);
                let r = right.get(k).map_or("", String::as_str);
                let mark = if l == r { ' ' } else { '≠' };
                let _ = writeln!(s, "{mark} {l:<width$} | {r}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> CoreEntry {
        let record =
            qt_core::journal::JournalRecord { domain_ns: Nanos(n), mono_ns: Nanos(n), event: JournalEvent::Halt };
        CoreEntry { record, attachment: None }
    }

    #[test]
    fn a_run_cut_short_is_noted_but_a_missing_or_different_record_is_a_difference() {
        let fresh = || Comparison { recorded: VecDeque::new(), produced: VecDeque::new(), last_input: 7, matched: 0 };
        // The journal has what the replay produced first, then ends: a crash, noted.
        let mut cmp = fresh();
        let mut out = ReplayOutcome::default();
        cmp.recorded.push_back((7, entry(1)));
        cmp.produced.extend([entry(1), entry(2), entry(3)]);
        assert!(check_run_end(&mut cmp, &mut out).is_none());
        assert_eq!((cmp.matched, out.cut_short.as_slice()), (1, &[(2, 7)][..]));
        // The journal has a record the replay did not produce: a difference.
        let mut cmp = fresh();
        cmp.recorded.extend([(7, entry(1)), (8, entry(2))]);
        cmp.produced.push_back(entry(1));
        let d = check_run_end(&mut cmp, &mut ReplayOutcome::default()).expect("a difference");
        assert_eq!((d.sequence, d.replayed.is_none()), (8, true));
        // A different record: a difference, whatever follows.
        let mut cmp = fresh();
        cmp.recorded.push_back((7, entry(1)));
        cmp.produced.extend([entry(9), entry(2)]);
        assert!(check_run_end(&mut cmp, &mut ReplayOutcome::default()).is_some());
    }

    #[test]
    fn speeds_parse_and_refuse_nonsense() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("realtime".parse::<Speed>(), Ok(Speed::Times(1.0)));
        assert_eq!("10x".parse::<Speed>(), Ok(Speed::Times(10.0)));
        assert!("0x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }
}
