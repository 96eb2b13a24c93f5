//! The gateways' crate-boundary error: why a gateway could not start, or why a start-up (or
//! cold-path) request failed, each naming what failed: the URL, the HTTP status, the venue's
//! `code` and `msg`. Never holds a secret or a signed query string.
//!
//! Built by whichever thread calls a venue's `spawn` or a cold helper; no allocation beyond
//! the message fields.

use qt_core::AccountId;
use std::path::PathBuf;

/// Why a gateway could not start (or a start-up request failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The configuration is unusable; every problem found, each with its field path.
    #[error("invalid {venue} gateway configuration: {}", .problems.join("; "))]
    Config {
        /// The venue's name (`Binance`).
        venue: &'static str,
        /// One line per problem: `field: what is wrong, what was expected`.
        problems: Vec<String>,
    },
    /// A request could not be signed (a bad secret, a missing passphrase, …; never quoted).
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong (expected one or more PEM `CERTIFICATE` blocks).
        reason: String,
    },
    /// rustls refused the client configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// A connection (TCP, TLS or WebSocket upgrade) to `url` failed.
    #[error("connecting to {url}: {reason}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// The venue answered a start-up request with an error.
    #[error("{method} {url}: HTTP {status}, code {code}, msg {msg:?}")]
    Venue {
        /// HTTP method.
        method: &'static str,
        /// Request URL (without the query string, which may hold a signature).
        url: String,
        /// HTTP status.
        status: u16,
        /// The venue's error code (0 when the body carried none).
        code: i64,
        /// The venue's message (or the body's start).
        msg: String,
    },
    /// The venue refused an account's credentials (a wrong secret, a refused key, IP or
    /// permission; which answers say so is the venue's: Binance's `is_auth_refusal`). Retrying
    /// cannot help; a live run must not start trading with them.
    #[error(
        "account {account}: the venue refused its API credentials ({method} {url}: HTTP {status}, code {code}, msg {msg:?}); check the account's API key, secret and IP whitelist"
    )]
    AuthRejected {
        /// The account whose key or secret was refused.
        account: AccountId,
        /// HTTP method.
        method: &'static str,
        /// Request URL (without the query string, which holds the signature).
        url: String,
        /// HTTP status.
        status: u16,
        /// The venue's error code.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// The venue's answer to a start-up request could not be understood.
    #[error("{method} {url}: unexpected answer: {body}")]
    BadAnswer {
        /// HTTP method.
        method: &'static str,
        /// Request URL.
        url: String,
        /// The body's start.
        body: String,
    },
    /// A thread could not be started.
    #[error("starting thread {name}: {source}")]
    Spawn {
        /// Thread name.
        name: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl GatewayError {
    /// Whether this is the venue refusing an account's credentials ([`GatewayError::AuthRejected`]).
    pub fn is_auth_rejected(&self) -> bool {
        matches!(self, GatewayError::AuthRejected { .. })
    }

    /// A [`GatewayError::Venue`] answer to `account`'s request that refuses its credentials
    /// (`is_refusal(status, code)`, the venue's rule) becomes [`GatewayError::AuthRejected`];
    /// anything else is unchanged.
    pub(crate) fn for_account(self, account: AccountId, is_refusal: fn(u16, i64) -> bool) -> GatewayError {
        match self {
            GatewayError::Venue { method, url, status, code, msg } if is_refusal(status, code) => {
                GatewayError::AuthRejected { account, method, url, status, code, msg }
            }
            other => other,
        }
    }
}
