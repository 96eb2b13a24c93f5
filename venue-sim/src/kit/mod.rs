//! What several wire protocols share, so that no protocol borrows from another: decimal and
//! time text ([`decimal_text`]), form decoding ([`form`]), raw and combined stream paths
//! ([`combined_streams`]), and the one session loop of the protocols whose sessions queue
//! messages (OKX, Kraken, Bybit: [`session`]), and the recent public trades REST endpoints list
//! ([`trade_log`]); the Binance protocols' (spot, USD-M) parameters, signing check, errors and
//! listen keys and trade lists ([`binance_params`], [`binance_errors`], [`listen_keys`],
//! [`binance_trades`]); marks a venue keeps on orders ([`order_marks`]). (The book mirrors and outbox of the public sessions are in
//! [`crate::public_stream`]; the diff windows of the snapshot+diff streams in `crate::stream`.)

pub(crate) mod binance_errors;
pub(crate) mod binance_params;
pub(crate) mod binance_text;
pub(crate) mod binance_trades;
pub(crate) mod combined_streams;
pub(crate) mod decimal_text;
pub(crate) mod form;
pub(crate) mod listen_keys;
pub(crate) mod order_marks;
pub(crate) mod session;
pub(crate) mod trade_log;
