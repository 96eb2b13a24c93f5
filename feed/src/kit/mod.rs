//! The venue kit: what every venue shares, written once. [`live`] is the one live layer
//! (connect, subscribe, heartbeat, silence drop, reconnect with backoff and jitter,
//! resubscribe/resync, the optional snapshot source); a venue folder adds only its connect
//! step (`<venue>/connect.rs`).

pub mod live;
