//! Firi REST order-book body parsing: `GET /v2/markets/{market}/depth` → [`DepthBody`] on the
//! instrument's grid.
//!
//! Shape (**unverified**: no verbatim Firi sample exists in our sources; NOTES.md marks the path
//! RECALL): `{"bids":[[price, amount], ...],"asks":[[price, amount], ...]}` with decimal
//! strings. Because the shape is not confirmed, a level is also accepted as an object
//! `{"price":..,"amount":..}` and decimals as JSON strings only (never numbers: a JSON number
//! would have to pass through `f64` somewhere). Anything else is a [`ParseError`].
//!
//! Thread and contract: the core thread (one body per poll, a cold path); allocates, never
//! panics on input.

use qt_core::decimal::parse_scaled_bytes;
use qt_core::{Instrument, Price, Qty};

/// `GET` path of a market's order book.
pub fn depth_path(market: &str) -> String {
    format!("/v2/markets/{market}/depth")
}

pub use crate::parse_error::ParseError;

/// One order-book body on the instrument's grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthBody {
    /// Bids as listed.
    pub bids: Vec<(Price, Qty)>,
    /// Asks as listed.
    pub asks: Vec<(Price, Qty)>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RawLevel {
    Pair(String, String),
    Object { price: String, amount: String },
}

#[derive(serde::Deserialize)]
struct RawDepth {
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
}

/// Parses one depth body (copied; `body` is untouched).
pub fn parse_depth(body: &[u8], instrument: &Instrument) -> Result<DepthBody, ParseError> {
    let mut owned = body.to_vec();
    let raw: RawDepth = simd_json::serde::from_slice(&mut owned).map_err(|_| ParseError::Json)?;
    let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
    let side = |levels: &[RawLevel], key: &'static str| -> Result<Vec<(Price, Qty)>, ParseError> {
        levels
            .iter()
            .map(|l| {
                let (p, q) = match l {
                    RawLevel::Pair(p, q) | RawLevel::Object { price: p, amount: q } => (p, q),
                };
                let p = parse_scaled_bytes(p.as_bytes(), ps).map_err(|_| ParseError::BadDecimal(key))?;
                let q = parse_scaled_bytes(q.as_bytes(), qs).map_err(|_| ParseError::BadDecimal(key))?;
                // A level priced 0 is no level (the book refuses it).
                if p <= 0 || q < 0 {
                    return Err(ParseError::BadDecimal(key));
                }
                if q == 0 {
                    return Err(ParseError::ZeroQty(key));
                }
                Ok((Price::from_units(p), Qty::from_units(q)))
            })
            .collect()
    };
    Ok(DepthBody { bids: side(&raw.bids, "bids")?, asks: side(&raw.asks, "asks")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentId, InstrumentKind, InstrumentSpec, Venue};

    fn ethnok() -> Instrument {
        let spec = InstrumentSpec {
            venue: Venue::Firi,
            symbol: "ETHNOK".into(),
            base: "ETH".into(),
            quote: "NOK".into(),
            kind: InstrumentKind::Spot,
            tick_size: "0.01".into(),
            lot_size: "0.0001".into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        Instrument::from_spec(InstrumentId(0), &spec).unwrap()
    }

    #[test]
    fn pairs_and_objects_on_the_grid() {
        let body = br#"{"bids":[["30000.5","0.25"]],"asks":[{"price":"30001","amount":"1"}],"extra":1}"#;
        let got = parse_depth(body, &ethnok()).unwrap();
        assert_eq!(got.bids, vec![(Price::from_units(3_000_050), Qty::from_units(2_500))]);
        assert_eq!(got.asks, vec![(Price::from_units(3_000_100), Qty::from_units(10_000))]);
        assert_eq!(
            parse_depth(br#"{"bids":[["1","0.00001"]],"asks":[]}"#, &ethnok()),
            Err(ParseError::BadDecimal("bids"))
        );
        assert_eq!(parse_depth(br#"{"bids":[],"asks":[["1","0"]]}"#, &ethnok()), Err(ParseError::ZeroQty("asks")));
        assert_eq!(depth_path("ETHNOK"), "/v2/markets/ETHNOK/depth");
    }
}
