//! `qt ess trigger|reset|status` against a running `qt run`, through the control socket: the
//! real binaries, the embedded default config with a control socket and a reset secret file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn qt(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qt")).args(args).env("RUST_LOG", "warn").output().expect("qt runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(dir: &Path, secret: &str) -> PathBuf {
    let secret_file = dir.join(format!("secret-{}", secret.len()));
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    // A secret file must be its owner's alone, or the engine refuses it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let socket = dir.join("qt.sock");
    let text = qt_tools::config::EMBEDDED_DEFAULT
        .replace(
            "# reset_secret_file = \"/etc/qt/ess.secret\"",
            &format!("reset_secret_file = {:?}", secret_file.display().to_string()),
        )
        .replace(
            "# control_socket = \"/tmp/qt-control.sock\"",
            &format!("control_socket = {:?}", socket.display().to_string()),
        );
    let path = dir.join(format!("qt-{}.toml", secret.len()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn trigger_then_refused_and_accepted_resets_reach_the_running_engine() {
    let dir = std::env::temp_dir().join(format!("qt-ess-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = config(&dir, "the-right-secret-for-this-test");
    let wrong = config(&dir, "a-wrong-secret-for-this-test-xyz");
    let socket = dir.join("qt.sock");
    let _ = std::fs::remove_file(&socket);
    let child = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["run", "--config", good.to_str().unwrap(), "--duration", "120s"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the engine never opened its control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    let g = good.to_str().unwrap();
    let (code, out, err) = qt(&["ess", "status", "--config", g]);
    assert!(code == 0 && out.contains("ess armed"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "trigger", "--reason", "end-to-end test", "--config", g]);
    assert!(code == 0 && out.contains("TRIGGERED"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "reset", "--operator", "mallory", "--config", wrong.to_str().unwrap()]);
    assert!(code != 0 && err.contains("not authenticated"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "status", "--config", g]);
    assert!(code == 0 && out.contains("ess latched (source manual)"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "reset", "--operator", "alice", "--config", g]);
    assert!(code == 0 && out.contains("reset by alice"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "status", "--config", g]);
    assert!(code == 0 && out.contains("ess armed") && out.contains("manual 1"), "{out}{err}");

    // Stop the run (Ctrl-C) and read its summary.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
    assert!(summary.contains("manual 1") && summary.contains("reset by alice"), "{summary}");
    assert!(summary.contains("resets 1 (refused 1)"), "{summary}");
    assert!(!socket.exists(), "the socket is removed at the end");
    let (code, _, err) = qt(&["ess", "status", "--config", g]);
    assert!(code != 0 && err.contains("control socket"), "{err}");
}
