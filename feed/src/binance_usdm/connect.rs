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

use super::{Decoder, parse};
use crate::binance::CombinedStreams;
use crate::error::FeedError;
use crate::kit::live::{LiveDecoder, LiveFeed, LiveFeedConfig, check_common, deactivates};
use qt_core::{MarketEvent, Nanos};

/// `limit` values `GET /fapi/v1/depth` accepts (NOTES.md §1b).
pub const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];

/// Binance USD-M at the connection level.
pub type BinanceUsdm = CombinedStreams<Decoder>;

impl LiveDecoder for Decoder {
    fn symbol_count(&self) -> usize {
        self.syncs.len()
    }

    fn is_synced(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(super::sync::FuturesDepthSync::is_synced)
    }

    fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        let wants = self.syncs.get(index)?.wants_snapshot() && self.active[index];
        let slot = self.in_flight.get_mut(index)?;
        if !wants || slot.is_some() {
            return None;
        }
        self.generation += 1;
        *slot = Some(self.generation);
        *slot
    }

    #[cold]
    fn set_active(&mut self, index: usize, active: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if deactivates(&mut self.active, index, active)
            && let Some(sync) = self.syncs.get_mut(index)
        {
            sync.reset(now, emit);
            self.counters.records += 1;
            self.in_flight[index] = None;
        }
    }

    fn retry_snapshot_request(&mut self, index: usize, generation: u64) {
        if let Some(slot) = self.in_flight.get_mut(index)
            && *slot == Some(generation)
        {
            *slot = None;
        }
    }

    #[cold]
    fn on_snapshot_reply(
        &mut self,
        index: usize,
        generation: u64,
        body: &mut [u8],
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        if self.in_flight.get(index).copied().flatten() != Some(generation) {
            return;
        }
        self.in_flight[index] = None;
        let Some(instrument) = self.instruments.get(index) else { return };
        match parse::parse_depth_snapshot(body, instrument) {
            Ok(snap) => {
                self.on_snapshot(index, &snap, now, emit);
            }
            Err(e) => {
                self.counters.snapshot_failures += 1;
                self.warns.snapshot_refused("binance_usdm", instrument.symbol(), &e, now);
            }
        }
    }
}

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
