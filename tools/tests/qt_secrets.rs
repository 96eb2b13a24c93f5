//! Secrets never appear in any output: a live run against the simulated Binance with
//! `RUST_LOG=trace`, its secret given inline in the configuration and then through an
//! environment variable, prints neither the secret nor the API key's secret in its stdout,
//! stderr (every log line at trace) or journal (`qt journal dump`, which renders the
//! configuration and every record).

mod util;
use util::binance::{qt_run_for, venue};

const SECRET: &str = "live-test-secret";

/// Runs `qt run` on `path` with `RUST_LOG=trace` and `env`, and returns everything it wrote:
/// stdout, stderr and its journal dumped.
fn all_output(path: &std::path::PathBuf, env: &[(&str, &str)]) -> String {
    let (mut cmd, cwd) = qt_run_for(path, "3s");
    cmd.env("RUST_LOG", "trace");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr (tail):\n{}", tail(&stderr));
    assert!(stdout.contains("fills"), "{stdout}");
    assert!(stderr.lines().count() > 100, "trace logging is on: {}", tail(&stderr));
    let (mut dump, _dump_cwd) = util::qt_command();
    let dump = dump.args(["journal", "dump"]).arg(cwd.0.join("journal")).output().unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let journal = String::from_utf8_lossy(&dump.stdout);
    assert!(journal.contains("config"), "the dump holds the configuration record: {}", tail(&journal));
    format!("{stdout}\n{stderr}\n{journal}")
}

fn tail(s: &str) -> String {
    s.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

#[test]
fn a_trace_logged_run_never_prints_the_secret_given_inline_or_by_environment() {
    let (mut server, _market, path) = venue("secrets");
    let inline = all_output(&path, &[]);
    assert!(!inline.contains(SECRET), "the inline secret leaked");

    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains(&format!("secret = \"{SECRET}\"")));
    std::fs::write(&path, config.replace(&format!("secret = \"{SECRET}\""), "secret_env = \"QT_TEST_SECRET\""))
        .unwrap();
    let from_env = all_output(&path, &[("QT_TEST_SECRET", SECRET)]);
    assert!(!from_env.contains(SECRET), "the secret from the environment leaked");
    server.shutdown();
}
