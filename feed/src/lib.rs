//! Quantum Trader market-data feeds: sources the core thread polls.
//!
//! [`ring::RingFeed`] takes normalized records from another thread (the in-process simulated
//! venue) through a preallocated SPSC ring. Socket feeds for the real venues plug in beside it
//! through the same [`qt_core::FeedSource`] trait, all on one live layer,
//! [`kit::live::LiveFeed`] (connect, subscribe, heartbeat, silence drop, reconnect with backoff
//! and jitter, resubscribe/resync, and an optional snapshot thread for REST snapshots and
//! session opening). Each venue folder adds its connect step (`<venue>/connect.rs`):
//! [`binance::BinanceFeed`] (spot) and [`binance_usdm::BinanceUsdmFeed`] (USD-M futures), which
//! sync a diff stream against REST snapshots; [`kucoin::KucoinFeed`] (the same, with a
//! bullet-token session opening and pings); [`bybit::BybitFeed`], [`okx::connect::OkxFeed`] and
//! [`kraken::connect::KrakenFeed`], whose snapshots arrive in the stream. [`firi::FiriFeed`]
//! polls REST on its own thread. Shared pieces: [`ws`] (WebSocket over rustls on a mio socket),
//! [`tls`], [`endpoint`], [`snapshot`] (the blocking HTTPS client), [`error`], [`parse_error`]
//! (the one `ParseError` every venue decoder returns), [`warn_gate`] (the per-reason rate
//! limit on their warnings).
//!
//! Decoding is a venue kit ([`kit`]: byte helpers, tape helpers and lifting, the checksum book,
//! sync and decoder shell, the snapshot+diff sync parameterized by a sequence rule) and one
//! folder per venue holding only what differs, with the same file names in each: `wire.rs`
//! (the walk of its JSON), `rules.rs` (its sequence or checksum rule), `mod.rs` (its decoder),
//! `connect.rs` (its connect step).

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod binance;
pub mod binance_usdm;
pub mod bybit;
pub mod decoder;
pub mod endpoint;
pub mod error;
pub mod firi;
pub mod kit;
pub mod kraken;
pub mod kucoin;
pub mod okx;
pub mod parse_error;
pub mod ring;
pub mod snapshot;
pub mod tls;
pub mod warn_gate;
pub mod ws;

pub use binance::{BinanceFeed, BinanceFeedConfig};
pub use binance_usdm::Decoder as BinanceUsdmDecoder;
pub use bybit::{BybitFeed, BybitFeedConfig, Decoder as BybitDecoder};
pub use decoder::{ChecksumVerdict, FeedStats, VenueDecoder};
pub use error::FeedError;
pub use firi::Decoder as FiriDecoder;
/// The kit's lifting and direct-diff pieces, where they were before the venue kit.
pub use kit::{direct, lift};
pub use kucoin::Decoder as KucoinDecoder;
pub use ring::RingFeed;

/// The snapshot-synced venues' live-layer names from before the venue kit, kept for old callers:
/// the layer is [`kit::live::LiveFeed`] for every venue now.
pub mod snapshot_feed {
    pub use crate::kit::live::{
        LiveCounters as LinkCounters, LiveFeed as SnapshotFeed, LiveFeedConfig as SnapshotFeedConfig,
        LiveVenue as SnapshotVenue, RECONNECT_BASE, RECONNECT_CAP, SessionPlan, Tap, Tapped, check_common,
    };
}

/// The stream venues' live-layer names from before the venue kit, kept for old callers: the
/// layer is [`kit::live::LiveFeed`] for every venue now.
pub mod ws_feed {
    pub use crate::kit::live::{
        Heartbeat, LiveCounters as WsFeedCounters, LiveFeed as WsFeed, LiveVenue, WsFeedConfig,
    };

    /// A [`LiveVenue`] seen as before: its subscriptions with every symbol subscribed.
    pub trait StreamVenue: LiveVenue {
        /// Requests sent after every (re)connect, covering every symbol.
        fn subscribe_requests(&self) -> Vec<String>;
    }

    impl<V: LiveVenue> StreamVenue for V {
        fn subscribe_requests(&self) -> Vec<String> {
            self.subscriptions(&vec![true; self.symbol_count()])
        }
    }
}
