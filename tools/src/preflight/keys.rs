//! The `keys` check: every API key and secret the configuration names is there, and every file
//! holding one is readable by its owner alone (`mode & 0o077 == 0`).
//!
//! Key material reaches a run three ways: `ess.reset_secret_file` (a file), environment
//! variables (`ess.reset_secret_env`, `[accounts.keys.<venue>] api_key_env` / `secret_env`),
//! and keys written inline in the configuration — which makes the configuration file itself a
//! key file. Only names, paths and modes are ever reported, never a value.

use super::Check;
use crate::config::{self, RawConfig};
use std::path::Path;

const NAME: &str = "keys";

/// Checks the key material of the configuration `text`, read from `path` (`None`: embedded).
pub fn check(text: &str, path: Option<&Path>) -> Check {
    let raw: RawConfig = match config::parse_document(text, "config") {
        Ok(raw) => raw,
        Err(_) => return Check::skip(NAME, "the configuration does not parse"),
    };
    let mut found = Vec::new();
    let mut problems = Vec::new();
    if let Some(file) = &raw.ess.reset_secret_file {
        match config::check_secret_file(file) {
            Ok(()) => found.push(format!("ess.reset_secret_file {} (private)", file.display())),
            Err(why) => problems.push(format!("ess.reset_secret_file: {why}")),
        }
    }
    let mut env = |field: String, var: &str| match std::env::var_os(var) {
        Some(v) if !v.is_empty() => found.push(format!("{field} ${var}")),
        _ => problems.push(format!("{field}: environment variable {var} is not set")),
    };
    if let Some(var) = &raw.ess.reset_secret_env {
        env("ess.reset_secret_env".into(), var);
    }
    let mut inline = Vec::new();
    for (i, account) in raw.accounts.iter().enumerate() {
        for (venue, keys) in &account.keys {
            let field = format!("accounts[{i}].keys.{venue}");
            if let Some(var) = &keys.api_key_env {
                env(format!("{field}.api_key_env"), var);
            }
            if let Some(var) = &keys.secret_env {
                env(format!("{field}.secret_env"), var);
            }
            if keys.api_key.is_some() || keys.secret.is_some() {
                inline.push(field);
            }
        }
    }
    if !inline.is_empty() {
        match path {
            // A configuration holding keys inline is a secret file itself.
            Some(file) => match config::check_secret_file(file) {
                Ok(()) => found.push(format!("inline keys in {} (private)", file.display())),
                Err(why) => problems.push(format!("{} hold(s) keys inline: {why}", inline.join(", "))),
            },
            None => found.push("inline keys in the embedded configuration".into()),
        }
    }
    match (problems.is_empty(), found.is_empty()) {
        (false, _) => Check::fail(NAME, problems.join("; ")),
        (true, true) => Check::skip(NAME, "no keys or secret files configured"),
        (true, false) => Check::pass(NAME, found.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("qt-preflight-keys-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_secret_file_others_can_read_fails_naming_field_and_mode() {
        let dir = scratch("mode");
        let secret = dir.join("reset.secret");
        std::fs::write(&secret, "0123456789abcdef0123").unwrap();
        let text = format!("[ess]\nreset_secret_file = {:?}\n", secret.display().to_string());
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = check(&text, None);
        assert_eq!(c.status, Status::Fail, "{c}");
        assert!(c.why.contains("ess.reset_secret_file") && c.why.contains("0644"), "{c}");
        assert!(!c.why.contains("0123456789"), "never the secret: {c}");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(check(&text, None).status, Status::Pass);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_environment_variables_and_public_inline_keys_fail() {
        let dir = scratch("env");
        let cfg = dir.join("live.toml");
        let text = "[[accounts]]\nname = \"a\"\nstarting_equity = \"1000\"\n\
                    [accounts.keys.binance]\napi_key = \"k\"\nsecret_env = \"QT_PREFLIGHT_TEST_UNSET_VAR\"\n";
        std::fs::write(&cfg, text).unwrap();
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
        let c = check(text, Some(&cfg));
        assert_eq!(c.status, Status::Fail, "{c}");
        assert!(c.why.contains("QT_PREFLIGHT_TEST_UNSET_VAR is not set"), "{c}");
        assert!(c.why.contains("accounts[0].keys.binance hold(s) keys inline") && c.why.contains("0640"), "{c}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_configured_is_skipped() {
        assert_eq!(check("", None).status, Status::Skip);
    }
}
