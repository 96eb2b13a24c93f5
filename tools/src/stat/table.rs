//! What `qt stat` prints for one refresh: a table grouped into sections (engine, per account,
//! per venue, journal, gateways) with each value and its rate per second since the last
//! refresh, histograms as bucket bounds of p50/p90/p99/max; or one JSON object.

use super::series::{Family, HistogramSeries, Series, families, parse_labels};
use qt_core::stats::{Kind, Sample, Snapshot};
use std::collections::HashMap;
use std::fmt::Write;

/// Values of the previous refresh, by series key, and when it was read (seconds).
#[derive(Debug, Default)]
pub struct Previous {
    at: Option<f64>,
    values: HashMap<String, f64>,
}

/// The state line: live, or stale since when and why.
#[derive(Debug, Clone)]
pub struct State {
    /// The writer is alive.
    pub live: bool,
    /// Why not (heartbeat age, process gone) and since when (RFC 3339).
    pub stale_since: Option<String>,
}

fn key(s: &Sample) -> String {
    if s.desc.labels.is_empty() { s.desc.name.clone() } else { format!("{}{{{}}}", s.desc.name, s.desc.labels) }
}

fn section(name: &str, labels: &str) -> usize {
    if name.starts_with("journal_") || labels.contains("queue=\"journal\"") {
        3
    } else if name.starts_with("gateway_") || labels.contains("queue=") {
        4
    } else if labels.contains("account=") {
        1
    } else if labels.contains("venue=") {
        2
    } else {
        0
    }
}

const SECTIONS: [&str; 5] = ["engine", "per account", "per venue", "journal", "gateways"];

/// A duration bound in ns as text (`500ns`, `2µs`, `5ms`, `1s`, `+Inf`).
pub fn duration_bound(ns: u64) -> String {
    match ns {
        u64::MAX => "+Inf".into(),
        n if n >= 1_000_000_000 => format!("{}s", n / 1_000_000_000),
        n if n >= 1_000_000 => format!("{}ms", n / 1_000_000),
        n if n >= 1_000 => format!("{}µs", n / 1_000),
        n => format!("{n}ns"),
    }
}

fn matches(filter: Option<&str>, name: &str, labels: &str) -> bool {
    filter.is_none_or(|w| name.contains(w) || labels.contains(w))
}

fn percentiles(h: &HistogramSeries<'_>) -> [Option<u64>; 4] {
    [h.quantile_bound(0.5), h.quantile_bound(0.9), h.quantile_bound(0.99), h.max_bound()]
}

impl Previous {
    fn rate(&self, key: &str, value: f64, now: f64) -> Option<f64> {
        let (at, prev) = (self.at?, *self.values.get(key)?);
        (now > at).then(|| (value - prev) / (now - at))
    }
}

/// Renders the table into `out` and remembers the values in `prev` for the next rates.
pub fn render_table(
    path: &str,
    snap: &Snapshot,
    state: &State,
    filter: Option<&str>,
    prev: &mut Previous,
    now: f64,
    out: &mut String,
) {
    let h = &snap.header;
    let status = match (&state.live, &state.stale_since) {
        (true, _) => "live".to_string(),
        (false, Some(s)) => format!("STALE since {s}"),
        (false, None) => "STALE".to_string(),
    };
    let _ = writeln!(out, "{path}  pid {}  {status}", h.pid);
    let mut rows: [Vec<String>; 5] = Default::default();
    let mut hidden = 0usize;
    walk(snap, filter, prev, now, |row| match row {
        Row::Scalar(sample, rate) => {
            let d = &sample.desc;
            if d.kind == Kind::Counter && sample.raw == 0 && filter.is_none() {
                hidden += 1;
                return;
            }
            let rate = match (d.kind, rate) {
                (Kind::Counter, Some(r)) => format!("{r:>12.1}/s"),
                _ => String::new(),
            };
            rows[section(&d.name, &d.labels)].push(format!("  {:<78} {:>16}{rate}", key(sample), sample.decimal()));
        }
        Row::Histogram(f, hist) => rows[section(f.name, hist.labels)].push(histogram_row(f, hist)),
    });
    for (title, rows) in SECTIONS.iter().zip(&rows) {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}");
        for r in rows {
            let _ = writeln!(out, "{r}");
        }
    }
    if hidden > 0 {
        let _ = writeln!(out, "({hidden} counters at zero not shown; --filter WORD shows them)");
    }
}

/// One line's worth of a refresh: a counter or gauge with its rate, or a histogram series.
enum Row<'r, 's> {
    Scalar(&'s Sample, Option<f64>),
    Histogram(&'r Family<'s>, &'r HistogramSeries<'s>),
}

/// Calls `row` for every series `filter` lets through, with rates since `prev`, then makes
/// this refresh the previous one.
fn walk<'s>(snap: &'s Snapshot, filter: Option<&str>, prev: &mut Previous, now: f64, mut row: impl FnMut(Row<'_, 's>)) {
    let mut values = HashMap::new();
    for f in families(snap) {
        for s in &f.series {
            match s {
                Series::Scalar(sample) => {
                    let (k, v) = (key(sample), sample.as_f64());
                    let rate = prev.rate(&k, v, now);
                    values.insert(k, v);
                    if matches(filter, &sample.desc.name, &sample.desc.labels) {
                        row(Row::Scalar(sample, rate));
                    }
                }
                Series::Histogram(h) => {
                    if matches(filter, f.name, h.labels) {
                        row(Row::Histogram(&f, h));
                    }
                }
            }
        }
    }
    prev.at = Some(now);
    prev.values = values;
}

fn histogram_row(f: &Family<'_>, h: &HistogramSeries<'_>) -> String {
    let p = percentiles(h).map(|b| b.map_or_else(|| "-".to_string(), |ns| format!("≤{}", duration_bound(ns))));
    let name = if h.labels.is_empty() { f.name.to_string() } else { format!("{}{{{}}}", f.name, h.labels) };
    format!("  {name:<50} count {:>10}  p50 {:>7}  p90 {:>7}  p99 {:>7}  max {:>7}", h.count, p[0], p[1], p[2], p[3])
}

fn labels_json(labels: &str) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> =
        parse_labels(labels).unwrap_or_default().into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    serde_json::Value::Object(map)
}

fn number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// One JSON object for this refresh (and remembers the values for the next rates).
pub fn render_json(
    path: &str,
    snap: &Snapshot,
    state: &State,
    filter: Option<&str>,
    prev: &mut Previous,
    now: f64,
) -> serde_json::Value {
    use serde_json::json;
    let mut metrics = Vec::new();
    let mut histograms = Vec::new();
    walk(snap, filter, prev, now, |row| match row {
        Row::Scalar(sample, rate) => {
            let d = &sample.desc;
            let value = if d.scale == 0 && !d.signed {
                json!(sample.raw)
            } else if d.scale == 0 {
                json!(sample.raw as i64)
            } else {
                number(sample.as_f64())
            };
            metrics.push(json!({
                "name": d.name,
                "labels": labels_json(&d.labels),
                "kind": d.kind.name(),
                "unit": d.unit.name(),
                "value": value,
                "exact": sample.decimal(),
                "rate": rate.map(number),
            }));
        }
        Row::Histogram(f, h) => {
            let secs = |b: Option<u64>| match b {
                Some(u64::MAX) => json!("+Inf"),
                Some(ns) => number(ns as f64 / 1e9),
                None => serde_json::Value::Null,
            };
            let [p50, p90, p99, max] = percentiles(h);
            histograms.push(json!({
                "name": f.name,
                "labels": labels_json(h.labels),
                "count": h.count,
                "sum_seconds": h.sum.map(|s| number(s.as_f64())),
                "p50_le_seconds": secs(p50),
                "p90_le_seconds": secs(p90),
                "p99_le_seconds": secs(p99),
                "max_le_seconds": secs(max),
            }));
        }
    });
    json!({
        "file": path,
        "pid": snap.header.pid,
        "start_unix_ns": snap.header.start_ns,
        "heartbeat_unix_ns": snap.header.heartbeat_ns,
        "stale": !state.live,
        "stale_since": state.stale_since,
        "metrics": metrics,
        "histograms": histograms,
    })
}
