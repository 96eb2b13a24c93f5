//! `qt run`'s log lines: JSON lines on request (`--log-format json` or `[log] format`), each
//! with the keys log shippers need, and the core thread's own warnings arriving through the
//! `qt-log` thread with their fields.

mod util;

use serde_json::Value;

/// The embedded default with `[engine] cpu` set to a CPU no machine has: the core thread's pin
/// fails and the core warns (a `core_log!` record, on the core thread) — then runs unpinned.
fn config_pinning_to_a_missing_cpu(extra: &str) -> String {
    let base = include_str!("../../examples/sim.toml");
    let with_cpu = base.replacen("[engine]\n", "[engine]\ncpu = 4095\n", 1);
    assert_ne!(with_cpu, base, "examples/sim.toml has an [engine] section");
    format!("{with_cpu}\n{extra}")
}

/// Runs `qt run` on `config` with `args` and `RUST_LOG`; returns stderr's lines parsed as JSON
/// (panicking, with the line, on any that is not).
fn json_lines(config: &str, args: &[&str], rust_log: &str) -> Vec<Value> {
    let (mut cmd, cwd) = util::qt_command();
    let path = cwd.0.join("run.toml");
    std::fs::write(&path, config).unwrap();
    let out = cmd
        .env("RUST_LOG", rust_log)
        .args(["run", "--config", path.to_str().unwrap(), "--duration", "2s", "--pace", "max", "--no-journal"])
        .args(args)
        .output()
        .expect("qt runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect();
    assert!(!lines.is_empty(), "no log lines");
    for l in &lines {
        for key in ["ts", "level", "target", "service", "msg"] {
            assert!(l[key].is_string(), "{key} missing in {l}");
        }
        let ts = l["ts"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(ts).is_ok() && ts.ends_with('Z'), "ts {ts}");
        assert!(l["service"].as_str().unwrap().starts_with("quantum-trader"), "{l}");
    }
    lines
}

#[test]
fn json_lines_carry_the_core_threads_warning_with_its_fields() {
    let lines = json_lines(&config_pinning_to_a_missing_cpu(""), &["--log-format", "json"], "info");
    let pin = lines
        .iter()
        .find(|l| l["msg"] == "could not pin the core thread; running unpinned")
        .unwrap_or_else(|| panic!("no pinning warning in {lines:#?}"));
    assert_eq!(pin["level"], "WARN");
    assert_eq!(pin["target"], "qt_core::engine");
    assert_eq!(pin["fields"]["cpu"], 4095);
    assert!(pin["fields"]["cpus_available"].as_u64().is_some_and(|n| n > 0), "{pin}");
    assert!(pin.get("correlation_id").is_none(), "no order caused it: {pin}");
    // The service names the run's accounts.
    assert_eq!(pin["service"], "quantum-trader/alpha,beta");
    // Lines from the main thread share the format.
    assert!(lines.iter().any(|l| l["target"] == "qt" && l["level"] == "INFO"), "{lines:#?}");
}

#[test]
fn the_config_asks_for_json_and_debug_records_carry_the_order_id() {
    let lines = json_lines(&config_pinning_to_a_missing_cpu("[log]\nformat = \"json\"\n"), &[], "info,qt_core=debug");
    let sent: Vec<&Value> = lines.iter().filter(|l| l["msg"] == "order sent").collect();
    assert!(!sent.is_empty(), "no order-sent debug records in {} lines", lines.len());
    for l in &sent {
        assert_eq!(l["level"], "DEBUG");
        assert!(l["correlation_id"].as_u64().is_some_and(|id| id > 0), "{l}");
        assert!(l["fields"]["side"] == "buy" || l["fields"]["side"] == "sell", "{l}");
        assert!(l["fields"]["qty_units"].as_i64().is_some_and(|q| q > 0), "{l}");
    }
    // Distinct orders, distinct ids.
    let mut ids: Vec<u64> = sent.iter().map(|l| l["correlation_id"].as_u64().unwrap()).collect();
    ids.dedup();
    assert!(ids.len() > 1 || sent.len() == 1, "{ids:?}");
}

#[test]
fn text_stays_the_default() {
    let (mut cmd, cwd) = util::qt_command();
    let path = cwd.0.join("run.toml");
    std::fs::write(&path, config_pinning_to_a_missing_cpu("")).unwrap();
    let out = cmd
        .env("RUST_LOG", "info")
        .args(["run", "--config", path.to_str().unwrap(), "--duration", "1s", "--pace", "max", "--no-journal"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let pin = stderr.lines().find(|l| l.contains("could not pin the core thread")).expect("the warning");
    assert!(pin.starts_with('[') && pin.contains("qt_core::engine] ") && pin.contains("cpu=4095"), "{pin}");
    assert!(serde_json::from_str::<Value>(pin).is_err());
}
