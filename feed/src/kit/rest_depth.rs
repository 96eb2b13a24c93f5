//! The REST depth snapshot body Binance spot (`GET /api/v3/depth`) and USD-M (`GET
//! /fapi/v1/depth`) share — `{"lastUpdateId":..,"bids":[["p","q"],..],"asks":..}`, other keys
//! ignored — as a [`DepthSnapshot`] on the instrument's grid, and how the snapshot+diff sync
//! emits it ([`BookImage`]: each side best first, as sent).
//!
//! Runs on the snapshot thread (or a cold path of the core thread) and allocates freely; bad
//! input is a [`ParseError`], never a panic.

use crate::kit::depth_sync::{BookImage, emit_book_image};
use crate::kit::json::{level_price, qty};
use crate::parse_error::ParseError;
use qt_core::{Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty};

/// A REST depth snapshot on the instrument's grid, built on the snapshot thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthSnapshot {
    /// `lastUpdateId`.
    pub last_update_id: u64,
    /// Bids, best first.
    pub bids: Vec<(Price, Qty)>,
    /// Asks, best first.
    pub asks: Vec<(Price, Qty)>,
}

#[derive(serde::Deserialize)]
struct RestDepth<'a> {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
    #[serde(borrow)]
    bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    asks: Vec<(&'a str, &'a str)>,
}

/// Parses a `GET /api/v3/depth` or `GET /fapi/v1/depth` body (parsed in place: `body` is modified). Allocates.
pub fn parse_depth_snapshot(body: &mut [u8], instrument: &Instrument) -> Result<DepthSnapshot, ParseError> {
    let raw: RestDepth<'_> = simd_json::serde::from_slice(body).map_err(|_| ParseError::Json)?;
    let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
    let side = |levels: &[(&str, &str)], key: &'static str| -> Result<Vec<(Price, Qty)>, ParseError> {
        levels.iter().map(|(p, q)| Ok((level_price(p, ps, key)?, qty(q, qs, key)?))).collect()
    };
    Ok(DepthSnapshot {
        last_update_id: raw.last_update_id,
        bids: side(&raw.bids, "bids")?,
        asks: side(&raw.asks, "asks")?,
    })
}

impl BookImage for DepthSnapshot {
    #[inline]
    fn id(&self) -> u64 {
        self.last_update_id
    }

    fn emit(&self, instrument: InstrumentId, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let id = self.last_update_id;
        emit_book_image(instrument, &self.bids, &self.asks, id, Nanos(0), local_ns, false, emit);
    }
}
