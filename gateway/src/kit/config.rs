//! [`GatewayConfig`]: what any venue's gateway is built from — where the venue is, what it
//! trades, whose keys, how long to wait, which clock — and [`GatewayConfig::problems`], the
//! checks every venue makes of it (a venue adds its own, e.g. its symbol alphabet).
//!
//! Start-up only; allocates.

use crate::kit::http::Endpoint;
use crossbeam_channel::Sender;
use qt_core::engine::ControlCommand;
use qt_core::idle::IdleStrategy;
use qt_core::stats::StatsHandle;
use qt_core::stats::blocks::GatewayClockStats;
use qt_core::{AccountId, Clock, Instrument, VenueId, WallClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything a gateway needs. [`Default`]: no URLs, instruments or accounts; webpki roots,
/// `recvWindow` 5000, 5 s request timeout, the wall clock re-synced with the venue's every
/// minute.
#[derive(Clone)]
pub struct GatewayConfig {
    /// REST base URL, e.g. `https://api.bybit.com` or `https://127.0.0.1:PORT`.
    pub rest_url: String,
    /// WebSocket base URL, e.g. `wss://stream.bybit.com`.
    pub ws_url: String,
    /// Trust only this CA (PEM); `None` trusts the Mozilla roots of `webpki-roots`.
    pub ca_file: Option<PathBuf>,
    /// TLS server name to verify instead of the URL's host (e.g. `localhost` for the simulator).
    pub server_name: Option<String>,
    /// Receive window of signed requests, milliseconds (1..=60000).
    pub recv_window_ms: u64,
    /// Our venue id in the core's table (goes into every report).
    pub venue: VenueId,
    /// The instruments this gateway trades.
    pub instruments: Vec<Instrument>,
    /// `(account, api key, secret)` per account.
    pub accounts: Vec<(AccountId, String, String)>,
    /// `(account, passphrase)` for venues whose keys have one (OKX); empty elsewhere. Never
    /// shown in `Debug`.
    pub passphrases: Vec<(AccountId, String)>,
    /// Run id for [`qt_core::ClientOrderId`]; events of other runs' orders are ignored.
    pub run_id: u32,
    /// Bound on connecting and on each read/write of a request; a new order without an answer
    /// in this time is reconciled.
    pub request_timeout: Duration,
    /// Our clock: signed timestamps are this plus the venue's offset from it.
    pub clock: Arc<dyn Clock>,
    /// Interval between estimates of the venue's clock; zero: only at start and after a
    /// timestamp reject.
    pub time_sync_every: Duration,
    /// Where the gateway thread publishes its clock estimate in the stats file.
    pub clock_stats: Option<StatsHandle<GatewayClockStats>>,
    /// The private stream's base URL where a venue offers one apart from `ws_url` (Binance
    /// spot's WebSocket API); `None`: the venue's own rule.
    pub private_stream_url: Option<String>,
    /// Use only the venue's older private stream (Binance spot's listen-key stream).
    pub legacy_private_stream: bool,
    /// The engine's control channel, for what a gateway tells the core besides reports (a
    /// funding payment, the venue's health). Sends never block: a full channel is logged and
    /// counted. `None`: nothing is sent (tests, tools).
    pub control: Option<Sender<ControlCommand>>,
    /// A directory for what a venue's gateway must keep across restarts (Kraken's nonce
    /// ceiling, [`crate::kraken::nonce`]): `qt run` gives its journal directory. `None`: kept
    /// nowhere (a venue that needs it says so at start).
    pub state_dir: Option<PathBuf>,
    /// The gateway thread's idle strategy ([`crate::kit::thread::DEFAULT_IDLE`] unless the
    /// run's `[engine] gateway_idle` says otherwise).
    pub idle: IdleStrategy,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            rest_url: String::new(),
            ws_url: String::new(),
            ca_file: None,
            server_name: None,
            recv_window_ms: 5000,
            venue: VenueId(0),
            instruments: Vec::new(),
            accounts: Vec::new(),
            passphrases: Vec::new(),
            run_id: 0,
            request_timeout: Duration::from_secs(5),
            clock: Arc::new(WallClock),
            time_sync_every: crate::kit::time_sync::DEFAULT_EVERY,
            clock_stats: None,
            private_stream_url: None,
            legacy_private_stream: false,
            control: None,
            state_dir: None,
            idle: crate::kit::thread::DEFAULT_IDLE,
        }
    }
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and secrets stay out of logs.
        let accounts: Vec<AccountId> = self.accounts.iter().map(|(a, _, _)| *a).collect();
        f.debug_struct("GatewayConfig")
            .field("rest_url", &self.rest_url)
            .field("ws_url", &self.ws_url)
            .field("ca_file", &self.ca_file)
            .field("server_name", &self.server_name)
            .field("recv_window_ms", &self.recv_window_ms)
            .field("venue", &self.venue)
            .field("instruments", &self.instruments)
            .field("accounts", &accounts)
            .field("run_id", &self.run_id)
            .field("request_timeout", &self.request_timeout)
            .field("time_sync_every", &self.time_sync_every)
            .field("clock_stats", &self.clock_stats.is_some())
            .field("control", &self.control.is_some())
            .field("state_dir", &self.state_dir)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Checks the fields every venue needs (URLs, window, timeout, instrument ids, accounts,
    /// server name), adding one line per problem to `problems`; returns the REST and WebSocket
    /// endpoints when both parse.
    pub(crate) fn problems(&self, problems: &mut Vec<String>) -> Option<(Endpoint, Endpoint)> {
        let rest =
            Endpoint::parse(&self.rest_url, &["https"]).map_err(|m| problems.push(format!("rest_url: {m}"))).ok();
        let ws = Endpoint::parse(&self.ws_url, &["wss"]).map_err(|m| problems.push(format!("ws_url: {m}"))).ok();
        if !(1..=60_000).contains(&self.recv_window_ms) {
            problems.push(format!("recv_window_ms: {} is outside 1..=60000", self.recv_window_ms));
        }
        if self.request_timeout.is_zero() {
            problems.push("request_timeout: must be greater than zero".into());
        }
        if self.instruments.is_empty() {
            problems.push("instruments: at least one instrument is needed".into());
        }
        for (i, inst) in self.instruments.iter().enumerate() {
            if self.instruments[..i].iter().any(|o| o.id() == inst.id()) {
                problems.push(format!("instruments[{i}]: id {} appears twice", inst.id()));
            }
        }
        if self.accounts.is_empty() {
            problems.push("accounts: at least one account is needed".into());
        }
        for (i, (account, key, secret)) in self.accounts.iter().enumerate() {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
                problems.push(format!("accounts[{i}].api_key: must be non-empty printable ASCII"));
            }
            if secret.is_empty() {
                problems.push(format!("accounts[{i}].secret: must not be empty"));
            }
            if self.accounts[..i].iter().any(|(a, _, _)| a == account) {
                problems.push(format!("accounts[{i}]: account {account} appears twice"));
            }
        }
        if let Some(name) = &self.server_name
            && rustls_pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            problems.push(format!("server_name: {name:?} is not a DNS name or IP address"));
        }
        rest.zip(ws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named_with_its_field() {
        let cfg = GatewayConfig {
            rest_url: "http://x".into(),
            ws_url: "wss://ok.example".into(),
            recv_window_ms: 0,
            request_timeout: Duration::ZERO,
            accounts: vec![(AccountId(1), "k ey".into(), String::new()), (AccountId(1), "k".into(), "s".into())],
            server_name: Some("not a name".into()),
            ..GatewayConfig::default()
        };
        let mut problems = Vec::new();
        assert!(cfg.problems(&mut problems).is_none());
        let text = problems.join("\n");
        for field in [
            "rest_url:",
            "recv_window_ms:",
            "request_timeout:",
            "instruments:",
            "accounts[0].api_key:",
            "accounts[0].secret:",
            "accounts[1]: account 1 appears twice",
            "server_name:",
        ] {
            assert!(text.contains(field), "{field} missing from\n{text}");
        }
        assert!(!text.contains("ws_url"), "{text}");
        // The Debug form never shows a key or secret.
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("k ey") && !shown.contains("\"s\""), "{shown}");
    }
}
