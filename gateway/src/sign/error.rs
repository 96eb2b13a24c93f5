//! [`SignError`]: why a request could not be signed. Each message names the bad input and what
//! was expected, and never contains a secret (not even a fragment of one).

use qt_core::Venue;

/// Why a request could not be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// OKX and KuCoin keys come with a passphrase, which every request carries.
    #[error("{venue}: a passphrase is required (the one chosen when the API key was created)")]
    MissingPassphrase {
        /// The venue.
        venue: Venue,
    },
    /// The API key is part of what this venue signs, so it cannot be left out.
    #[error("{venue}: the API key is required: it is part of the signed {what}")]
    MissingKey {
        /// The venue.
        venue: Venue,
        /// What carries the key (`string`, `parameters`).
        what: &'static str,
    },
    /// The secret is empty; every venue refuses a request signed with it.
    #[error("{venue}: the secret is empty")]
    EmptySecret {
        /// The venue.
        venue: Venue,
    },
    /// Kraken's private key is base64 text and is decoded before use. The offending character
    /// is deliberately not quoted: it is part of the secret.
    #[error(
        "kraken: the secret is not valid base64 (Kraken's private key is the base64 text shown when the key \
         was created, e.g. 88 characters ending in \"==\")"
    )]
    SecretNotBase64,
    /// The timestamp is not in the form this venue signs.
    #[error("{venue}: bad timestamp {value:?}: expected {expected}")]
    BadTimestamp {
        /// The venue.
        venue: Venue,
        /// What was given.
        value: String,
        /// The form the venue signs.
        expected: &'static str,
    },
    /// A timestamp already in the parameters differs from the one given to sign with.
    #[error("{venue}: the parameters carry timestamp={found} but the request is signed at {given}")]
    TimestampMismatch {
        /// The venue.
        venue: Venue,
        /// The value in the parameters.
        found: String,
        /// The timestamp given.
        given: String,
    },
    /// Not an HTTP method the venues sign.
    #[error("bad HTTP method {0:?}: expected GET, POST, PUT or DELETE")]
    BadMethod(String),
    /// The request path is not one a venue signs.
    #[error("bad request path {path:?}: {reason}")]
    BadPath {
        /// What was given.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Parameters are not `k=v` pairs joined by `&`.
    #[error("{venue}: bad parameter {param:?}: expected name=value pairs joined by '&'")]
    BadParams {
        /// The venue.
        venue: Venue,
        /// The piece that is not `name=value`.
        param: String,
    },
    /// Kraken reads the nonce from the POST body; a body without it is refused as "EAPI:Invalid nonce".
    #[error(
        "kraken: the body does not carry the nonce {nonce} (Kraken signs and reads the nonce from the POST \
         body: put nonce={nonce} in it, or give no body)"
    )]
    NonceNotInBody {
        /// The nonce the request is signed with.
        nonce: String,
    },
    /// A part of the request the venue does not sign (and so would not accept) was given.
    #[error("{venue}: {hint}")]
    NotSigned {
        /// The venue.
        venue: Venue,
        /// `query` or `body`.
        part: &'static str,
        /// Where the parameters go instead.
        hint: &'static str,
    },
    /// The venue signs a JSON object body (Firi splices its members into the signed object).
    #[error("{venue}: the body must be a JSON object ({{...}}), got {body:?}")]
    BodyNotJsonObject {
        /// The venue.
        venue: Venue,
        /// What was given.
        body: String,
    },
    /// The venue has no WebSocket login to sign.
    #[error("{venue} has no WebSocket login to sign: {instead}")]
    NoWsLogin {
        /// The venue.
        venue: Venue,
        /// What authenticates its private stream instead.
        instead: &'static str,
    },
    /// The venue's WebSocket login signs a fixed method and path; another was given.
    #[error("{venue}: the WebSocket login always signs {expected}; got {got:?}")]
    WsFixed {
        /// The venue.
        venue: Venue,
        /// The fixed value.
        expected: &'static str,
        /// What was given.
        got: String,
    },
    /// No signer exists for this venue (the built-in simulated venue needs none).
    #[error("{0}: no request signing (the built-in simulated venue takes no keys)")]
    Unsupported(Venue),
}
