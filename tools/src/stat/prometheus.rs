//! The Prometheus text exposition format (version 0.0.4) of a stats [`Snapshot`]: one
//! `# HELP` and `# TYPE` per family, then its samples; histograms as cumulative `_bucket`
//! series with an `le` label, `_sum` and `_count`. Values are exact decimals (money gauges at
//! their scale, durations in seconds). Called by the stats thread for `GET /metrics` and the
//! textfile; allocates only into `out` (and small label strings).

use super::series::{Family, Series, decimal, families};
use qt_core::stats::Snapshot;
use std::fmt::Write;

/// Appends `snap` in the text format to `out`, with the engine's header facts as of now.
pub fn render(snap: &Snapshot, out: &mut String) {
    render_at(snap, qt_core::stats::unix_now_ns(), out);
}

/// [`render`] as of `now_ns` (unix ns): every family of the file, then the header's facts —
/// `engine_heartbeat_age_seconds` (how long since the core's last stats tick; what liveness and
/// the heartbeat alert watch) and `engine_start_time_seconds`.
pub fn render_at(snap: &Snapshot, now_ns: u64, out: &mut String) {
    for f in families(snap) {
        render_family(&f, out);
    }
    let h = &snap.header;
    let age_ns =
        if h.heartbeat_ns == 0 { now_ns.saturating_sub(h.start_ns) } else { now_ns.saturating_sub(h.heartbeat_ns) };
    let _ = writeln!(out, "# HELP engine_heartbeat_age_seconds Seconds since the core thread's last stats tick.");
    let _ = writeln!(out, "# TYPE engine_heartbeat_age_seconds gauge");
    let _ = writeln!(out, "engine_heartbeat_age_seconds {}", decimal(age_ns, 9));
    let _ = writeln!(out, "# HELP engine_start_time_seconds When the engine started (unix seconds).");
    let _ = writeln!(out, "# TYPE engine_start_time_seconds gauge");
    let _ = writeln!(out, "engine_start_time_seconds {}", decimal(h.start_ns, 9));
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn braces(labels: &str) -> String {
    if labels.is_empty() { String::new() } else { format!("{{{labels}}}") }
}

fn render_family(f: &Family<'_>, out: &mut String) {
    let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
    let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
    for s in &f.series {
        match s {
            Series::Scalar(sample) => {
                let _ = writeln!(out, "{}{} {}", f.name, braces(&sample.desc.labels), sample.decimal());
            }
            Series::Histogram(h) => {
                let mut cumulative = 0u64;
                let sep = if h.labels.is_empty() { "" } else { "," };
                for (le, n) in &h.buckets {
                    cumulative = cumulative.saturating_add(*n);
                    let bound = if *le == u64::MAX { "+Inf".to_string() } else { decimal(*le, h.scale) };
                    let _ = writeln!(out, "{}_bucket{{{}{sep}le=\"{bound}\"}} {cumulative}", f.name, h.labels);
                }
                let sum = h.sum.map_or_else(|| "0".to_string(), |s| s.decimal());
                let _ = writeln!(out, "{}_sum{} {sum}", f.name, braces(h.labels));
                let _ = writeln!(out, "{}_count{} {}", f.name, braces(h.labels), h.count);
            }
        }
    }
}
