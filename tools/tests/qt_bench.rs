//! `qt bench` end to end through the binary, on short runs (`--orders`): the percentile table,
//! a `.hgrm` HdrHistogram's plotter can read (header, cumulative percentile rows, totals), the
//! `--json` fields, `--compare` ratios, and bad flags named in the error. Nothing here asserts
//! how fast anything was.

mod util;
use util::bench_output::{parse_hgrm, percentile_row, qt_bench};

use std::process::Output;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_short_run_prints_the_table_and_writes_a_readable_hgrm() {
    let dir = tempfile::tempdir().unwrap();
    let hgrm = dir.path().join("run.hgrm");
    let out =
        qt_bench(&["--venue", "binance", "--orders", "2000", "--warmup", "1000", "--hgrm", hgrm.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.starts_with("qt bench: binance in-process, rate max"), "{text}");
    assert!(text.contains("tick→order from frame bytes available"), "the two timestamps are named: {text}");
    assert!(text.contains("to order on the gateway ring"), "{text}");
    assert!(text.contains("over 2000 orders"), "stops at --orders: {text}");
    let row = percentile_row(&text);
    assert_eq!(row.len(), 6, "{text}");
    assert!(row[0] > 0 && row.windows(2).all(|w| w[0] <= w[1]), "percentiles ascend: {row:?}");
    let throughput = text.lines().find(|l| l.starts_with("throughput: ")).expect(&text);
    assert!(throughput.contains("events/s") && throughput.contains("frames/s") && throughput.contains("orders/s"));
    let counts = text.lines().find(|l| l.starts_with("allocations: ")).expect(&text);
    let allocations = counts.split_whitespace().nth(1).unwrap();
    assert!(allocations.parse::<u64>().is_ok(), "the qt binary counts allocations: {counts}");
    assert!(counts.contains("stalls: "), "{counts}");

    let (rows, total) = parse_hgrm(&hgrm);
    assert_eq!(total, 2000);
    assert!(rows.len() >= 10, "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2), "{rows:?}");
    let last = rows.last().unwrap();
    assert_eq!((last.1, last.2), (1.0, 2000), "the last row is 100 % of the orders");
    // The table's max (ns) is the distribution's last value (µs).
    assert!((last.0 * 1000.0 - row[5] as f64).abs() < 1.0, "{} µs vs {} ns", last.0, row[5]);
}

#[test]
fn json_runs_compare_side_by_side_with_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let out = qt_bench(&["--venue", "bybit", "--rate", "50000/s", "--orders", "500", "--warmup", "500", "--json"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let run: serde_json::Value = serde_json::from_str(&text).expect("--json prints one JSON object");
    assert_eq!(run["mode"], "in-process");
    assert_eq!(run["venue"], "bybit");
    assert_eq!(run["rate"], "50000/s");
    assert_eq!(run["idle"], "busy_spin");
    assert_eq!(run["orders"], 500);
    assert_eq!(run["tick_to_order_ns"]["count"], 500);
    for field in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
        assert!(run["tick_to_order_ns"][field].as_u64().unwrap() > 0, "{field}: {text}");
    }
    for field in ["events_per_s", "frames_per_s", "orders_per_s", "elapsed_s"] {
        assert!(run[field].as_f64().unwrap() > 0.0, "{field}: {text}");
    }
    assert!(run["allocations"].is_u64() && run["stalls"].is_u64(), "{text}");
    assert!(run["from"].as_str().unwrap().contains("frame bytes available"));
    assert!(run["to"].as_str().unwrap().contains("sent_local_ns"));

    // B: the same run with its median doubled and its event rate halved.
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    std::fs::write(&a, &text).unwrap();
    let mut slower = run.clone();
    slower["tick_to_order_ns"]["p50"] = (run["tick_to_order_ns"]["p50"].as_u64().unwrap() * 2).into();
    slower["events_per_s"] = (run["events_per_s"].as_f64().unwrap() / 2.0).into();
    std::fs::write(&b, slower.to_string()).unwrap();
    let out = qt_bench(&["--compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    let table = stdout(&out);
    assert!(out.status.success(), "{table}{}", stderr(&out));
    let ratio = |name: &str| {
        let line = table.lines().find(|l| l.starts_with(name)).expect(&table);
        line.split_whitespace().last().unwrap().to_string()
    };
    assert_eq!(ratio("tick→order p50 ns"), "2.00", "{table}");
    assert_eq!(ratio("events/s"), "0.50", "{table}");
    assert_eq!(ratio("tick→order p99 ns"), "1.00", "{table}");
}

#[test]
fn bad_flags_and_files_are_named_in_the_error() {
    let out = qt_bench(&["--rate", "fast"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--rate"), "{}", stderr(&out));

    let out = qt_bench(&["--venue", "nasdaq"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nasdaq"), "{}", stderr(&out));

    let out = qt_bench(&["--frobnicate"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--frobnicate"), "{}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"not\": \"a run\"}").unwrap();
    let out = qt_bench(&["--compare", junk.to_str().unwrap(), junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("junk.json") && stderr(&out).contains("not a saved"), "{}", stderr(&out));

    let out = qt_bench(&["--compare", dir.path().join("absent.json").to_str().unwrap(), junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("absent.json"), "{}", stderr(&out));

    // --wire drives Binance spot only (tools/tests/qt_bench_wire.rs runs it).
    let out = qt_bench(&["--wire", "--venue", "okx"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--wire --venue okx"), "{}", stderr(&out));
    let out = qt_bench(&["--wire", "--rate", "200/s"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at most 40/s"), "{}", stderr(&out));
}
