//! The `qt bench` tests' runner, and what they read from its output: the percentile row of the
//! table and the `.hgrm` file HdrHistogram's plotter reads.

use std::path::Path;
use std::process::{Command, Output};

/// `qt bench <args>` run to completion (warnings only on stderr).
pub(crate) fn qt_bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qt")).arg("bench").args(args).env("RUST_LOG", "warn").output().unwrap()
}

/// The numbers on the line after the percentile header.
pub(crate) fn percentile_row(text: &str) -> Vec<u64> {
    let mut lines = text.lines();
    lines.by_ref().find(|l| l.split_whitespace().eq(["p50", "p90", "p99", "p99.9", "p99.99", "max"])).expect(text);
    lines.next().unwrap().split_whitespace().map(|n| n.parse().unwrap()).collect()
}

/// The `.hgrm` rows: (value, percentile, total count), and the footer's total count.
pub(crate) fn parse_hgrm(path: &Path) -> (Vec<(f64, f64, u64)>, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"], "{text}");
    assert_eq!(lines.next(), Some(""), "a blank line after the header");
    let mut rows = Vec::new();
    let mut total = None;
    for line in lines {
        if let Some(rest) = line.strip_prefix("#[Max") {
            let count = rest.split("Total count    =").nth(1).unwrap().trim().trim_end_matches(']').trim();
            total = Some(count.parse().unwrap());
        } else if !line.starts_with('#') {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert!(cols.len() == 4 || cols.len() == 3, "{line}");
            rows.push((cols[0].parse().unwrap(), cols[1].parse().unwrap(), cols[2].parse().unwrap()));
        }
    }
    (rows, total.expect("a #[Max … Total count …] footer"))
}
