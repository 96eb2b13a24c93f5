//! The venue kit: what every venue shares, written once, so that a venue folder
//! (`crate::<venue>`) holds only what differs — the walk of its JSON (`wire.rs`), its sequence
//! or checksum rule (`rules.rs`) and its connect step (`connect.rs`).
//!
//! - [`live`]: the one live layer (connect, subscribe, heartbeat, silence drop, reconnect with
//!   backoff and jitter, resubscribe/resync, the optional snapshot source).
//! - `bytes`: the word-at-a-time byte helpers of the per-frame text handling.
//! - `json`: the simd-json tape helpers and reused tape buffers of every wire walk.
//! - [`lift`]: level lists lifted out of a frame before simd-json sees it (every streaming book venue; Firi's REST bodies are not lifted).
//! - [`direct`]: a diff applied while it is parsed, and the string-pair level and quote walks.
//! - [`checksum_book`]: the shadow book of the checksum venues (OKX, Kraken) and its CRC32.
//! - [`checksum_sync`]: their per-symbol book sync, parameterized by the venue's checksum rule.
//! - [`depth_sync`]: the snapshot+diff book sync (Binance spot and USD-M, KuCoin), parameterized
//!   by the venue's sequence rule, with its bounded `diff_buffer`.
//! - [`symbol_sync`]: one symbol's sync as the decoder shell drives it (the snapshot+diff sync;
//!   Bybit's in-stream sync; the checksum sync; Firi's whole-book bodies), and how it resyncs.
//! - [`depth_decoder`]: the one decoder shell (and its live half) of every streaming book venue,
//!   given the venue's wire walk and, through it, its sync.
//! - [`rest_depth`]: the REST depth snapshot body Binance spot and USD-M share.

pub(crate) mod bytes;
pub mod checksum_book;
pub mod checksum_sync;
pub mod depth_decoder;
pub mod depth_sync;
pub(crate) mod diff_buffer;
pub mod direct;
pub(crate) mod json;
pub mod lift;
pub mod live;
pub mod rest_depth;
pub mod symbol_sync;
