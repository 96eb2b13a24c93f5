//! `qt preflight`: the GO-LIVE gate. Checks, before a live run, everything that would stop it
//! or make it unsafe, and prints one line per check — `PASS|FAIL|SKIP name: why` — or, with
//! `--json`, an array of `{"name","status","why"}`. Any FAIL makes the command exit non-zero.
//!
//! | check | what it does | module |
//! |---|---|---|
//! | `config` | the configuration loads and validates (every problem, with its field) | here |
//! | `keys` | API keys and secrets present; files holding them (`ess.reset_secret_file`, a config with inline keys) readable by their owner only | [`keys`] |
//! | `journal-dir` | the journal directory (or the folder it will be made in) is writable and has `--min-free` bytes free | [`journal`] |
//! | `ess`, `global-risk` | the journal's last risk state: the emergency stop not triggered or latched, the global level not CRITICAL | [`journal`] |
//! | `venue <v>`, `clock-skew <v>` | each venue answers its public time endpoint over TLS; our clock within `--max-skew` of it | [`venues`] |
//! | `instruments <v>` | the venue's tick and lot sizes equal ours (Binance spot and USD-M, OKX spot, KuCoin) | [`venues`] |
//! | `stats-file` | the stats file can be written: a named one not held by a running engine, its folder writable | here |
//! | `metrics-port` | the metrics address (`--metrics`, else `[stats] listen`) can be bound | here |
//!
//! Main thread only; blocks on the network (each request bounded by the feed's HTTPS timeout)
//! and allocates. Never prints a secret: only file names, modes and variable names.

pub mod journal;
pub mod keys;
pub mod venues;

use crate::config::{self, Plan};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Fine.
    Pass,
    /// Not fit to go live.
    Fail,
    /// Not applicable, or not checkable (says why).
    Skip,
}

impl Status {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name, e.g. `journal-dir` or `venue binance`.
    pub name: String,
    /// Its outcome.
    pub status: Status,
    /// Why, in a sentence naming what was looked at.
    pub why: String,
}

impl Check {
    /// A passing check.
    pub fn pass(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self { name: name.into(), status: Status::Pass, why: why.into() }
    }

    /// A failing check.
    pub fn fail(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self { name: name.into(), status: Status::Fail, why: why.into() }
    }

    /// A skipped check.
    pub fn skip(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self { name: name.into(), status: Status::Skip, why: why.into() }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.label(), self.name, self.why)
    }
}

/// What `qt preflight` was asked.
#[derive(Debug, Clone)]
pub struct PreflightArgs {
    /// The configuration file (`None`: the embedded default).
    pub config: Option<PathBuf>,
    /// Largest clock difference to a venue accepted.
    pub max_skew: Duration,
    /// Least free space in the journal directory, bytes.
    pub min_free: u64,
    /// The metrics address to check instead of the configuration's `[stats] listen`.
    pub metrics: Option<String>,
}

/// Default `--max-skew`.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(1);
/// Default `--min-free`: 1 GiB.
pub const DEFAULT_MIN_FREE: u64 = 1 << 30;

/// Runs every check, in the order of the module doc.
pub fn run(args: &PreflightArgs) -> Vec<Check> {
    let mut checks = Vec::new();
    let (text, name) = match &args.config {
        Some(p) => match config::read_file(p) {
            Ok(t) => (t, p.display().to_string()),
            Err(e) => {
                checks.push(Check::fail("config", problems(&e)));
                return checks;
            }
        },
        None => (config::EMBEDDED_DEFAULT.to_string(), "(embedded default: examples/sim.toml)".to_string()),
    };
    let plan = match config::load(&text, &name) {
        Ok(plan) => {
            checks.push(Check::pass("config", config_summary(&name, &plan)));
            Some(plan)
        }
        Err(e) => {
            checks.push(Check::fail("config", problems(&e)));
            None
        }
    };
    checks.push(keys::check(&text, args.config.as_deref()));
    let Some(plan) = plan else {
        for name in ["journal-dir", "ess", "global-risk", "venues", "stats-file", "metrics-port"] {
            checks.push(Check::skip(name, "the configuration is invalid"));
        }
        return checks;
    };
    checks.push(journal::check_dir(&plan, args.min_free));
    checks.extend(journal::check_risk_state(&plan));
    checks.extend(venues::check_all(&plan, args.max_skew));
    checks.push(stats_file(&plan.stats));
    let listen = args.metrics.clone().or_else(|| plan.stats.listen.map(|a| a.to_string()));
    checks.push(metrics_port(listen.as_deref()));
    checks
}

/// Whether the run can write its stats file: a file named in the configuration must not be held
/// by a running engine (the default one may be: the run then writes a per-pid file beside it),
/// and its directory must take a new file.
pub fn stats_file(stats: &config::StatsPlan) -> Check {
    const NAME: &str = "stats-file";
    if !stats.enabled {
        return Check::skip(NAME, "[stats] enabled = false");
    }
    let named = stats.file.is_some();
    let path = stats.file.clone().unwrap_or_else(crate::stat::files::default_path);
    if let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(&path) {
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {
                let _ = fs4::FileExt::unlock(&file);
                return Check::pass(NAME, format!("{} can be taken over (no running engine holds it)", path.display()));
            }
            Err(fs4::TryLockError::WouldBlock) if named => {
                return Check::fail(NAME, format!("{} is held by a running engine ([stats] file)", path.display()));
            }
            Err(fs4::TryLockError::WouldBlock) => {
                return Check::pass(
                    NAME,
                    format!(
                        "{} is held by a running engine; this run would write a per-pid file beside it",
                        path.display()
                    ),
                );
            }
            Err(fs4::TryLockError::Error(e)) => {
                return Check::fail(NAME, format!("{}: cannot lock: {e}", path.display()));
            }
        }
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let probe = dir.join(format!(".qt-preflight-stats-{}", std::process::id()));
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&probe);
    let _ = std::fs::remove_file(&probe);
    match created {
        Ok(_) => Check::pass(NAME, format!("{} can be created", path.display())),
        Err(e) => Check::fail(NAME, format!("{}: cannot create a file in {}: {e}", path.display(), dir.display())),
    }
}

/// Every problem of `e` on one line, each with its field.
fn problems(e: &config::ConfigError) -> String {
    let each: Vec<String> = e.problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    format!("{} is invalid: {}", e.source_name, each.join("; "))
}

fn config_summary(name: &str, plan: &Plan) -> String {
    format!(
        "{name}: {} instrument(s), {} account(s), {} strateg(ies), {}",
        plan.instruments.len(),
        plan.accounts.len(),
        plan.strategies.len(),
        if plan.is_live() {
            format!("{} live venue(s)", plan.venues.len())
        } else {
            "the built-in simulated venue".to_string()
        }
    )
}

/// Whether the metrics address (`--metrics ADDR`, else `[stats] listen`) can be bound now
/// (nothing else listening there).
pub fn metrics_port(addr: Option<&str>) -> Check {
    const NAME: &str = "metrics-port";
    let Some(addr) = addr else {
        return Check::skip(NAME, "no metrics address configured ([stats] listen or --metrics ADDR)");
    };
    match std::net::TcpListener::bind(addr) {
        Ok(l) => {
            Check::pass(NAME, format!("{} can be bound", l.local_addr().map_or(addr.to_string(), |a| a.to_string())))
        }
        Err(e) => Check::fail(NAME, format!("cannot bind {addr}: {e}")),
    }
}

/// The checks as text lines (one per check, newline-terminated).
pub fn to_text(checks: &[Check]) -> String {
    checks.iter().map(|c| format!("{c}\n")).collect()
}

/// The checks as a JSON array.
pub fn to_json(checks: &[Check]) -> String {
    serde_json::to_string_pretty(checks).unwrap_or_else(|_| "[]".into())
}

/// Whether any check failed.
pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_name_each_check() {
        let checks = vec![Check::pass("config", "ok"), Check::fail("keys", "k: mode 0644"), Check::skip("x", "n/a")];
        assert_eq!(to_text(&checks), "PASS config: ok\nFAIL keys: k: mode 0644\nSKIP x: n/a\n");
        let v: serde_json::Value = serde_json::from_str(&to_json(&checks)).unwrap();
        assert_eq!(v[1]["status"], "FAIL");
        assert_eq!(v[1]["name"], "keys");
        assert!(any_failed(&checks));
        assert!(!any_failed(&checks[..1]));
    }

    #[test]
    fn a_bound_port_fails_naming_the_address() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap().to_string();
        let c = metrics_port(Some(&addr));
        assert_eq!(c.status, Status::Fail, "{c}");
        assert!(c.why.contains(&addr), "{c}");
        drop(held);
        assert_eq!(metrics_port(Some(&addr)).status, Status::Pass);
        assert_eq!(metrics_port(None).status, Status::Skip);
    }
}
