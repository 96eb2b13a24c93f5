//! `qt run --config` refuses what a careless or hostile configuration holds, before anything runs:
//! an oversized file, a syntax error next to a secret (never echoed), a secret file others can
//! read, and a control socket path that would delete another file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET: &str = "secret-value-that-must-never-be-printed";

fn qt_check(config: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["run", "--check", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("qt runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qt-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The embedded default with a reset secret file and a control socket at the given paths.
fn with_ess(secret_file: &Path, socket: &Path) -> String {
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

#[test]
fn an_oversized_configuration_is_refused_up_front() {
    let dir = temp_dir("big");
    let path = dir.join("big.toml");
    let mut text = qt_tools::config::EMBEDDED_DEFAULT.to_string();
    while text.len() as u64 <= qt_tools::config::MAX_CONFIG_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&path, text).unwrap();
    let (code, out) = qt_check(&path);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("at most 4194304 bytes (4 MiB)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_syntax_error_on_a_secret_line_never_prints_the_secret() {
    let dir = temp_dir("syntax");
    let path = dir.join("live.toml");
    let text = include_str!("../../examples/binance-venue-sim.toml")
        .replace("secret = \"qt-sim-secret-1\"", &format!("secret = \"{SECRET}\" x"));
    assert!(text.contains(SECRET), "the example still has the line this test breaks");
    std::fs::write(&path, text).unwrap();
    let (code, out) = qt_check(&path);
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains(SECRET), "the secret was printed:\n{out}");
    assert!(out.contains("line ") && out.contains("not shown"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_secret_file_others_can_read_is_refused() {
    let dir = temp_dir("perm");
    let secret = dir.join("ess.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.join("qt.toml");
    std::fs::write(&path, with_ess(&secret, &dir.join("qt.sock"))).unwrap();
    let (code, out) = qt_check(&path);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ess.reset_secret_file") && out.contains("chmod 600") && out.contains("0644"), "{out}");
    assert!(!out.contains(SECRET), "{out}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out) = qt_check(&path);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_control_socket_path_on_another_file_is_refused_and_the_file_survives() {
    let dir = temp_dir("socket");
    let secret = dir.join("ess.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The socket path is the reset secret itself.
    let path = dir.join("same.toml");
    std::fs::write(&path, with_ess(&secret, &secret)).unwrap();
    let (code, out) = qt_check(&path);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ess.control_socket") && out.contains("is also ess.reset_secret_file"), "{out}");
    // The socket path is a regular file the user keeps there.
    let precious = dir.join("notes.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let path = dir.join("file.toml");
    std::fs::write(&path, with_ess(&secret, &precious)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["run", "--config", path.to_str().unwrap(), "--duration", "1s"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("is a regular file"), "{text}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), format!("{SECRET}\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
