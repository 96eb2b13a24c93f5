//! KuCoin spot level-2 market data: [`Decoder`], the [`crate::decoder::VenueDecoder`] for one
//! KuCoin public WebSocket session (`/market/level2:{sym}` increments synced against REST
//! snapshots, `/market/match:{sym}` trades, control frames).
//!
//! Pieces: [`wire`] (frames → records, REST snapshot body), [`rules`] (KuCoin's documented
//! "Level2 calibration" rule for the kit's snapshot+diff sync, one [`rules::Level2Sync`] per
//! symbol), [`connect`] (the token-based connect flow: bullet answer, connect URL, subscribe and
//! ping messages, and the live feed: the shared live layer with KuCoin's connect flow and
//! heartbeat).
//!
//! Thread and contract: owned by the core thread. `on_frame` never blocks and makes no
//! syscall; after warm-up (parser buffers grown to the largest frame) the parse → sync → emit
//! path of a synced symbol allocates nothing. Snapshots, resyncs and disconnects are `#[cold]`;
//! the snapshot body is parsed with allocation.
//!
//! Records: snapshot → `BookSnapshot` (first `CLEAR`, last `BATCH_END`, `seq = sequence`);
//! increment → `BookDelta` per surviving change (`seq = sequenceEnd`, `prev_seq = sequenceStart`,
//! last `BATCH_END`, `exchange_ns` from `time` when present); match → one `Trade` (`seq =
//! sequence`, side = taker's, `exchange_ns` = `time`). A gap, an unreadable level-2 frame or a
//! disconnect emits one `BookSnapshot` record with `CLEAR` and no `BATCH_END`: the engine's book
//! is invalid until the resync's snapshot ends with `BATCH_END`.

pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

/// The live feed's old path (now in [`connect`]).
pub use connect as feed;
pub use connect::{Kucoin, KucoinFeed};

/// KuCoin's decoder: everything below the socket — the kit's snapshot+diff shell over
/// [`wire::FrameParser`] and one [`rules::Level2Sync`] per symbol. Core thread; allocates only
/// in `new` and on cold paths.
pub type Decoder = crate::kit::depth_decoder::DepthDecoder<wire::FrameParser>;

/// The decoder's counters (core thread only).
pub type KucoinCounters = crate::kit::depth_decoder::DepthCounters;
