//! `qt stress` as a command (issue #21 item 4): the scenario list, an unknown scenario refused
//! with the list, and every run counted in `stress_scenario_runs_total{scenario,result}` — in
//! its stats file (read back with `qt stat --file --json`) and in the node_exporter textfile the
//! configuration's `[stats] textfile` names. The scenarios' own behaviour is tested in
//! `qt_stress_market.rs`, `qt_stress_venue.rs` and `qt_stress_swap.rs`.

mod util;

use std::path::Path;

const SCENARIOS: [&str; 7] = [
    "flash_crash",
    "exchange_outage",
    "stale_feed",
    "ack_latency_spike",
    "liquidity_drought",
    "correlation_shock",
    "strategy_swap",
];

#[test]
fn the_list_names_all_seven_with_what_each_checks() {
    let (mut cmd, _cwd) = util::qt_command();
    let out = cmd.args(["stress", "--list"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in SCENARIOS {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} listed: {text}"));
        assert!(!line.contains("not built"), "{line}");
        assert!(line.len() > name.len() + 20, "{name} says what it checks: {line}");
    }
}

#[test]
fn an_unknown_scenario_is_refused_naming_the_scenarios() {
    let (mut cmd, _cwd) = util::qt_command();
    let out = cmd.args(["stress", "meteor-strike"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("meteor-strike") && err.contains("flash_crash") && err.contains("strategy_swap"), "{err}");
}

/// The value of `stress_scenario_runs_total` with these labels in a `qt stat --json` object.
fn runs(stat: &serde_json::Value, scenario: &str, result: &str) -> Option<u64> {
    let metrics = stat["metrics"].as_array()?;
    metrics
        .iter()
        .find(|m| {
            m["name"] == "stress_scenario_runs_total"
                && m["labels"]["scenario"] == scenario
                && m["labels"]["result"] == result
        })
        .and_then(|m| m["value"].as_u64())
}

#[test]
fn a_run_and_a_failed_run_are_counted_in_the_stats_file_and_the_textfile() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stress.stats");
    let textfile = dir.path().join("qt-stress.prom");
    // The embedded default with a textfile, and the same with the drawdown trigger out of reach.
    let default = format!(
        "{}\n[stats]\ntextfile = \"{}\"\n",
        include_str!("../../examples/sim.toml").split("\n[stats]").next().unwrap(),
        textfile.display()
    );
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, &default).unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, default.replace("max_drawdown = \"0.15\"", "max_drawdown = \"0.99\"")).unwrap();
    assert_ne!(std::fs::read_to_string(&broken).unwrap(), default, "the example sets max_drawdown = \"0.15\"");

    let run = |config: &Path| {
        let (mut cmd, _cwd) = util::qt_command();
        cmd.args(["stress", "flash-crash", "--short", "--config"])
            .arg(config)
            .arg("--stats-file")
            .arg(&stats)
            .output()
            .unwrap()
    };
    let passed = run(&cfg);
    let stdout = String::from_utf8_lossy(&passed.stdout);
    assert_eq!(passed.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&passed.stderr));

    let (mut cmd, _cwd) = util::qt_command();
    let stat = cmd.args(["stat", "--json", "--file"]).arg(&stats).output().unwrap();
    let stat: serde_json::Value = serde_json::from_slice(&stat.stdout).expect("qt stat --json");
    assert_eq!(runs(&stat, "flash_crash", "pass"), Some(1), "{stat}");
    assert_eq!(runs(&stat, "flash_crash", "fail"), Some(0));
    assert_eq!(runs(&stat, "strategy_swap", "pass"), Some(0), "every scenario's series exists");
    let prom = std::fs::read_to_string(&textfile).expect("the textfile is written when qt stress ends");
    assert!(prom.contains("stress_scenario_runs_total{scenario=\"flash_crash\",result=\"pass\"} 1"), "{prom}");

    // A new run writes a new file: the broken configuration's FAIL is counted there.
    let failed = run(&broken);
    assert_eq!(failed.status.code(), Some(1), "{}", String::from_utf8_lossy(&failed.stdout));
    let prom = std::fs::read_to_string(&textfile).unwrap();
    assert!(prom.contains("stress_scenario_runs_total{scenario=\"flash_crash\",result=\"fail\"} 1"), "{prom}");
    assert!(prom.contains("stress_scenario_runs_total{scenario=\"flash_crash\",result=\"pass\"} 0"), "{prom}");
}
