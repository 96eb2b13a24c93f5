//! `qt stress`: seven scenarios that drive real data through the real engine and judge its risk
//! behaviour, each printing PASS or FAIL with the reason.
//!
//! A scenario ([`Scenario`]) is a function of a [`StressCtx`]: the seed, whether to run the
//! short form (the test suite's), a scratch directory, and the **risk configuration under test**
//! ([`RiskUnderTest`]: `[risk]`, `[ess]` flatten/drawdown settings, `[global_risk]` and the first
//! account's capital profile from `--config`, or from the embedded default). The scenario builds
//! its own run — instruments, accounts, strategies, the market it injects — applies the risk
//! configuration under test to it (written into its text, [`overlay`]), runs it (the in-process simulated
//! venue, or the venue simulator on loopback with its faults), and returns a [`Verdict`]: the
//! checks it made, each passed or failed with what it saw. A risk configuration that lets the
//! scenario's danger through makes the verdict FAIL, naming the check.
//!
//! The runner ([`run_scenarios`]) counts every run in its stats file's
//! `stress_scenario_runs_total{scenario,result}` ([`qt_core::stats::blocks::StressStats`]), which
//! `qt stat --file`, `/metrics` (`[stats] listen`, while it runs) and the node_exporter textfile
//! (`[stats] textfile`, written when it ends) show. A `qt run`'s file carries the same family at
//! zero ([`place_in_run`]).
//!
//! Split by role: this file (the table, the context, the verdict, the runner) and one file per
//! scenario.

pub mod ack_latency_spike;
pub mod chain;
pub mod command;
pub mod correlation_shock;
pub mod exchange_outage;
pub mod flash_crash;
pub mod liquidity_drought;
pub mod live_journal;
pub mod live_run;
pub mod overlay;
pub mod sim_run;
pub mod stale_feed;
pub mod strategy_swap;
pub mod swap_trail;

pub use command::StressArgs;

use crate::config::{AccountPlan, Plan};
use qt_core::routing::{HealthSettings, RouterSettings};
use qt_core::stats::blocks::{MAX_STRESS_SCENARIOS, StressStats};
use qt_core::stats::{Owner, StatsHandle, StatsRegion};
use qt_risk::gate::GateSettings;
use qt_risk::global_level::GlobalRiskConfig;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why a scenario could not run at all (a scenario that ran and saw the wrong behaviour is a
/// failed [`Verdict`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum StressError {
    /// No scenario has this name.
    #[error("no stress scenario {0:?}; the scenarios: {list}", list = names().join(", "))]
    Unknown(String),
    /// The scenario's run could not be set up or ended in an error.
    #[error("{scenario}: {source:#}")]
    Run {
        /// The scenario.
        scenario: &'static str,
        /// What went wrong.
        source: anyhow::Error,
    },
}

/// One scenario of the table.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name on the command line and in the metric's `scenario` label.
    pub name: &'static str,
    /// One line: what it injects and what it expects.
    pub about: &'static str,
    /// Runs it.
    pub run: fn(&StressCtx) -> anyhow::Result<Verdict>,
}

/// Every scenario, in the order `--all` runs them.
pub static SCENARIOS: [Scenario; 7] = [
    Scenario { name: flash_crash::NAME, about: flash_crash::ABOUT, run: flash_crash::run },
    Scenario { name: exchange_outage::NAME, about: exchange_outage::ABOUT, run: exchange_outage::run },
    Scenario { name: stale_feed::NAME, about: stale_feed::ABOUT, run: stale_feed::run },
    Scenario { name: ack_latency_spike::NAME, about: ack_latency_spike::ABOUT, run: ack_latency_spike::run },
    Scenario { name: liquidity_drought::NAME, about: liquidity_drought::ABOUT, run: liquidity_drought::run },
    Scenario { name: correlation_shock::NAME, about: correlation_shock::ABOUT, run: correlation_shock::run },
    Scenario { name: strategy_swap::NAME, about: strategy_swap::ABOUT, run: strategy_swap::run },
];

const _: () = assert!(SCENARIOS.len() == MAX_STRESS_SCENARIOS);

/// The scenarios' names, in table order.
pub fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.name).collect()
}

/// The scenario called `name` (`-` and `_` alike), with its index in the table.
pub fn find(name: &str) -> Result<(usize, &'static Scenario), StressError> {
    let wanted = name.replace('-', "_");
    SCENARIOS.iter().enumerate().find(|(_, s)| s.name == wanted).ok_or_else(|| StressError::Unknown(name.to_string()))
}

/// The risk configuration a stress run tests: the parts of a `qt run` configuration that decide
/// risk behaviour.
#[derive(Debug, Clone)]
pub struct RiskUnderTest {
    /// Where it came from (`--config` path or the embedded default).
    pub source: String,
    /// Its configuration text (credentials redacted): written into each scenario's own text
    /// ([`overlay::overlay`]), so a scenario's journal records the configuration that ran.
    pub text: String,
    /// `[risk]` and the `[ess]` flatten and drawdown settings.
    pub gate: GateSettings,
    /// `[global_risk]` (its correlation buckets are the scenario's own: they name its symbols).
    pub global_risk: GlobalRiskConfig,
    /// The configuration's first account: its capital profile and limits apply to every account
    /// of a scenario (each keeps its own name, venues, strategies and starting equity).
    pub account: Option<AccountPlan>,
    /// `[failover]`: the router's hysteresis and the venue-health thresholds (risk behaviour
    /// too: when a venue stops being used, and when the whole chain counts as down).
    pub failover: (RouterSettings, HealthSettings),
    /// `[engine] swap_policy`: the hand-over of a strategy swap (strategy_swap).
    pub swap_policy: qt_core::strategy::swap::SwapPolicy,
}

impl RiskUnderTest {
    /// The risk configuration of `plan`.
    pub fn of(plan: &Plan, source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            text: plan.source_text.clone(),
            gate: plan.risk,
            global_risk: plan.global_risk.clone(),
            account: plan.accounts.first().cloned(),
            failover: (plan.routing.router, plan.routing.health),
            swap_policy: plan.swap_policy,
        }
    }
}

/// What a scenario is given.
#[derive(Debug, Clone)]
pub struct StressCtx {
    /// Seed of everything random in the scenario (same seed, same verdict).
    pub seed: u64,
    /// The short form (the test suite's): fewer simulated seconds, the same checks.
    pub short: bool,
    /// A scratch directory of this scenario's own (journals, certificates).
    pub work_dir: PathBuf,
    /// The risk configuration under test.
    pub risk: RiskUnderTest,
}

impl StressCtx {
    /// A scenario's plan from its own configuration text (`name` names it in errors), with the
    /// risk configuration under test applied, the stats file off (the stress run's own file
    /// counts the verdicts) and the journal in the scratch directory.
    pub fn plan(&self, text: &str, name: &str) -> anyhow::Result<Plan> {
        let text = overlay::overlay(text, &self.risk.text)?;
        let mut plan = crate::config::load(&text, name)?;
        plan.stats.enabled = false;
        plan.stats.listen = None;
        plan.stats.textfile = None;
        if let Some(journal) = plan.journal.as_mut() {
            journal.dir = self.work_dir.join("journal");
        }
        Ok(plan)
    }
}

/// One check a scenario made.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked, e.g. "price band blocks orders far from mid".
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen (numbers), e.g. "12 of 12 orders beyond 5 % blocked (price_band)".
    pub detail: String,
}

/// A scenario's judgement: it passes when every check does.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    /// The checks, in the order made.
    pub checks: Vec<Check>,
    /// Facts worth printing that are not checks (orders sent, fills, levels reached).
    pub facts: Vec<(String, String)>,
}

impl Verdict {
    /// Records a check.
    pub fn check(&mut self, name: impl Into<String>, passed: bool, detail: impl Into<String>) -> &mut Self {
        self.checks.push(Check { name: name.into(), passed, detail: detail.into() });
        self
    }

    /// Records a fact.
    pub fn fact(&mut self, name: impl Into<String>, value: impl ToString) -> &mut Self {
        self.facts.push((name.into(), value.to_string()));
        self
    }

    /// Whether every check held (a verdict without checks does not pass).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The reason in one line: the failed checks' names and details, or that all held.
    pub fn reason(&self) -> String {
        if self.checks.is_empty() {
            return "no check was made".into();
        }
        let failed: Vec<String> =
            self.checks.iter().filter(|c| !c.passed).map(|c| format!("{}: {}", c.name, c.detail)).collect();
        if failed.is_empty() { format!("all {} checks held", self.checks.len()) } else { failed.join("; ") }
    }
}

/// One scenario's outcome in a stress run.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The scenario.
    pub scenario: &'static str,
    /// PASS or FAIL.
    pub passed: bool,
    /// Why, in one line.
    pub reason: String,
    /// The verdict (`None`: the scenario could not run; `reason` says why).
    pub verdict: Option<Verdict>,
    /// Wall time.
    pub seconds: f64,
}

/// The stress run's block in its stats file.
pub fn stats_block(region: &StatsRegion) -> anyhow::Result<StatsHandle<StressStats>> {
    let names = names();
    region
        .block_with(Owner::Main, &[], |b: &StressStats, d| b.describe_with(d, &names))
        .map_err(|e| anyhow::anyhow!("stats: {e}"))
}

/// Places the stress family, at zero, in a `qt run`'s stats file: `stress_scenario_runs_total`
/// then exists on every engine instance a dashboard watches, with each scenario's labels, while
/// `qt stress` counts its runs in its own file. A file without room logs and goes on.
pub fn place_in_run(region: &StatsRegion) {
    if let Err(e) = stats_block(region) {
        log::warn!("{e}: stress_scenario_runs_total is not exported by this run");
    }
}

/// Which scenarios a stress run runs, and how.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Indices into [`SCENARIOS`], in the order run.
    pub which: Vec<usize>,
    /// [`StressCtx::seed`].
    pub seed: u64,
    /// [`StressCtx::short`].
    pub short: bool,
}

/// Runs the selected scenarios one after another, printing each verdict to `out` as it comes
/// (a table, or one JSON object per line with `json`) and counting it in `stats`.
pub fn run_scenarios(
    selection: &Selection,
    risk: &RiskUnderTest,
    work_dir: &std::path::Path,
    stats: Option<&StressStats>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<Outcome>> {
    let Selection { which, seed, short } = selection;
    let (seed, short) = (*seed, *short);
    let mut outcomes = Vec::with_capacity(which.len());
    if !json {
        writeln!(
            out,
            "qt stress: {} scenario(s), seed {seed}{}, risk configuration: {}",
            which.len(),
            if short { ", short form" } else { "" },
            risk.source
        )?;
    }
    for &index in which {
        let scenario = &SCENARIOS[index];
        let dir = work_dir.join(scenario.name);
        std::fs::create_dir_all(&dir)?;
        let ctx = StressCtx { seed, short, work_dir: dir, risk: risk.clone() };
        let started = Instant::now();
        let result = (scenario.run)(&ctx);
        let seconds = started.elapsed().as_secs_f64();
        let outcome = match result {
            Ok(verdict) => Outcome {
                scenario: scenario.name,
                passed: verdict.passed(),
                reason: verdict.reason(),
                verdict: Some(verdict),
                seconds,
            },
            Err(e) => Outcome {
                scenario: scenario.name,
                passed: false,
                reason: StressError::Run { scenario: scenario.name, source: e }.to_string(),
                verdict: None,
                seconds,
            },
        };
        if let Some(counter) = stats.and_then(|s| s.run(index, outcome.passed)) {
            counter.incr();
        }
        if json {
            writeln!(out, "{}", serde_json::to_string(&outcome)?)?;
        } else {
            print_outcome(&outcome, out)?;
        }
        outcomes.push(outcome);
    }
    if !json {
        let passed = outcomes.iter().filter(|o| o.passed).count();
        writeln!(out, "{passed} of {} passed", outcomes.len())?;
    }
    Ok(outcomes)
}

fn print_outcome(o: &Outcome, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{} {} ({:.1} s): {}", if o.passed { "PASS" } else { "FAIL" }, o.scenario, o.seconds, o.reason)?;
    if let Some(v) = &o.verdict {
        for c in &v.checks {
            writeln!(out, "    [{}] {}: {}", if c.passed { "ok" } else { "FAILED" }, c.name, c.detail)?;
        }
        for (k, v) in &v.facts {
            writeln!(out, "    {k}: {v}")?;
        }
    }
    Ok(())
}

/// How long a scratch directory is kept: removed when the run passes, kept (and named) when a
/// scenario fails, so its journal can be inspected.
pub fn keep_scratch(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| !o.passed)
}

/// A duration in a scenario's configuration text, e.g. `secs(ctx, 20, 6)`: the full form's or
/// the short form's.
pub fn sim_seconds(ctx: &StressCtx, full: u64, short: u64) -> Duration {
    Duration::from_secs(if ctx.short { short } else { full })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_passes_only_when_it_checked_something_and_every_check_held() {
        let mut v = Verdict::default();
        assert!(!v.passed(), "no check: no pass");
        assert_eq!(v.reason(), "no check was made");
        v.check("price band holds", true, "12 of 12 blocked");
        assert!(v.passed());
        v.check("drawdown trips the stop", false, "drawdown 0.21 reached, ESS armed");
        assert!(!v.passed());
        assert_eq!(v.reason(), "drawdown trips the stop: drawdown 0.21 reached, ESS armed");
    }

    #[test]
    fn the_risk_configuration_under_test_replaces_the_scenarios_own() {
        let tested = crate::config::EMBEDDED_DEFAULT.replace("price_band = \"0.05\"", "price_band = \"0.9\"");
        let tested = crate::config::load(&tested, "tested").unwrap();
        let risk = RiskUnderTest::of(&tested, "tested");
        let dir = tempfile::tempdir().unwrap();
        let ctx = StressCtx { seed: 1, short: true, work_dir: dir.path().to_path_buf(), risk };
        let plan = ctx.plan(crate::config::EMBEDDED_DEFAULT, "scenario").unwrap();
        assert_eq!(plan.risk.price_band, tested.risk.price_band);
        assert_ne!(
            plan.risk.price_band,
            crate::config::load(crate::config::EMBEDDED_DEFAULT, "d").unwrap().risk.price_band
        );
        assert!(!plan.stats.enabled, "a scenario's run never writes the engine's stats file");
    }

    #[test]
    fn a_scenarios_text_carries_the_risk_configuration_under_test_so_its_journal_replays() {
        let changed = crate::config::EMBEDDED_DEFAULT
            .replace("price_band = \"0.05\"", "price_band = \"0.2\"")
            .replace("max_drawdown = \"0.15\"", "max_drawdown = \"0.3\"")
            .replace("return_after = \"30s\"", "return_after = \"7s\"")
            .replace("min_dwell = \"5s\"", "min_dwell = \"9s\"")
            .replace("[engine]\n", "[engine]\nswap_policy = \"cancel_replace\"\n")
            .replacen("profile = \"micro\"", "profile = \"small\"", 1);
        let tested = crate::config::load(&changed, "tested").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let risk = RiskUnderTest::of(&tested, "tested");
        let ctx = StressCtx { seed: 1, short: true, work_dir: dir.path().to_path_buf(), risk: risk.clone() };
        // The scenario's own text says otherwise everywhere; the overlaid text alone must
        // give the tested settings, since that text is what the journal keeps.
        let scenario = crate::config::EMBEDDED_DEFAULT.replace("price_band = \"0.05\"", "price_band = \"0.01\"");
        let text = overlay::overlay(&scenario, &risk.text).unwrap();
        let from_text = crate::config::load(&text, "scenario").unwrap();
        assert_eq!(from_text.risk, tested.risk);
        assert_eq!(from_text.global_risk.min_dwell, tested.global_risk.min_dwell);
        assert_eq!(from_text.routing.router, tested.routing.router);
        assert_eq!(from_text.swap_policy, tested.swap_policy);
        assert_eq!(from_text.accounts[0].spec.profile, tested.accounts[0].spec.profile);
        assert_eq!(from_text.accounts[1].spec.limits, tested.accounts[0].spec.limits);
        let plan = ctx.plan(&scenario, "scenario").unwrap();
        assert_eq!(plan.risk, from_text.risk);
        assert!(plan.source_text.contains("0.2"), "the journaled text holds the tested price band");
    }

    #[test]
    fn scenarios_are_found_by_either_spelling_and_an_unknown_one_lists_them() {
        assert_eq!(find("flash-crash").unwrap().0, 0);
        let e = find("meteor").unwrap_err().to_string();
        assert!(e.contains("meteor") && e.contains("strategy_swap"), "{e}");
    }
}
