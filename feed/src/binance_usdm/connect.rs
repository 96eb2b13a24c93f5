//! Binance USD-M's connect step: [`BinanceUsdm`] (Binance's [`CombinedStreams`] with this
//! venue's streams, snapshot path and decoder) and [`BinanceUsdmFeed`], its public market data as
//! a live [`qt_core::FeedSource`] — the shared [`LiveFeed`] layer with what differs here: the
//! combined stream of `<sym>@depth@100ms`, `<sym>@bookTicker` and `<sym>@aggTrade`
//! (`wss://fstream.binance.com/stream?streams=...`), REST snapshots from
//! `GET /fapi/v1/depth?symbol=S&limit=N` (`https://fapi.binance.com`), and the futures `pu`
//! sync of [`super::Decoder`]. The server pings; tungstenite answers, so there is no
//! application-level heartbeat.
//!
//! Thread and contract: as [`LiveFeed`] (core thread, never blocks; snapshot thread for
//! REST). Construction validates the config and may block on DNS.

use super::Decoder;
use crate::binance::CombinedStreams;
use crate::error::FeedError;
use crate::kit::live::{LiveFeed, LiveFeedConfig, check_common};

/// `limit` values `GET /fapi/v1/depth` accepts (NOTES.md §1b).
pub const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];

/// Binance USD-M at the connection level.
pub type BinanceUsdm = CombinedStreams<Decoder>;

/// The Binance USD-M futures market-data feed.
pub type BinanceUsdmFeed = LiveFeed<BinanceUsdm>;

impl LiveFeed<BinanceUsdm> {
    /// Validates `cfg` (every problem at once; `depth_limit` one of [`DEPTH_LIMITS`]), builds
    /// TLS and starts the snapshot thread. Blocking start-up work: call before the core loop.
    pub fn new(cfg: LiveFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        check_common(&cfg, true, true, &mut problems);
        if !DEPTH_LIMITS.contains(&cfg.depth_limit) {
            problems.push(format!("depth_limit: {} is not one of {DEPTH_LIMITS:?}", cfg.depth_limit));
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "binance_usdm", problem: problems.join("; ") });
        }
        let streams = cfg
            .symbols
            .iter()
            .map(|s| {
                let lower = s.symbol().to_ascii_lowercase();
                vec![format!("{lower}@depth@100ms"), format!("{lower}@bookTicker"), format!("{lower}@aggTrade")]
            })
            .collect();
        let venue = BinanceUsdm::new("binance_usdm", &cfg, streams, "/fapi/v1/depth");
        Self::with_venue(venue, Decoder::new(&cfg.symbols), &cfg)
    }
}
