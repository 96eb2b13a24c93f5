//! `qt run --config` refuses what a careless or hostile configuration holds, before anything runs:
//! an oversized file, a syntax error next to a secret (never echoed), a secret file others can
//! read, and a control socket path that would delete another file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SECRET: &str = "secret-value-that-must-never-be-printed";

/// `qt run --check --config FILE`: exit code, and stdout and stderr together.
fn qt_check(config: &Path) -> (i32, String) {
    let (code, out, err) = util::qt(&["run", "--check", "--config", config.to_str().unwrap()]);
    (code, out + &err)
}

mod util;
use util::{temp_dir, with_ess, write_secret};

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
fn a_control_socket_path_that_is_the_secret_file_is_refused_and_the_secret_survives() {
    let dir = temp_dir("socket");
    let secret = dir.join("ess.secret");
    write_secret(&secret, SECRET);
    // The socket path is the reset secret itself.
    let path = dir.join("same.toml");
    std::fs::write(&path, with_ess(&secret, &secret)).unwrap();
    let (code, out) = qt_check(&path);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ess.control_socket") && out.contains("is also ess.reset_secret_file"), "{out}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), format!("{SECRET}\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
