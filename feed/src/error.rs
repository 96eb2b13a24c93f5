//! [`FeedError`]: the one error type of `qt-feed`'s start-up and cold paths.
//!
//! Used by construction (config, TLS roots) and by the snapshot thread's HTTPS client; the
//! per-message hot path uses the small `Copy` [`crate::parse_error::ParseError`] instead. Building
//! one allocates (it names the bad input); never used on the core thread's steady state.

use std::path::PathBuf;

/// What can go wrong setting up or running a feed's cold paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// A configuration field is unusable.
    #[error("{field}: {problem}")]
    Config {
        /// Field path, e.g. `ws_url`.
        field: &'static str,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// The CA file could not be read or holds no usable certificate.
    #[error("CA file {path}: {problem}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// TLS configuration or handshake.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A socket operation.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An HTTP response we cannot use.
    #[error("HTTP {status} from {url}: {body}")]
    Http {
        /// Request URL.
        url: String,
        /// Status code (0: unparsable response).
        status: u16,
        /// The start of the body, or what was wrong with the response.
        body: String,
    },
}

impl FeedError {
    #[cold]
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
