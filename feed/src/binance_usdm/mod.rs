//! Binance USD-M futures market data below the socket: [`Decoder`], the [`crate::decoder::VenueDecoder`] of
//! `<sym>@depth@100ms` diffs (synced against `GET /fapi/v1/depth` snapshots under the futures
//! rule, [`rules::FuturesDepthSync`]), `<sym>@bookTicker` and `<sym>@aggTrade`.
//!
//! Differs from spot (`crate::binance`) only where the venue differs: depth events carry `pu`
//! (the previous event's `u`) and continuity is `pu == previous u` — on USD-M `U` is never
//! `previous u + 1`, so the spot sync cannot be reused; the bridge is `U <= lastUpdateId <= u`.
//! The kit's tape helpers, error type, snapshot parser and sync are shared with spot. The live
//! feed is [`connect::BinanceUsdmFeed`] (the shared [`crate::kit::live::LiveFeed`] layer); replay
//! (`qt feed-check`) drives the same decoder.
//!
//! Thread and contract: core thread; `on_frame` never blocks and allocates nothing after warm-up
//! (parser buffers grown, sync buffers preallocated). Records: snapshot → `BookSnapshot` (first
//! `CLEAR`, last `BATCH_END`, `seq = lastUpdateId`); diff → `BookDelta` per level (`seq = u`,
//! `prev_seq = pu`, last `BATCH_END`, `exchange_ns` from `E`); bookTicker → two `BestBidOffer`
//! (`seq = u`); aggTrade → one `Trade` (`seq` = aggregate id, side = aggressor). A gap, an
//! unreadable depth frame or a disconnect emits one `BookSnapshot` record with `CLEAR` and no
//! `BATCH_END`.

pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

pub use connect::{BinanceUsdm, BinanceUsdmFeed};

use crate::kit::depth_decoder::DepthCounters;

/// Binance USD-M's decoder: the kit's snapshot+diff shell over [`wire::FrameParser`] and one
/// [`rules::FuturesDepthSync`] per symbol. Allocates only in `new` and when a snapshot body is
/// parsed (cold).
pub type Decoder = crate::kit::depth_decoder::DepthDecoder<wire::FrameParser>;

/// Counters of a [`Decoder`] (plain values, core thread): the kit's [`DepthCounters`] (read
/// through `Deref`), with their `stale` under the name USD-M's users read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsdmCounters {
    /// Depth events older than the book (dropped while bridging): [`DepthCounters::stale`].
    pub stale_events: u64,
    counters: DepthCounters,
}

impl std::ops::Deref for UsdmCounters {
    type Target = DepthCounters;

    fn deref(&self) -> &DepthCounters {
        &self.counters
    }
}

impl From<DepthCounters> for UsdmCounters {
    fn from(counters: DepthCounters) -> Self {
        Self { stale_events: counters.stale, counters }
    }
}
