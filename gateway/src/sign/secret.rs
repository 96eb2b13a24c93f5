//! Values that must never be printed: [`Secret`] (an API secret or passphrase) and
//! [`WireText`] (a header value or WebSocket payload that carries one).
//!
//! Both redact themselves in `Debug` and `Display`; the real text is reached only through
//! `expose`, which the code writing the request calls. Plain data, no thread of its own.

use std::fmt;

/// A secret (API secret, passphrase). `Debug` prints `Secret(<redacted>)`; there is no
/// `Display`, so it cannot be formatted into a message by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret itself, for signing and for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (a venue refuses an empty secret; callers report it).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Text sent to a venue (a header value, a login payload), with a printable form in which
/// any secret it carries (OKX's plain passphrase) is replaced by a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct WireText {
    text: String,
    /// `None`: the text carries no secret and prints as itself.
    printable: Option<String>,
}

impl WireText {
    /// Text with no secret in it.
    pub fn plain(text: impl Into<String>) -> Self {
        Self { text: text.into(), printable: None }
    }

    /// Text that carries a secret; `printable` is the same text with the secret replaced.
    pub fn with_secret(text: String, printable: String) -> Self {
        Self { text, printable: Some(printable) }
    }

    /// The text exactly as sent.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The text safe to print (secrets replaced).
    pub fn printable(&self) -> &str {
        self.printable.as_deref().unwrap_or(&self.text)
    }

    /// Whether the printable form differs from what is sent (a secret was replaced).
    pub fn is_redacted(&self) -> bool {
        self.printable.is_some()
    }
}

impl fmt::Display for WireText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.printable())
    }
}

impl fmt::Debug for WireText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.printable(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    Secret(<redacted>),\n)");
        assert_eq!(s.expose(), "hunter2-very-secret");

        let w = WireText::with_secret("pass=hunter2".into(), "pass=<passphrase>".into());
        assert_eq!(w.to_string(), "pass=<passphrase>");
        assert_eq!(format!("{w:?}"), "\"pass=<passphrase>\"");
        assert_eq!(w.expose(), "pass=hunter2");
        assert!(w.is_redacted());
        let p = WireText::plain("abc");
        assert_eq!((p.to_string(), p.expose(), p.is_redacted()), ("abc".to_string(), "abc", false));
    }
}
