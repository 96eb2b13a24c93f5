//! `qt bench --wire` end to end through the binary: the venue simulator in-process, the live
//! engine against it over loopback TLS, 200 answered triggers. Asserts the table and its
//! heading (wire-to-wire, never tick→order), that the triggers were answered (no-order count
//! reported and small), a `.hgrm` HdrHistogram's plotter can read, the `--json` fields, and
//! `--compare` of two wire runs. Nothing here asserts how fast anything was.

mod util;
use util::bench_output::{parse_hgrm, percentile_row, qt_bench};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_wire_run_answers_its_triggers_and_reports_wire_to_wire() {
    let dir = tempfile::tempdir().unwrap();
    let hgrm = dir.path().join("wire.hgrm");
    let out = qt_bench(&["--wire", "--orders", "200", "--hgrm", hgrm.to_str().unwrap(), "--json"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let run: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints one JSON object");
    assert_eq!(run["mode"], "wire");
    assert_eq!(run["venue"], "binance");
    assert_eq!(run["rate"], "20/s", "the default rate");
    assert_eq!(run["idle"], "busy_spin");
    assert!(run.get("tick_to_order_ns").is_none(), "a wire run has no tick→order figure: {stdout}");
    let wire = &run["wire"];
    assert_eq!(wire["answered"], 200, "stops at --orders: {stdout}");
    assert_eq!(run["orders"], 200);
    assert_eq!(wire["wire_to_wire_ns"]["count"], 200);
    for field in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
        assert!(wire["wire_to_wire_ns"][field].as_u64().unwrap() > 0, "{field}: {stdout}");
    }
    let triggers = wire["triggers"].as_u64().unwrap();
    let (no_order, no_frame) = (wire["no_order"].as_u64().unwrap(), wire["no_frame"].as_u64().unwrap());
    assert_eq!(triggers, 200 + no_order + no_frame, "every trigger is answered or counted: {stdout}");
    assert!(no_order + no_frame <= 4, "nearly every trigger gets its order: {stdout}");
    assert!(wire["stray_orders"].as_u64().unwrap() <= 4, "one order per trigger: {stdout}");
    assert_eq!(wire["accounts"], 5, "20/s over accounts of 4/s each: {stdout}");
    assert!(wire["risk_settings"].as_str().unwrap().contains("max_order_rate"), "{stdout}");
    assert!(run["from"].as_str().unwrap().contains("writes the trigger frame"), "{stdout}");
    assert!(run["to"].as_str().unwrap().contains("request head"), "{stdout}");
    assert!(run["allocations"].is_u64() && run["stalls"].is_u64(), "{stdout}");
    assert!(run["events"].as_u64().unwrap() > 0, "{stdout}");
    assert!(run["risk"].as_str().unwrap().starts_with("allow "), "{stdout}");

    let (rows, total) = parse_hgrm(&hgrm);
    assert_eq!(total, 200);
    assert!(rows.len() >= 10, "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2), "{rows:?}");
    assert_eq!((rows.last().unwrap().1, rows.last().unwrap().2), (1.0, 200));

    // The table of a saved run, and two wire runs side by side (B: A's median doubled).
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    std::fs::write(&a, &stdout).unwrap();
    let mut slower = run.clone();
    slower["wire"]["wire_to_wire_ns"]["p50"] = (wire["wire_to_wire_ns"]["p50"].as_u64().unwrap() * 2).into();
    std::fs::write(&b, slower.to_string()).unwrap();
    let out = qt_bench(&["--compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{table}{}", text(&out.stderr));
    let ratio = |name: &str| {
        let line = table.lines().find(|l| l.starts_with(name)).expect(&table);
        line.split_whitespace().last().unwrap().to_string()
    };
    assert_eq!(ratio("wire p50 ns"), "2.00", "{table}");
    assert_eq!(ratio("wire p99 ns"), "1.00", "{table}");
    assert!(!table.contains("tick→order"), "wire runs are never called tick→order: {table}");
    assert!(table.contains("wire-to-wire (loopback TLS, this machine): A 200 of"), "{table}");
}

#[test]
fn the_table_names_wire_to_wire_and_counts_every_trigger() {
    let out = qt_bench(&["--wire", "--rate", "8/s", "--orders", "24"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("qt bench --wire: binance over loopback TLS, rate 8/s"), "{stdout}");
    assert!(stdout.contains("wire-to-wire (loopback TLS, this machine) — NOT tick→order"), "{stdout}");
    assert!(stdout.contains("wire-to-wire (loopback TLS, this machine) (ns) over 24 orders:"), "{stdout}");
    let row = percentile_row(&stdout);
    assert_eq!(row.len(), 6, "{stdout}");
    assert!(row[0] > 0 && row.windows(2).all(|w| w[0] <= w[1]), "percentiles ascend: {row:?}");
    let tally = stdout.lines().find(|l| l.starts_with("triggers: ")).expect(&stdout);
    let figure = |label: &str| -> u64 {
        let rest = tally.split(label).nth(1).unwrap_or_else(|| panic!("{label} in {tally}"));
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    assert_eq!(figure("orders: "), 24, "{tally}");
    assert_eq!(figure("triggers: "), 24 + figure("no order: ") + figure("no frame: "), "{tally}");
    assert!(figure("no order: ") <= 2, "{tally}");
    let counts = stdout.lines().find(|l| l.starts_with("allocations: ")).expect(&stdout);
    assert!(counts.split_whitespace().nth(1).unwrap().parse::<u64>().is_ok(), "counted on the core thread: {counts}");
    assert!(counts.contains("stalls: "), "{counts}");
    assert!(stdout.contains("bench risk settings: 2 accounts"), "{stdout}");
}
