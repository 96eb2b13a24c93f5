//! `deploy/`: the Prometheus configuration and alert rules pass `promtool` (checks and the rule
//! unit tests), the Grafana dashboard is well formed, every metric the dashboard and the rules
//! query is one `qt run` exports (`util::prometheus::METRICS`), and the launch script and the systemd unit hold
//! up. Tests needing a tool that is not installed (`promtool`, `shellcheck`, `systemd-analyze`,
//! `taskset`, `python3`) print `SKIP: …` and pass; `.ci/run` installs `promtool`.

use qt_tools::exporter::{Exporter, ExporterHandle, Health, StatsSource};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

mod util;
use util::prometheus::{skip, tool};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.current_dir(repo()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// PromQL: the metric names an expression selects.

/// Words that are not metric names where they stand: operators, modifiers and the
/// aggregations, which may have `by (…)` before their parenthesis.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Keywords followed by a parenthesised list of label names, not metrics.
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// Index just past the `close` that ends the bracket opened before `from`, skipping quoted
/// strings (label values may hold any character).
fn skip_past(b: &[u8], from: usize, close: u8) -> usize {
    let mut j = from;
    while j < b.len() {
        match b[j] {
            q @ (b'"' | b'\'' | b'`') => j = skip_string(b, j + 1, q),
            c if c == close => return j + 1,
            _ => j += 1,
        }
    }
    j
}

/// Index just past the quote `q` that closes a string starting at `from`.
fn skip_string(b: &[u8], from: usize, q: u8) -> usize {
    let mut j = from;
    while j < b.len() {
        match b[j] {
            b'\\' if q != b'`' => j += 2,
            c if c == q => return j + 1,
            _ => j += 1,
        }
    }
    j
}

/// The metric names in a PromQL expression: identifiers that are not functions, keywords or
/// label names (inside `{…}`, after `by (…)` and the like), outside strings and `[…]` ranges.
/// Grafana's `$variables` only appear inside matchers and ranges, where they are skipped.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let b = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => i = skip_past(b, i + 1, b'}'),
            b'[' => i = skip_past(b, i + 1, b']'),
            q @ (b'"' | b'\'' | b'`') => i = skip_string(b, i + 1, q),
            c if c.is_ascii_digit() || c == b'.' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                    i += 1;
                }
                let word = &expr[start..i];
                let next = i + b[i..].iter().take_while(|c| c.is_ascii_whitespace()).count();
                let called = b.get(next) == Some(&b'(');
                if LABEL_LISTS.contains(&word) && called {
                    i = skip_past(b, next + 1, b')');
                } else if !called && !KEYWORDS.contains(&word) {
                    names.insert(word.to_string());
                }
            }
            _ => i += 1,
        }
    }
    names
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let cases: [(&str, &[&str]); 6] = [
        ("ess_latched == 1", &["ess_latched"]),
        ("sum by (source) (increase(ess_triggers_total[5m])) > 0", &["ess_triggers_total"]),
        (
            "sum by (instance, account) (rate(risk_gate_decisions_total{decision=\"block\", x=~\"a}b\"}[10m])) \
             / on (account) group_left (x) sum without (reason) (rate(risk_gate_decisions_total[$__rate_interval])) > 0.3",
            &["risk_gate_decisions_total"],
        ),
        (
            "histogram_quantile(0.99, sum by (le) (rate(tick_to_order_seconds_bucket{instance=~\"$instance\"}[5m])))",
            &["tick_to_order_seconds_bucket"],
        ),
        ("up{job=\"quantum-trader\"} == 0 and bool ess_latched offset 5m", &["ess_latched", "up"]),
        ("label_replace(book_valid, \"dst\", \"$1\", \"src\", \"(.*)\") or vector(1e3)", &["book_valid"]),
    ];
    for (expr, want) in cases {
        let got: Vec<_> = metric_names(expr).into_iter().collect();
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{expr}");
    }
}

fn assert_known(whose: &str, expr: &str) {
    let names = metric_names(expr);
    assert!(!names.is_empty(), "{whose}: no metric in {expr:?}");
    for name in names {
        assert!(
            util::prometheus::METRICS.contains(&name.as_str()),
            "{whose} queries {name}, which qt run does not export: {expr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Alert rules.

/// The `expr:` of every rule in a rules file as laid out in deploy/prometheus/alerts.yml: on
/// the line (`expr: …`) or as a literal block (`expr: |` and the lines indented below it).
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        i += 1;
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        let rest = rest.trim();
        if rest == "|" || rest == ">" {
            let mut block = Vec::new();
            while i < lines.len()
                && (lines[i].trim().is_empty() || lines[i].len() - lines[i].trim_start().len() > indent)
            {
                block.push(lines[i].trim());
                i += 1;
            }
            exprs.push(block.join(" ").trim().to_string());
        } else {
            exprs.push(rest.trim_matches('\'').to_string());
        }
    }
    exprs
}

#[test]
fn the_alert_rules_query_only_exported_metrics() {
    let yaml = read("deploy/prometheus/alerts.yml");
    let exprs = rule_exprs(&yaml);
    let alerts = yaml.lines().filter(|l| l.trim_start().starts_with("- alert:")).count();
    assert_eq!(exprs.len(), alerts, "one expr per alert: {exprs:#?}");
    for wanted in [
        "QtEssTriggered",
        "QtEssLatched",
        "QtExchangeFailoversFrequent",
        "QtRiskGateBlockRateHigh",
        "QtBookInvalid",
        "QtHeartbeatStale",
        "QtReconciliationDifference",
    ] {
        assert!(yaml.contains(&format!("- alert: {wanted}\n")), "alerts.yml lacks {wanted}");
    }
    for expr in &exprs {
        assert_known("alerts.yml", expr);
    }
}

#[test]
fn the_alert_unit_tests_cover_at_least_three_alerts() {
    let tests = read("deploy/prometheus/alerts_test.yml");
    let tested: BTreeSet<&str> =
        tests.lines().filter_map(|l| l.trim_start().strip_prefix("alertname:")).map(str::trim).collect();
    assert!(tested.len() >= 3, "alerts_test.yml tests only {tested:?}");
    let rules = read("deploy/prometheus/alerts.yml");
    for name in &tested {
        assert!(rules.contains(&format!("- alert: {name}\n")), "alerts_test.yml tests {name}, not in alerts.yml");
    }
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let Some(promtool) = tool("promtool", "promtool check rules") else { return };
    let out = run(Command::new(promtool).args(["check", "rules", "deploy/prometheus/alerts.yml"]));
    assert_success("promtool check rules deploy/prometheus/alerts.yml", &out);
}

#[test]
fn promtool_unit_tests_of_the_alerts_pass() {
    let Some(promtool) = tool("promtool", "promtool test rules") else { return };
    let out = run(Command::new(promtool).args(["test", "rules", "deploy/prometheus/alerts_test.yml"]));
    assert_success("promtool test rules deploy/prometheus/alerts_test.yml", &out);
}

#[test]
fn promtool_accepts_the_scrape_config() {
    let Some(promtool) = tool("promtool", "promtool check config") else { return };
    let out = run(Command::new(promtool).args(["check", "config", "deploy/prometheus/prometheus.yml"]));
    assert_success("promtool check config deploy/prometheus/prometheus.yml", &out);
}

// ---------------------------------------------------------------------------------------------
// The Grafana dashboard.

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("deploy/grafana/risk-and-resilience.json")).expect("the dashboard is JSON")
}

/// Every query of the dashboard: panel targets and template variables (`label_values(m, l)`
/// yields its metric `m`).
fn dashboard_queries(d: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel {} has a target without expr", p["title"]));
            out.push((format!("panel {}", p["title"]), expr.to_string()));
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] == "query" {
            let q = v["query"]["query"].as_str().or(v["query"].as_str()).expect("a query variable's query");
            let inner = q.strip_prefix("label_values(").and_then(|r| r.strip_suffix(')')).expect("label_values(…)");
            let metric = inner.rsplit_once(',').map_or(inner, |(m, _)| m).trim();
            out.push((format!("variable {}", v["name"]), metric.to_string()));
        }
    }
    out
}

#[test]
fn the_dashboard_has_eight_panels_a_datasource_variable_and_only_exported_metrics() {
    let d = dashboard();
    assert_eq!(d["title"], "Risk & Resilience");
    let panels: Vec<_> = d["panels"].as_array().expect("panels").iter().filter(|p| p["type"] != "row").collect();
    assert!(panels.len() >= 8, "only {} panels", panels.len());
    let vars = d["templating"]["list"].as_array().expect("templating");
    assert!(
        vars.iter().any(|v| v["type"] == "datasource" && v["name"] == "datasource" && v["query"] == "prometheus"),
        "no Prometheus datasource variable"
    );
    let mut ids = BTreeSet::new();
    for p in &panels {
        assert!(ids.insert(p["id"].as_u64().expect("panel id")), "duplicate panel id {}", p["id"]);
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {} uses a fixed datasource", p["title"]);
        assert!(!p["targets"].as_array().is_none_or(Vec::is_empty), "panel {} has no query", p["title"]);
        for t in p["targets"].as_array().into_iter().flatten() {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "a target of {} uses a fixed datasource", p["title"]);
        }
    }
    for (whose, expr) in dashboard_queries(&d) {
        assert_known(&whose, &expr);
    }
}

/// Each dashboard query, Grafana's variables replaced by values, is valid PromQL: promtool
/// parses them as the expressions of a throwaway rule file.
#[test]
fn every_dashboard_query_parses_as_promql() {
    let Some(promtool) = tool("promtool", "dashboard queries through promtool") else { return };
    let d = dashboard();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in dashboard_queries(&d).into_iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$instance", ".*")
            .replace("$account", ".*");
        assert!(!expr.contains('$'), "an unknown Grafana variable in {expr}");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard_rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = run(Command::new(promtool).arg("check").arg("rules").arg(&file));
    assert_success("promtool check rules (the dashboard's queries)", &out);
}

// ---------------------------------------------------------------------------------------------
// The launch script and the unit.

const LAUNCH: &str = "deploy/bin/qt-launch";

#[test]
fn the_launch_script_refuses_to_start_without_its_configuration() {
    let Some(bash) = tool("bash", "qt-launch without a configuration") else { return };
    let out = run(Command::new(bash).arg(LAUNCH).env("QT_CONFIG", "/nonexistent/qt.toml").env("QT_BIN", "/bin/true"));
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG, which the unit does not restart on");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/qt.toml") && err.contains("refusing to start"), "{err}");
}

#[test]
fn the_launch_script_starts_qt_on_the_housekeeping_cpus_plus_the_core_cpu() {
    let Some(bash) = tool("bash", "qt-launch's dry run") else { return };
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("cpu");
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(sys.join("online"), "0-3\n").unwrap();
    std::fs::write(sys.join("isolated"), "2\n").unwrap();
    let config = dir.path().join("qt.toml");
    std::fs::write(&config, "[journal]\ncpu = 9\n[engine]\ncpu = 2   # the quiet CPU\n").unwrap();
    let launch = |hk: Option<&str>| {
        let mut cmd = Command::new(&bash);
        cmd.arg(LAUNCH).arg("--seed").arg("7").env("QT_CONFIG", &config).env("QT_BIN", "/bin/true");
        cmd.env("QT_SYS_CPU", &sys).env("QT_LAUNCH_DRY_RUN", "1").env_remove("QT_HOUSEKEEPING_CPUS");
        if let Some(hk) = hk {
            cmd.env("QT_HOUSEKEEPING_CPUS", hk);
        }
        run(&mut cmd)
    };
    let out = launch(None);
    assert_success("qt-launch dry run", &out);
    let cmd = String::from_utf8_lossy(&out.stdout);
    let config = config.display();
    if tool("taskset", "qt-launch's taskset line").is_some() {
        assert_eq!(cmd.trim(), format!("taskset -c 0,1,3,2 /bin/true run --config {config} --seed 7"));
    }
    let out = launch(Some("0-2"));
    assert_eq!(out.status.code(), Some(78), "housekeeping CPUs that include the core CPU are refused");
}

/// With a fake `qt` (python: names one thread `qt-core`, reports every thread's CPUs), the
/// script's watcher leaves qt-core's mask alone and moves every other thread off the core CPU.
#[test]
fn the_launch_script_moves_every_thread_but_qt_core_off_the_core_cpu() {
    let (Some(bash), Some(_), Some(_)) = (
        tool("bash", "qt-launch's watcher"),
        tool("python3", "qt-launch's watcher"),
        tool("taskset", "qt-launch's watcher"),
    ) else {
        return;
    };
    let cpus: Vec<usize> = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_string())))
        .map(|list| {
            list.split(',')
                .flat_map(|part| match part.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<usize>>(),
                    None => vec![part.parse().unwrap()],
                })
                .collect()
        })
        .unwrap_or_default();
    if cpus.len() < 2 {
        skip("qt-launch's watcher: fewer than 2 CPUs allowed");
        return;
    }
    let (hk, core) = (cpus[0], cpus[1]);
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-qt");
    std::fs::write(
        &fake,
        "#!/usr/bin/env python3\n\
         import os, threading, time\n\
         def worker(name):\n\
         \x20   tid = threading.get_native_id()\n\
         \x20   open(f'/proc/self/task/{tid}/comm', 'w').write(name)\n\
         \x20   time.sleep(1.5)\n\
         \x20   seen[name] = sorted(os.sched_getaffinity(tid))\n\
         seen = {}\n\
         time.sleep(0.3)\n\
         ts = [threading.Thread(target=worker, args=(n,)) for n in ('qt-core', 'qt-journal', 'qt-stats')]\n\
         [t.start() for t in ts]\n\
         [t.join() for t in ts]\n\
         seen['main'] = sorted(os.sched_getaffinity(0))\n\
         for name, cpus in seen.items(): print(name, ','.join(map(str, cpus)))\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("qt.toml");
    std::fs::write(&config, format!("[engine]\ncpu = {core}\n")).unwrap();
    let out = run(Command::new(bash)
        .arg(LAUNCH)
        .env("QT_CONFIG", &config)
        .env("QT_BIN", &fake)
        .env("QT_HOUSEKEEPING_CPUS", hk.to_string()));
    assert_success("qt-launch with a fake qt", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mask = |name: &str| {
        stdout.lines().find_map(|l| l.strip_prefix(name).map(|m| m.trim().to_string())).unwrap_or_default()
    };
    let both = format!("{},{}", hk.min(core), hk.max(core));
    assert_eq!(mask("qt-core "), both, "qt-core keeps the start mask (the engine pins it itself): {stdout}");
    for other in ["qt-journal ", "qt-stats ", "main "] {
        assert_eq!(mask(other), hk.to_string(), "{other}moved off CPU {core}: {stdout}");
    }
}

#[test]
fn the_launch_script_is_shellcheck_clean() {
    let Some(shellcheck) = tool("shellcheck", "shellcheck qt-launch") else { return };
    let out = run(Command::new(shellcheck).args([LAUNCH, ".ci/run"]));
    assert_success("shellcheck deploy/bin/qt-launch .ci/run", &out);
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = read("deploy/systemd/quantum-trader.service");
    for needed in [
        "ExecStart=/usr/local/bin/qt-launch\n",
        "User=qt\n",
        "ProtectSystem=strict\n",
        "ReadWritePaths=/var/lib/quantum-trader /run/quantum-trader\n",
        "LimitMEMLOCK=infinity\n",
        "Restart=on-failure\n",
        "RestartPreventExitStatus=78\n",
        "KillSignal=SIGTERM\n",
        "StartLimitBurst=",
        "TimeoutStopSec=",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed:?}");
    }
    let Some(analyze) = tool("systemd-analyze", "systemd-analyze verify") else { return };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("quantum-trader.service");
    std::fs::write(&copy, &unit).unwrap();
    let out = run(Command::new(analyze).arg("verify").arg(&copy));
    // The unit names /usr/local/bin/qt-launch, which is not installed here; anything else
    // systemd says about the unit is a fault.
    let said = String::from_utf8_lossy(&out.stderr);
    let faults: Vec<&str> =
        said.lines().filter(|l| !l.contains("/usr/local/bin/qt-launch") && !l.trim().is_empty()).collect();
    assert!(faults.is_empty(), "systemd-analyze verify: {faults:#?}");
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus against the stats thread, with the deploy kit's configuration and rules.

/// A stats source serving a fixed text: a counter and a reconciliation difference.
#[derive(Debug)]
struct FixedText;

const FIXED_METRICS: &str = "\
# HELP risk_gate_decisions_total Strategy orders the risk gate decided on.
# TYPE risk_gate_decisions_total counter
risk_gate_decisions_total{account=\"0\",decision=\"allow\",reason=\"none\"} 7
# HELP reconciliation_difference Venue balance minus ours at the last reconciliation.
# TYPE reconciliation_difference gauge
reconciliation_difference{account=\"0\",asset=\"USDT\"} -1.5
";

impl StatsSource for FixedText {
    fn render_metrics(&mut self, out: &mut String) {
        out.push_str(FIXED_METRICS);
    }
    fn live(&mut self) -> Health {
        Health::from_checks(Vec::new())
    }
    fn ready(&mut self) -> Health {
        Health::from_checks(Vec::new())
    }
}

fn start_fixed() -> (ExporterHandle, SocketAddr) {
    let handle = Exporter::start("127.0.0.1:0".parse().unwrap(), FixedText, Arc::new(AtomicBool::new(false)))
        .expect("the stats thread starts");
    let addr = handle.local_addr().expect("bound");
    (handle, addr)
}

#[test]
fn promtool_check_metrics_accepts_what_the_stats_thread_serves() {
    let Some(promtool) = tool("promtool", "promtool check metrics") else { return };
    let (handle, addr) = start_fixed();
    let body = util::prometheus::http_get(addr, "/metrics").unwrap();
    assert_eq!(body, FIXED_METRICS, "served unchanged");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_success("promtool check metrics", &out);
    handle.stop();
}

/// deploy/prometheus/prometheus.yml pointed at a running stats thread (1 s intervals): a real
/// Prometheus scrapes it, answers a query for `risk_gate_decisions_total` through its HTTP API,
/// and fires `QtReconciliationDifference` from deploy/prometheus/alerts.yml.
#[test]
fn a_real_prometheus_scrapes_the_stats_thread_with_the_deploy_config() {
    let Some(prometheus) = tool("prometheus", "a real Prometheus scraping the stats thread") else { return };
    let (handle, target) = start_fixed();
    let dir = tempfile::tempdir().unwrap();
    let config = read("deploy/prometheus/prometheus.yml");
    for needed in ["\"127.0.0.1:9187\"", "scrape_interval: 5s", "evaluation_interval: 5s", "scrape_timeout: 4s"] {
        assert!(config.contains(needed), "prometheus.yml no longer has {needed}; update this test");
    }
    let config = config
        .replace("\"127.0.0.1:9187\"", &format!("\"{target}\""))
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("evaluation_interval: 5s", "evaluation_interval: 1s")
        .replace("scrape_timeout: 4s", "scrape_timeout: 1s");
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    std::fs::write(dir.path().join("alerts.yml"), read("deploy/prometheus/alerts.yml")).unwrap();
    let mut server = util::prometheus::Prometheus::start(&prometheus, dir.path());
    let mut wait_for = |q: &str| server.wait_for(q);
    let sample = wait_for("risk_gate_decisions_total");
    assert_eq!(sample["metric"]["decision"], "allow", "{sample}");
    assert_eq!(sample["metric"]["job"], "quantum-trader", "{sample}");
    assert_eq!(sample["value"][1], "7", "{sample}");
    let alert = wait_for("ALERTS{alertname=\"QtReconciliationDifference\",alertstate=\"firing\"}");
    assert_eq!(alert["metric"]["asset"], "USDT", "{alert}");
    assert!(handle.counters().snapshot().scrapes >= 1);
    handle.stop();
}
