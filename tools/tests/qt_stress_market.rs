//! `qt stress` market scenarios (flash_crash, liquidity_drought, correlation_shock) end to end:
//! the real binary, the short form, the embedded default risk configuration (each must PASS with
//! its checks printed) and a deliberately broken one (each must FAIL, exit 1, naming the check).

mod util;
use util::qt;

/// `testdata/stress/NAME` from the workspace root.
fn testdata(name: &str) -> String {
    format!("{}/../testdata/stress/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `qt stress SCENARIO --short` with `extra` arguments: exit code, stdout, stderr.
fn stress(scenario: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["stress", scenario, "--short", "--no-stats"];
    args.extend_from_slice(extra);
    qt(&args)
}

/// Asserts a PASS with every one of `checks` printed as held.
fn assert_passes(scenario: &str, checks: &[&str]) {
    let (code, out, err) = stress(scenario, &[]);
    assert_eq!(code, 0, "{scenario} must pass under the default risk configuration:\n{out}\nstderr: {err}");
    assert!(out.contains(&format!("PASS {scenario}")), "{out}");
    for check in checks {
        assert!(out.contains(&format!("[ok] {check}: ")), "check {check:?} not printed as held:\n{out}");
    }
}

/// Asserts a FAIL under the broken configuration `config`, its reason naming `check`.
fn assert_fails(scenario: &str, config: &str, check: &str) {
    let path = testdata(config);
    let (code, out, err) = stress(scenario, &["--config", &path]);
    assert_eq!(code, 1, "{scenario} must fail under {config}:\n{out}\nstderr: {err}");
    let verdict = out.lines().find(|l| l.starts_with(&format!("FAIL {scenario} "))).unwrap_or_else(|| panic!("{out}"));
    assert!(verdict.contains(check), "the reason must name {check:?}: {verdict}");
    assert!(out.contains(&format!("[FAILED] {check}: ")), "{out}");
}

#[test]
fn flash_crash_passes_under_the_default_risk_configuration() {
    assert_passes(
        "flash_crash",
        &[
            "global risk level escalates",
            "risk gate blocks or scales down during the crash",
            "drawdown trigger fires the emergency stop",
            "flatten orders within the slippage cap",
        ],
    );
}

#[test]
fn flash_crash_fails_when_the_drawdown_limit_is_switched_off() {
    assert_fails("flash_crash", "broken-drawdown.toml", "drawdown trigger fires the emergency stop");
}

#[test]
fn liquidity_drought_passes_under_the_default_risk_configuration() {
    assert_passes(
        "liquidity_drought",
        &[
            "price band holds for every accepted order",
            "price band stops the drought's takers",
            "order size and position cap hold for every accepted order",
            "single-trade risk holds for every accepted order",
        ],
    );
}

#[test]
fn liquidity_drought_fails_when_the_price_band_is_switched_off() {
    assert_fails("liquidity_drought", "broken-price-band.toml", "price band stops the drought's takers");
}

#[test]
fn liquidity_drought_json_is_one_object_with_its_checks() {
    let (code, out, err) = stress("liquidity_drought", &["--json"]);
    assert_eq!(code, 0, "{out}\nstderr: {err}");
    let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{out}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["scenario"], "liquidity_drought");
    assert_eq!(v["passed"], true);
    let checks = v["verdict"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{line}");
    assert!(checks.iter().all(|c| c["passed"] == true && c["detail"].as_str().is_some_and(|d| !d.is_empty())));
}

#[test]
fn correlation_shock_passes_under_the_default_risk_configuration() {
    assert_passes("correlation_shock", &["volatility or concentration raises the global level", "exposure is cut"]);
}

#[test]
fn correlation_shock_fails_when_volatility_and_concentration_are_out_of_reach() {
    assert_fails(
        "correlation_shock",
        "broken-global-level.toml",
        "volatility or concentration raises the global level",
    );
}

#[test]
fn the_same_seed_gives_the_same_verdict() {
    let verdict = || {
        let (code, out, err) = stress("flash_crash", &["--json", "--seed", "3"]);
        assert_eq!(code, 0, "{out}\nstderr: {err}");
        let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{out}")).to_string();
        let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["seconds"] = serde_json::Value::Null; // wall time
        v
    };
    assert_eq!(verdict(), verdict());
}
