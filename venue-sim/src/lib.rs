//! Quantum Trader venue simulator: a local exchange on loopback that speaks the real venues'
//! wire protocols over TLS, with the shared matching engine behind it and faults on demand.
//!
//! - [`market`] — books, background flow, accounts and orders (the shared matching engine).
//! - [`protocol`] — the seam a venue's wire protocol implements.
//! - [`binance`], [`bybit`], [`okx`], [`kraken`] — the protocols; [`public_stream`] — pieces the OKX and Kraken
//!   market-data sessions share.
//! - [`server`], [`tls`], [`http`], [`faults`] — sockets, certificates, HTTP/WebSocket, faults.

pub mod binance;
pub mod bybit;
pub mod faults;
pub mod http;
pub mod kraken;
pub mod market;
pub mod okx;
pub mod protocol;
pub mod public_stream;
pub mod server;
pub mod signing;
pub mod tls;
