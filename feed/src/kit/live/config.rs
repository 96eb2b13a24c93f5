//! What a live feed connects to: [`LiveFeedConfig`], one config for every venue (URLs, TLS,
//! symbols, snapshot depth), [`WsFeedConfig`], its part without REST (the stream venues'
//! configs embed it), and the start-up checks they share. Validation reports every problem at
//! once, each named by its field.

use crate::endpoint::Endpoint;
use qt_core::Instrument;
use std::path::PathBuf;

/// What a live feed connects to and subscribes, whatever the venue.
#[derive(Debug, Clone)]
pub struct LiveFeedConfig {
    /// WebSocket base, e.g. `wss://stream.binance.com:9443` (the venue appends its path).
    /// Unused by venues that hand out the endpoint (KuCoin's bullet).
    pub ws_url: String,
    /// REST base, e.g. `https://api.binance.com`, for venues with REST snapshots or session
    /// opening; unused (may be empty) by the others.
    pub rest_url: String,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URLs' hosts (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// Symbols; index in the list = symbol index; each instrument's id goes into its records.
    pub symbols: Vec<Instrument>,
    /// REST snapshot depth; its meaning and range are the venue's (see each venue's connect).
    pub depth_limit: usize,
}

impl LiveFeedConfig {
    /// A config with depth limit 1000, no CA file and no server-name override.
    pub fn new(ws_url: impl Into<String>, rest_url: impl Into<String>, symbols: Vec<Instrument>) -> Self {
        Self {
            ws_url: ws_url.into(),
            rest_url: rest_url.into(),
            ca_file: None,
            server_name: None,
            symbols,
            depth_limit: 1000,
        }
    }
}

/// Where a stream venue (snapshot in the stream, no REST) connects.
#[derive(Debug, Clone)]
pub struct WsFeedConfig {
    /// WebSocket base, e.g. `wss://ws.okx.com:8443` (the venue appends its path).
    pub ws_url: String,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URL's host (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// Symbols; index in the list = symbol index; each instrument's id goes into its records.
    pub symbols: Vec<Instrument>,
}

impl From<WsFeedConfig> for LiveFeedConfig {
    /// No REST URL; depth limit 0 (the stream venues' depth is their own config's).
    fn from(c: WsFeedConfig) -> Self {
        Self {
            ws_url: c.ws_url,
            rest_url: String::new(),
            ca_file: c.ca_file,
            server_name: c.server_name,
            symbols: c.symbols,
            depth_limit: 0,
        }
    }
}

impl From<&LiveFeedConfig> for WsFeedConfig {
    /// The WebSocket part (`rest_url` and `depth_limit` dropped).
    fn from(c: &LiveFeedConfig) -> Self {
        Self {
            ws_url: c.ws_url.clone(),
            ca_file: c.ca_file.clone(),
            server_name: c.server_name.clone(),
            symbols: c.symbols.clone(),
        }
    }
}

/// Start-up checks every venue shares: the URLs it uses, symbols present and distinct. Pushes
/// each problem (with its field path) onto `problems`.
pub fn check_common(cfg: &LiveFeedConfig, needs_ws_url: bool, needs_rest_url: bool, problems: &mut Vec<String>) {
    if needs_ws_url && let Err(e) = Endpoint::parse(&cfg.ws_url, "ws_url") {
        problems.push(e.to_string());
    }
    if needs_rest_url && let Err(e) = Endpoint::parse(&cfg.rest_url, "rest_url") {
        problems.push(e.to_string());
    }
    if cfg.symbols.is_empty() {
        problems.push("symbols: empty (expected at least one instrument)".into());
    }
    for (i, s) in cfg.symbols.iter().enumerate() {
        if cfg.symbols[..i].iter().any(|o| o.symbol() == s.symbol()) {
            problems.push(format!("symbols[{i}]: {} is listed twice", s.symbol()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FeedError;

    #[test]
    fn bad_configs_are_refused_naming_every_field() {
        let mut cfg = LiveFeedConfig::new("ws://insecure", "https://127.0.0.1:1", Vec::new());
        cfg.depth_limit = 7;
        let usdm = crate::binance_usdm::BinanceUsdmFeed::new(cfg.clone()).map(|_| ());
        let kucoin = crate::kucoin::KucoinFeed::new(cfg.clone()).map(|_| ());
        let spot = crate::binance::BinanceFeed::new(LiveFeedConfig { depth_limit: 0, ..cfg.clone() }).map(|_| ());
        let mut bybit_cfg = crate::bybit::BybitFeedConfig::new(cfg.ws_url.clone(), Vec::new());
        bybit_cfg.depth = 7;
        let bybit = crate::bybit::BybitFeed::new(bybit_cfg).map(|_| ());
        for (result, venue, fields) in [
            (usdm, "binance_usdm", &["ws_url", "symbols", "depth_limit"][..]),
            (kucoin, "kucoin", &["symbols", "depth_limit"][..]),
            (spot, "binance", &["ws_url", "symbols", "depth_limit"][..]),
            (bybit, "bybit", &["ws_url", "symbols", "depth"][..]),
        ] {
            let Err(FeedError::Config { field, problem }) = result else { panic!("{venue}: accepted") };
            assert_eq!(field, venue);
            for named in fields {
                assert!(problem.contains(named), "{venue}: {problem}");
            }
        }
    }

    #[test]
    fn a_stream_venue_is_refused_naming_the_common_fields() {
        let common = WsFeedConfig { ws_url: "ws://insecure".into(), ca_file: None, server_name: None, symbols: vec![] };
        let okx = crate::okx::connect::OkxLive::feed(crate::okx::connect::OkxFeedConfig::new(common.clone()));
        let kraken = crate::kraken::connect::KrakenLive::feed(crate::kraken::connect::KrakenFeedConfig::new(common));
        for (result, venue) in [(okx.map(|_| ()), "okx"), (kraken.map(|_| ()), "kraken")] {
            let Err(FeedError::Config { field, problem }) = result else { panic!("{venue}: accepted") };
            assert_eq!(field, venue);
            assert!(problem.contains("ws_url") && problem.contains("symbols"), "{venue}: {problem}");
        }
    }
}
