//! `qt stat [--file F] [--watch 1s] [--json] [--filter WORD]`: reads a running (or stopped)
//! engine's stats file from another process and prints its numbers — a table grouped into
//! sections with rates per second and latency percentiles, or one JSON object per refresh.
//!
//! Roles: [`files`] (default path, opening one for a run, finding one to read), [`series`]
//! (grouping samples into families and histograms), [`table`] (the table and the JSON),
//! [`prometheus`] (the text exposition format for the stats thread), [`health`] (liveness and
//! readiness), [`RegionSource`] (what the stats thread serves). A stopped engine's file shows its last values and "stale since …"; a corrupt,
//! truncated, foreign or other-version file is an error saying which (exit non-zero).

pub mod files;
pub mod health;
pub mod prometheus;
pub mod series;
pub mod table;

use anyhow::Context;
use qt_core::stats::blocks::ExporterBlock;
use qt_core::stats::{Liveness, Owner, Snapshot, StatsHandle, StatsRegion, unix_now_ns};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `qt stat`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct StatArgs {
    /// `--file F`.
    pub file: Option<PathBuf>,
    /// `--watch 1s`: refresh every interval until interrupted.
    pub watch: Option<Duration>,
    /// `--json`.
    pub json: bool,
    /// `--filter WORD`: only metrics whose name or labels contain it.
    pub filter: Option<String>,
}

/// What the stats thread serves, over the run's own stats region (the file, or the anonymous
/// mapping of a `--no-stats` run): each call copies the region ([`StatsRegion::snapshot_bytes`])
/// and renders or checks that copy. Counts its scrapes and probes in its own block
/// (`stats_scrapes_total`, `stats_health_probes_total`). Runs on the stats thread; allocates.
#[derive(Debug, Clone)]
pub struct RegionSource {
    region: StatsRegion,
    block: StatsHandle<ExporterBlock>,
}

impl RegionSource {
    /// A source over `region`, placing the stats thread's block in it.
    pub fn new(region: StatsRegion) -> Self {
        let block = region.block_or_private(Owner::Stats, &[]);
        Self { region, block }
    }

    /// The region now (`None`: it could not be parsed, which the region's own writer cannot
    /// cause; logged).
    pub fn snapshot(&self) -> Option<Snapshot> {
        match Snapshot::parse(&self.region.snapshot_bytes()) {
            Ok(s) => Some(s),
            Err(e) => {
                log::error!("stats: the engine's own stats region does not parse: {e}");
                None
            }
        }
    }

    /// `GET /metrics` (and the textfile): the Prometheus text of the region.
    pub fn render_metrics(&mut self, out: &mut String) {
        self.block.scrapes.incr();
        if let Some(s) = self.snapshot() {
            prometheus::render(&s, out);
        }
    }

    /// `GET /health/live`.
    pub fn live(&mut self) -> (bool, Vec<health::Check>) {
        self.block.probes.incr();
        self.snapshot().map_or_else(unreadable, |s| health::live(&s, unix_now_ns()))
    }

    /// `GET /health/ready`.
    pub fn ready(&mut self) -> (bool, Vec<health::Check>) {
        self.block.probes.incr();
        self.snapshot().map_or_else(unreadable, |s| health::ready(&s, unix_now_ns()))
    }
}

fn unreadable() -> (bool, Vec<health::Check>) {
    (false, vec![health::Check { name: "stats", ok: false, detail: "the stats region does not parse".into() }])
}

/// RFC 3339 (UTC, seconds) of a unix ns time.
fn rfc3339(unix_ns: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_nanos(unix_ns)).to_string()
}

/// Live, or stale since when and why.
pub fn state_of(snap: &Snapshot) -> table::State {
    let pid_alive = files::pid_alive(snap.header.pid);
    match snap.liveness(unix_now_ns()) {
        Liveness::Live if pid_alive => table::State { live: true, stale_since: None },
        Liveness::Live => {
            let last = snap.header.heartbeat_ns.max(snap.header.start_ns);
            table::State {
                live: false,
                stale_since: Some(format!("{} (process {} is gone)", rfc3339(last), snap.header.pid)),
            }
        }
        Liveness::Stale { since_ns } => table::State { live: false, stale_since: Some(rfc3339(since_ns)) },
    }
}

/// Runs `qt stat`, writing to `out` (stdout in the binary).
pub fn run(args: &StatArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = files::find(args.file.as_deref())?;
    let shown = path.display().to_string();
    let mut prev = table::Previous::default();
    let started = std::time::Instant::now();
    loop {
        let snap = Snapshot::read_file(&path).with_context(|| format!("stats file {shown}"))?;
        let state = state_of(&snap);
        let now = started.elapsed().as_secs_f64();
        let filter = args.filter.as_deref();
        if args.json {
            let v = table::render_json(&shown, &snap, &state, filter, &mut prev, now);
            writeln!(out, "{v}")?;
        } else {
            let mut text = String::new();
            table::render_table(&shown, &snap, &state, filter, &mut prev, now, &mut text);
            if args.watch.is_some() {
                // Clear the screen and home the cursor: the table refreshes in place.
                write!(out, "\x1b[2J\x1b[H")?;
            }
            write!(out, "{text}")?;
        }
        out.flush()?;
        match args.watch {
            Some(every) => std::thread::sleep(every),
            None => return Ok(()),
        }
    }
}

/// The stats thread's view of the run: [`RegionSource`] behind the exporter's interface.
impl crate::exporter::StatsSource for RegionSource {
    fn render_metrics(&mut self, out: &mut String) {
        RegionSource::render_metrics(self, out);
    }

    fn live(&mut self) -> crate::exporter::Health {
        exporter_health(RegionSource::live(self))
    }

    fn ready(&mut self) -> crate::exporter::Health {
        exporter_health(RegionSource::ready(self))
    }

    fn publish_counts(&mut self, c: &crate::exporter::ExporterCounts) {
        self.block.bad_requests.set(c.bad_requests);
        self.block.connection_errors.set(c.connection_errors);
        self.block.textfile_writes.set(c.textfile_writes);
        self.block.textfile_errors.set(c.textfile_errors);
    }
}

fn exporter_health((ok, checks): (bool, Vec<health::Check>)) -> crate::exporter::Health {
    let checks = checks
        .into_iter()
        .map(|c| crate::exporter::Check { name: c.name.to_string(), ok: c.ok, detail: c.detail })
        .collect();
    crate::exporter::Health { ok, checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::counters::EngineCounters;
    use qt_core::stats::Capacity;

    #[test]
    fn the_region_source_serves_the_region_and_counts_itself() {
        let region = StatsRegion::anonymous(Capacity { slots: 512 }).unwrap();
        let c = region.block::<EngineCounters>(Owner::Core, &[]).unwrap();
        c.fills.add(5);
        region.heartbeat().beat(unix_now_ns());
        let mut source = RegionSource::new(region);
        let mut text = String::new();
        source.render_metrics(&mut text);
        assert!(text.contains("\nfills_total 5\n"), "{text}");
        assert!(text.contains("\nstats_scrapes_total 1\n"), "{text}");
        assert!(source.live().0);
        assert!(source.ready().0, "no books, gateways or journal to wait for");
        let mut again = String::new();
        source.render_metrics(&mut again);
        assert!(
            again.contains("\nstats_health_probes_total 2\n") && again.contains("\nstats_scrapes_total 2\n"),
            "{again}"
        );
    }
}
