//! `qt sign`: prints what our gateway would sign and send for one request — the exact string to
//! sign, the signature, and the headers (or, with `--ws`, the WebSocket login / WS-API request)
//! — by running the gateways' own signers (`qt_gateway::sign`). It is what to reach for when a
//! venue answers "invalid signature": compare its output with what your own code sends.
//!
//! The secret is never printed; a header or payload that carries a plain passphrase (OKX) shows
//! it as `<passphrase>`. A missing or bad argument is an error naming the flag. Runs once on the
//! calling thread; nothing here is on a hot path.

use anyhow::{Context, anyhow, bail};
use qt_core::Venue;
pub use qt_gateway::sign::Secret;
use qt_gateway::sign::{
    self, Credentials, RequestSigner, RestRequest, SignError, SignedRest, SignedWs, StringToSign, WsRequest,
    binance::BinanceSigner, bybit::BybitSigner,
};
use std::fmt::Write as _;
use std::io::BufRead;

/// The arguments of `qt sign`.
#[derive(Debug)]
pub struct SignArgs {
    /// The venue whose scheme to run.
    pub venue: Venue,
    /// The API secret (`-`: read one line from standard input).
    pub secret: Secret,
    /// The API key.
    pub key: Option<String>,
    /// OKX and KuCoin: the key's passphrase.
    pub passphrase: Option<Secret>,
    /// The venue's timestamp (Kraken: the nonce; Bybit `--ws`: `expires`).
    pub timestamp: String,
    /// HTTP method (REST), or the WebSocket API method (Binance `--ws`).
    pub method: Option<String>,
    /// Request path (REST).
    pub path: Option<String>,
    /// Request body exactly as sent.
    pub body: Option<String>,
    /// Query string without `?` (Binance `--ws`: the WS-API parameters).
    pub query: Option<String>,
    /// Sign the WebSocket login / WS-API request instead of a REST request.
    pub ws: bool,
    /// Binance and Bybit: the receive window (default 5000).
    pub recv_window: Option<u64>,
}

/// A command-line secret, held redacted from the moment it is parsed.
pub fn parse_secret(arg: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(arg))
}

/// The secret itself, or, for `-`, one line read from `input` (without its line end).
pub fn secret_from(arg: Secret, input: &mut impl BufRead) -> anyhow::Result<Secret> {
    if arg.expose() != "-" {
        return Ok(arg);
    }
    let mut line = String::new();
    input.read_line(&mut line).context("--secret -: reading the secret from standard input")?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n'])))
}

/// Runs `qt sign`: the report as text.
pub fn run(args: &SignArgs) -> anyhow::Result<String> {
    let signer = signer(args)?;
    let flagged = |e: SignError| anyhow!("{}: {e}", flag_of(&e, args.ws));
    if args.ws {
        if args.body.is_some() {
            bail!("--body: a WebSocket login has no body (Binance WS-API parameters go in --query)");
        }
        let req = WsRequest {
            timestamp: &args.timestamp,
            method: args.method.as_deref().unwrap_or_default(),
            path: args.path.as_deref().unwrap_or_default(),
            params: args.query.as_deref().unwrap_or_default(),
            id: "",
        };
        Ok(render_ws(args.venue, &signer.sign_ws(&req).map_err(flagged)?))
    } else {
        let method =
            args.method.as_deref().ok_or_else(|| anyhow!("--method is required (GET, POST, PUT or DELETE)"))?;
        let path = args.path.as_deref().ok_or_else(|| anyhow!("--path is required (e.g. /api/v3/order)"))?;
        let req = RestRequest {
            timestamp: &args.timestamp,
            method,
            path,
            query: args.query.as_deref().unwrap_or_default(),
            body: args.body.as_deref().unwrap_or_default(),
        };
        let signed = signer.sign_rest(&req).map_err(flagged)?;
        Ok(render_rest(args.venue, &method.to_ascii_uppercase(), path, &signed))
    }
}

/// The venue's signer with `args`' credentials and receive window.
fn signer(args: &SignArgs) -> anyhow::Result<Box<dyn RequestSigner>> {
    let creds = Credentials { key: args.key.clone(), secret: args.secret.clone(), passphrase: args.passphrase.clone() };
    let flagged = |e: SignError| anyhow!("{}: {e}", flag_of(&e, args.ws));
    if args.secret.is_empty() {
        return Err(flagged(SignError::EmptySecret { venue: args.venue }));
    }
    Ok(match (args.venue, args.recv_window) {
        (_, None) => sign::signer_for(args.venue, creds).map_err(flagged)?,
        (v @ (Venue::Binance | Venue::BinanceUsdm), Some(rw)) => {
            Box::new(BinanceSigner::new(v, creds).with_recv_window(rw))
        }
        (Venue::Bybit, Some(rw)) => Box::new(BybitSigner::new(creds).with_recv_window(rw)),
        (v, Some(_)) => bail!("--recv-window: {v} signs no receive window (only binance, binance_usdm and bybit do)"),
    })
}

/// The flag a signing error is about.
fn flag_of(e: &SignError, ws: bool) -> &'static str {
    match e {
        SignError::MissingPassphrase { .. } => "--passphrase",
        SignError::MissingKey { .. } => "--key",
        SignError::EmptySecret { .. } | SignError::SecretNotBase64 => "--secret",
        SignError::BadTimestamp { .. } => "--timestamp",
        SignError::TimestampMismatch { .. } => "--timestamp (and the timestamp= in --query/--body)",
        SignError::BadMethod(_) => "--method",
        SignError::BadPath { .. } => "--path",
        SignError::BadParams { .. } if ws => "--query",
        SignError::BadParams { .. } => "--query/--body",
        SignError::NonceNotInBody { .. } | SignError::BodyNotJsonObject { .. } => "--body",
        SignError::NotSigned { part: "query", .. } => "--query",
        SignError::NotSigned { .. } => "--body",
        SignError::NoWsLogin { .. } => "--ws",
        SignError::WsFixed { expected: "GET", .. } => "--method",
        SignError::WsFixed { .. } => "--path",
        SignError::Unsupported(_) => "--venue",
        _ => "argument",
    }
}

fn render_rest(venue: Venue, method: &str, path: &str, s: &SignedRest) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "venue:          {venue} (REST)");
    match &s.string_to_sign {
        StringToSign::Text(t) => {
            let _ = writeln!(out, "string to sign: {t}");
        }
        StringToSign::PathAndDigest { path, hashed, digest_hex } => {
            let _ = writeln!(out, "string to sign: {path} + the 32 bytes of SHA-256(nonce + body)");
            let _ = writeln!(out, "  SHA-256 of:   {hashed}");
            let _ = writeln!(out, "  SHA-256:      {digest_hex}");
        }
    }
    let _ = writeln!(out, "signature:      {}", s.signature);
    let query = if s.query.is_empty() { String::new() } else { format!("?{}", s.query) };
    let _ = writeln!(out, "request:        {method} {path}{query}");
    let _ = writeln!(out, "headers:");
    for (name, value) in &s.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
    if !s.body.is_empty() {
        let _ = writeln!(out, "body:           {}", s.body);
    }
    out
}

fn render_ws(venue: Venue, s: &SignedWs) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "venue:          {venue} (WebSocket)");
    let _ = writeln!(out, "string to sign: {}", s.string_to_sign);
    let _ = writeln!(out, "signature:      {}", s.signature);
    let _ = writeln!(out, "payload:        {}", s.payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(venue: Venue) -> SignArgs {
        SignArgs {
            venue,
            secret: Secret::new("c2VjcmV0LXZlcnktc2VjcmV0"),
            key: None,
            passphrase: None,
            timestamp: "1700000000000".into(),
            method: Some("GET".into()),
            path: Some("/x".into()),
            body: None,
            query: None,
            ws: false,
            recv_window: None,
        }
    }

    #[test]
    fn errors_name_the_flag() {
        let cases: Vec<(SignArgs, &str)> = vec![
            (args(Venue::Okx), "--passphrase"),
            (args(Venue::Kucoin), "--passphrase"),
            (args(Venue::Bybit), "--key"),
            (SignArgs { secret: Secret::new("not base64!"), ..args(Venue::Kraken) }, "--secret"),
            (SignArgs { secret: Secret::new(""), ..args(Venue::Binance) }, "--secret"),
            (
                SignArgs { timestamp: "now".into(), ..args(Venue::Kraken) },
                "--timestamp: kraken: bad timestamp \"now\": expected the nonce",
            ),
            (SignArgs { method: None, ..args(Venue::Binance) }, "--method is required"),
            (SignArgs { path: None, ..args(Venue::Binance) }, "--path is required"),
            (SignArgs { path: Some("x".into()), ..args(Venue::Binance) }, "--path"),
            (SignArgs { method: Some("FETCH".into()), ..args(Venue::Binance) }, "--method"),
            (SignArgs { ws: true, ..args(Venue::Kraken) }, "--ws: kraken has no WebSocket login"),
            (SignArgs { ws: true, body: Some("{}".into()), ..args(Venue::Bybit) }, "--body"),
            (SignArgs { recv_window: Some(1), ..args(Venue::Firi) }, "--recv-window"),
            (SignArgs { body: Some("[]".into()), method: Some("POST".into()), ..args(Venue::Firi) }, "--body"),
            (SignArgs { venue: Venue::Sim, ..args(Venue::Sim) }, "--venue"),
        ];
        for (a, want) in cases {
            let err = run(&a).map(|_| ()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{:?}: {err}", a.venue);
            assert!(!err.contains("very-secret") && !err.contains("c2VjcmV0"), "{err}");
        }
    }

    #[test]
    fn a_secret_of_dash_is_read_from_standard_input() {
        let s = secret_from(Secret::new("-"), &mut "s3cret\nrest".as_bytes()).unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(secret_from(Secret::new("x"), &mut "".as_bytes()).unwrap().expose(), "x");
    }
}
