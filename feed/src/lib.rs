//! Quantum Trader market-data feeds: sources the core thread polls.
//!
//! [`ring::RingFeed`] takes normalized records from another thread (the simulated venue, a
//! replay) through a preallocated SPSC ring. Socket feeds for the real venues plug in beside it
//! through the same [`qt_core::FeedSource`] trait, on one of two live layers:
//! [`snapshot_feed::SnapshotFeed`] for venues whose books sync a WebSocket diff stream against REST
//! snapshots — [`binance::BinanceFeed`] (spot), [`binance_usdm::BinanceUsdmFeed`] (USD-M futures) and
//! [`kucoin::KucoinFeed`] (bullet-token connect flow, pings) — with the snapshot thread beside it;
//! and [`ws_feed::WsFeed`] for venues whose snapshot arrives in the stream — [`bybit::BybitFeed`]
//! (Bybit v5 public order book and trades), [`okx::live::OkxFeed`] (OKX v5 `books`, `trades`,
//! `bbo-tbt`) and [`kraken::live::KrakenFeed`] (Kraken WS v2 `book`, `trade`). [`firi::FiriFeed`]
//! polls REST on its own thread. Shared pieces: [`ws`] (WebSocket over rustls on a mio socket),
//! [`tls`], [`endpoint`], [`snapshot`] (the blocking HTTPS client), [`error`], [`parse_error`]
//! (the one `ParseError` every venue decoder returns), [`warn_gate`] (the per-reason rate
//! limit on their warnings).
//!
//! Decoding is a venue kit ([`kit`]: byte helpers, tape helpers and lifting, the checksum book,
//! sync and decoder shell, the snapshot+diff sync parameterized by a sequence rule) and one
//! folder per venue holding only what differs, with the same file names in each: `wire.rs`
//! (the walk of its JSON), `rules.rs` (its sequence or checksum rule), `mod.rs` (its decoder).

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
pub mod snapshot_feed;
pub mod tls;
pub mod warn_gate;
pub mod ws;
pub mod ws_feed;

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
