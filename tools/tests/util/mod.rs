//! What the `qt` binary's integration tests share: running `qt`, a scratch folder, the
//! embedded default configuration with an emergency-stop secret file and control socket, and
//! the simulated Binance, Bybit and OKX venues with a live configuration for each ([`binance`],
//! [`bybit`], [`okx`]), and `qt venue-sim`
//! as a child process ([`venue_sim`]).
#![allow(dead_code)] // each test binary uses its own subset

use std::os::unix::fs::PermissionsExt;
pub(crate) mod bench_output;
pub(crate) mod binance;
pub(crate) mod bybit;
pub(crate) mod exposition;
pub(crate) mod failover;
pub(crate) mod multi;
pub(crate) mod okx;
pub(crate) mod prometheus;
pub(crate) mod pyclients;
pub(crate) mod sim;
pub(crate) mod usdm;
pub(crate) mod venue_sim;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `qt args…` to completion in a scratch working directory of its own (removed after;
/// a `qt run` writes its default `journal/` there): exit code (-1 if killed), stdout, stderr.
pub(crate) fn qt(args: &[&str]) -> (i32, String, String) {
    let (mut cmd, _cwd) = qt_command();
    let out = cmd.args(args).output().expect("qt runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fills digest a `qt run` summary reports (its `fills digest <hex>` line).
pub(crate) fn fills_digest(summary: &str) -> &str {
    let line = summary.lines().find_map(|l| l.trim().strip_prefix("fills digest ")).expect("a fills digest line");
    line.split_whitespace().next().unwrap_or(line)
}

/// A scratch folder removed when dropped.
#[derive(Debug)]
pub(crate) struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `qt` binary with `RUST_LOG=warn`, run in a fresh scratch working directory (so runs in
/// parallel tests never share a default journal or stats file); keep the [`Scratch`] until the child is done.
pub(crate) fn qt_command() -> (Command, Scratch) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("qt-cwd-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qt"));
    // A run's default stats file goes in the scratch folder too, not /dev/shm.
    cmd.current_dir(&dir).env("RUST_LOG", "warn").env("QT_STATS_DIR", &dir);
    (cmd, Scratch(dir))
}

/// Starts `qt run` with `config` (120 s, output piped) and waits for its control socket at
/// `socket` (at most 60 s).
pub(crate) fn start_engine_with_control(config: &Path, socket: &Path) -> (std::process::Child, Scratch) {
    let (mut cmd, cwd) = qt_command();
    let child = cmd
        .args(["run", "--config", config.to_str().unwrap(), "--duration", "120s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(socket, std::time::Duration::from_secs(60), "the engine never opened its control socket");
    (child, cwd)
}

/// Waits until `path` exists, polling every 50 ms; fails the test with `never` after `limit`.
pub(crate) fn wait_for_file(path: &Path, limit: std::time::Duration, never: &str) {
    let deadline = std::time::Instant::now() + limit;
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "{never}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A fresh, empty folder for one test, named after it and this process.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qt-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `secret` (and a newline) to `path`, readable by its owner only, as the engine requires.
pub(crate) fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A configuration in `dir` whose reset secret is `secret` (in a file of its own, owner-only)
/// and whose control socket is `dir/qt.sock`: the configuration's path and the socket's. Files
/// are named after the secret's length, so one folder holds configurations of different secrets.
pub(crate) fn ess_config(dir: &Path, secret: &str) -> (PathBuf, PathBuf) {
    let secret_file = dir.join(format!("secret-{}", secret.len()));
    write_secret(&secret_file, secret);
    let socket = dir.join("qt.sock");
    let path = dir.join(format!("qt-{}.toml", secret.len()));
    std::fs::write(&path, with_ess(&secret_file, &socket)).unwrap();
    (path, socket)
}

/// The embedded default configuration with `ess.reset_secret_file` and `ess.control_socket` set.
pub(crate) fn with_ess(secret_file: &Path, socket: &Path) -> String {
    qt_tools::config::EMBEDDED_DEFAULT
        .replace(
            "# reset_secret_file = \"/etc/qt/ess.secret\"",
            &format!("reset_secret_file = {:?}", secret_file.display().to_string()),
        )
        .replace(
            "# control_socket = \"/tmp/qt-control.sock\"",
            &format!("control_socket = {:?}", socket.display().to_string()),
        )
}

/// `qt replay DIR` succeeds: every intent, decision and order of the journal comes out again.
pub(crate) fn assert_replays(dir: &Path) {
    let (code, out, err) = qt(&["replay", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "qt replay {}:\n{out}\n{err}", dir.display());
    assert!(out.contains("every intent, risk decision and order matches the journal"), "{out}");
}
