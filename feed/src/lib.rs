//! Quantum Trader market-data feeds: sources the core thread polls.
//!
//! [`ring::RingFeed`] takes normalized records from another thread (the simulated venue, a
//! replay) through a preallocated SPSC ring. Socket feeds for the real venues plug in beside it
//! through the same [`qt_core::FeedSource`] trait: [`binance::BinanceFeed`] (Binance spot diff
//! depth, book ticker and trades over one non-blocking WebSocket, with REST snapshots fetched
//! on its snapshot thread). Shared pieces: [`ws`] (WebSocket over rustls on a mio socket),
//! [`tls`], [`endpoint`], [`snapshot`] (the snapshot thread and its HTTPS client), [`error`].

pub mod binance;
pub mod decoder;
pub mod endpoint;
pub mod error;
pub mod ring;
pub mod snapshot;
pub mod tls;
pub mod ws;

pub use binance::{BinanceFeed, BinanceFeedConfig};
pub use decoder::{ChecksumVerdict, DecoderStats, VenueDecoder};
pub use error::FeedError;
pub use ring::RingFeed;
