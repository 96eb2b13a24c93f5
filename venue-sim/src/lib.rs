//! Quantum Trader's simulated exchange, with two faces: in-process and in lockstep with the core
//! for `qt run` ([`exchange::venue`]), and on loopback speaking the real venues' wire protocols
//! over TLS for `qt venue-sim`, with faults on demand.
//!
//! - [`exchange`] — the matching engine, synthetic flow, one instrument's market, the client
//!   desk and the in-process venue thread.
//! - [`market`] — books, background flow, accounts and orders behind the wire protocols (over
//!   [`exchange`]'s matching engine).
//! - [`protocol`] — the seam a venue's wire protocol implements.
//! - [`binance`], [`bybit`], [`binance_usdm`], [`kucoin`], [`firi`], [`okx`], [`kraken`] — the protocols,
//!   one folder each with the same file names where they apply: `errors`, `params` (with the
//!   signing check), `rest`, `orders`, `wire` (encoding), `session` (WebSocket streams).
//! - `kit` — what protocols share instead of borrowing from each other: decimal text, form
//!   decoding, stream paths and the one session loop of OKX, Kraken and Bybit;
//!   [`public_stream`] (book mirrors, published views, the outbox) and `stream` (diff windows of
//!   the snapshot+diff streams: Binance USD-M, KuCoin).
//! - [`bench_probe`] — `qt bench --wire`'s trigger frames and their answers' timing.
//! - [`server`] (with `conn`, one connection, and `ws_session`, the WebSocket side), [`tls`],
//!   [`http`], [`control`], [`faults`] — sockets and connection limits, certificates,
//!   HTTP/WebSocket, the `/_sim/` endpoints, faults.

pub mod bench_probe;
pub mod binance;
pub mod binance_usdm;
pub mod bybit;
pub(crate) mod conn;
pub mod control;
pub mod exchange;
pub mod faults;
pub mod firi;
pub mod http;
pub(crate) mod kit;
pub mod kraken;
pub mod kucoin;
pub mod market;
pub mod okx;
pub mod protocol;
pub mod public_stream;
pub mod server;
pub mod signing;
pub(crate) mod stream;
pub mod tls;
pub(crate) mod ws_session;
