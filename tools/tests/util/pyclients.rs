//! Third-party Python exchange clients against `qt venue-sim` (issue #18): the virtual
//! environment `.ci/run` makes (`target/pyclients`, packages pinned in
//! `tools/tests/clients/requirements.txt`; `QT_PYCLIENTS_PYTHON` names another interpreter),
//! and a runner for the scripts in `tools/tests/clients/`.
//!
//! A script is run unmodified-client style: it gets the simulator's base URL and CA file in its
//! environment (`QT_SIM_URL`, `QT_SIM_WS_URL`, `QT_SIM_CA`, plus `SSL_CERT_FILE` and
//! `REQUESTS_CA_BUNDLE` so libraries that read those trust the simulator), how long to stream
//! (`QT_SECONDS`), and prints one JSON object on its last stdout line: what it saw
//! (messages, checksum mismatches, sequence breaks, HTTP errors, …). Where Python or a package
//! is missing the test skips, saying what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The interpreter with the clients installed, or `None` (after a SKIP line) when it or one of
/// `modules` is missing.
pub(crate) fn python(test: &str, modules: &[&str]) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let python = std::env::var_os("QT_PYCLIENTS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/pyclients/bin/python"));
    if !python.is_file() {
        skip(&format!(
            "{test}: no Python clients at {} (python3 -m venv target/pyclients && target/pyclients/bin/pip install -r tools/tests/clients/requirements.txt)",
            python.display()
        ));
        return None;
    }
    for m in modules {
        let ok = Command::new(&python)
            .args(["-c", &format!("import {m}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip(&format!("{test}: Python module `{m}` is not installed in {}", python.display()));
            return None;
        }
    }
    Some(python)
}

fn skip(why: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("SKIP: {why}\n").as_bytes());
}

/// What a client script reported (its last stdout line, JSON), with its whole output for
/// failure messages.
pub(crate) struct Report {
    /// The parsed last line.
    pub(crate) json: serde_json::Value,
    /// stdout and stderr, for assertion messages.
    pub(crate) output: String,
}

impl Report {
    /// A number the script reported (0 when absent).
    pub(crate) fn n(&self, key: &str) -> u64 {
        self.json[key].as_u64().unwrap_or(0)
    }
}

/// Runs `tools/tests/clients/<script>` with `python` against the simulator listener at `addr`
/// (CA file `ca`) for `seconds` of streaming; fails the test if it exits non-zero, overruns
/// `seconds + 60 s`, or prints no JSON last line.
pub(crate) fn run(python: &Path, script: &str, addr: std::net::SocketAddr, ca: &Path, seconds: u64) -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let mut child = Command::new(python)
        .arg(root.join(script))
        .env("QT_SIM_URL", format!("https://{addr}"))
        .env("QT_SIM_WS_URL", format!("wss://{addr}"))
        .env("QT_SIM_CA", ca)
        .env("SSL_CERT_FILE", ca)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("QT_SECONDS", seconds.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds + 60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{script} overran {seconds} s + 60 s:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let output = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(status.success(), "{script} failed ({status}):\n{output}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let json =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: last line is not JSON ({e}):\n{output}"));
    Report { json, output }
}
