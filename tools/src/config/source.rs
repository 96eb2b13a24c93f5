//! Reading a configuration document from disk, and TOML errors told without showing a secret.
//!
//! A configuration file is read whole at start-up, so its size is refused up front
//! ([`MAX_CONFIG_BYTES`]) before anything is parsed: a mistaken path to a large file must not cost
//! the host its memory. TOML's own error text quotes the offending source line, which may be the
//! line holding an API secret; [`syntax_problem`] instead names the line and column and shows the
//! line only when it is a `key = value` or `[table]` line naming nothing secret.

use super::{ConfigError, Problem};
use std::io::Read;
use std::path::Path;

/// The largest configuration file accepted (4 MiB); real ones are a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Words that mark a key (or a line) as holding a credential; matched case-insensitively.
const SECRET_WORDS: [&str; 4] = ["secret", "key", "pass", "token"];

/// Reads the configuration at `path`: at most [`MAX_CONFIG_BYTES`], UTF-8 text.
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    let refuse = |message: String| ConfigError {
        source_name: path.display().to_string(),
        problems: vec![Problem { path: "(file)".into(), message }],
    };
    let mut file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot open {}: {e}", path.display())))?;
    let too_big = |size: String| {
        refuse(format!(
            "{} is {size}; a configuration file may be at most {MAX_CONFIG_BYTES} bytes (4 MiB)",
            path.display()
        ))
    };
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(refuse(format!("{} is a directory, not a configuration file", path.display())));
        }
        if meta.is_file() && meta.len() > MAX_CONFIG_BYTES {
            return Err(too_big(format!("{} bytes", meta.len())));
        }
    }
    // A pipe or device has no length up front: read one byte past the limit to tell.
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big("larger than that".into()));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        refuse(format!("{} is not UTF-8 text (invalid byte at offset {at})", path.display()))
    })
}

/// Parses a TOML document into `T`: a syntax error names its line and column (never echoing a
/// line that may hold a secret), a type error names the field path.
pub fn parse_document<T: serde::de::DeserializeOwned>(text: &str, source_name: &str) -> Result<T, ConfigError> {
    let fail = |problem| ConfigError { source_name: source_name.into(), problems: vec![problem] };
    let de = toml::Deserializer::parse(text).map_err(|e| fail(syntax_problem(text, &e)))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = value_message(&path, e.into_inner().message().trim());
        fail(Problem { path, message })
    })
}

/// Whether `text` (a key, a field path or a whole line) may hold a credential.
pub(super) fn mentions_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// A TOML syntax error as a problem: position, TOML's message, and the line itself only when it
/// is safe to show (a `key = value` or `[table]` line that names no credential — a line inside a
/// multi-line value, or any line mentioning a secret word, is never echoed).
fn syntax_problem(text: &str, err: &toml::de::Error) -> Problem {
    let message = err.message().trim();
    let Some(span) = err.span() else {
        return Problem { path: "(document)".into(), message: message.to_string() };
    };
    let start = span.start.min(text.len());
    let before = text.get(..start).unwrap_or("");
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text.get(line_start..start).map_or(1, |s| s.chars().count() + 1);
    let line = text[line_start..].split('\n').next().unwrap_or("").trim_end_matches('\r');
    let trimmed = line.trim_start();
    let plain_line = trimmed.starts_with('[') || trimmed.split_once('=').is_some_and(|(k, _)| is_bare_key(k));
    let shown = if plain_line && !mentions_secret(line) {
        format!("; the line reads: {}", line.trim())
    } else if let Some((key, _)) = trimmed.split_once('=').filter(|(k, _)| is_bare_key(k)) {
        format!(" (in `{}`; the line is not shown: it may hold a secret)", key.trim())
    } else {
        " (the line is not shown: it may hold a secret)".to_string()
    };
    Problem { path: format!("line {line_no}, column {column}"), message: format!("{message}{shown}") }
}

/// A TOML key as written before `=`: bare or dotted words, possibly quoted.
fn is_bare_key(key: &str) -> bool {
    let key = key.trim();
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c))
}

/// A type or value error at `path`: TOML's message, with any quoted value taken out when the
/// field may hold a credential (`invalid type: integer `5`` → `invalid type: integer (value not shown)`).
fn value_message(path: &str, message: &str) -> String {
    if !mentions_secret(path) {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('`');
    out.push_str(parts.next().unwrap_or(""));
    while let Some(_quoted) = parts.next() {
        out.push_str("(value not shown)");
        out.push_str(parts.next().unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    const SECRET: &str = "sk-DO-NOT-PRINT-4f9a";

    fn error_text(doc: &str) -> String {
        parse_document::<RawConfig>(doc, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_syntax_error_on_a_secret_line_names_the_place_not_the_secret() {
        for line in [
            format!("secret = \"{SECRET}\" x"),
            format!("api_key = \"{SECRET}\" x"),
            format!("passphrase = \"{SECRET}"),
            format!("keys.binance = {{ api_key = \"k\", secret = \"{SECRET}\" x }}"),
        ] {
            let doc = format!("[engine]\ncpu = 1\n\n[[accounts]]\nname = \"a\"\n{line}\n");
            let err = error_text(&doc);
            assert!(!err.contains(SECRET), "{err}");
            assert!(err.contains("line 6"), "{err}");
            assert!(err.contains("not shown"), "{err}");
        }
        // Inside a multi-line string the line has no key of its own: never shown either.
        let doc = format!("[[accounts]]\nsecret = \"\"\"\n{SECRET}\n\"\"\" junk\n");
        assert!(!error_text(&doc).contains(SECRET), "{}", error_text(&doc));
    }

    #[test]
    fn a_syntax_error_on_a_plain_line_shows_it() {
        let err = error_text("[engine]\nbook_depth = 256 oops\n");
        assert!(err.contains("line 2, column"), "{err}");
        assert!(err.contains("the line reads: book_depth = 256 oops"), "{err}");
    }

    #[test]
    fn a_wrong_type_in_a_secret_field_hides_the_value() {
        let err = error_text("[ess]\nreset_secret_env = 987654321\n");
        assert!(err.contains("ess.reset_secret_env") && !err.contains("987654321"), "{err}");
        assert_eq!(value_message("engine.cpu", "invalid type: string `x`"), "invalid type: string `x`");
        assert_eq!(
            value_message("a.secret", "invalid type: integer `5`, x"),
            "invalid type: integer (value not shown), x"
        );
    }

    #[test]
    fn an_oversized_or_binary_file_is_refused_before_parsing() {
        let dir = std::env::temp_dir().join(format!("qt-config-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.toml");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let err = read_file(&big).unwrap_err().to_string();
        assert!(err.contains("at most 4194304 bytes") && err.contains("big.toml"), "{err}");
        file.set_len(MAX_CONFIG_BYTES).unwrap();
        assert!(read_file(&big).is_ok(), "exactly the limit is accepted");
        let binary = dir.join("bin.toml");
        std::fs::write(&binary, b"[engine]\ncpu = 1 # \xff\n").unwrap();
        let err = read_file(&binary).unwrap_err().to_string();
        assert!(err.contains("not UTF-8") && err.contains("offset 19"), "{err}");
        assert!(read_file(&dir).unwrap_err().to_string().contains("directory"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
