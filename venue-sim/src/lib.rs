//! Quantum Trader's simulated exchange, with two faces: in-process and in lockstep with the core
//! for `qt run` ([`exchange::venue`]), and on loopback speaking the real venues' wire protocols
//! over TLS for `qt venue-sim`, with faults on demand.
//!
//! - [`exchange`] — the matching engine, synthetic flow, one instrument's market, the client
//!   desk and the in-process venue thread.
//! - [`market`] — books, background flow, accounts and orders (the shared matching engine).
//! - [`protocol`] — the seam a venue's wire protocol implements.
//! - [`binance`], [`bybit`], [`binance_usdm`], [`kucoin`], [`firi`], [`okx`], [`kraken`] — the protocols
//!   ([`stream`]: pieces the Binance USD-M, KuCoin and Firi sessions share; [`public_stream`]: pieces the
//!   OKX and Kraken sessions and Bybit's book topics share).
//! - [`server`] (with `conn`, one connection, and `ws_session`, the WebSocket side), [`tls`],
//!   [`http`], [`control`], [`faults`] — sockets and connection limits, certificates,
//!   HTTP/WebSocket, the `/_sim/` endpoints, faults.

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
