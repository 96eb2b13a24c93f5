//! Firi REST order-book body parsing: `GET /v2/markets/{market}/depth` → [`DepthBody`] on the
//! instrument's grid.
//!
//! Shape (**unverified**: no verbatim Firi sample exists in our sources; NOTES.md marks the path
//! RECALL): `{"bids":[[price, amount], ...],"asks":[[price, amount], ...]}` with decimal
//! strings. Because the shape is not confirmed, a level is also accepted as an object
//! `{"price":..,"amount":..}` and decimals as JSON strings only (never numbers: a JSON number
//! would have to pass through `f64` somewhere). Anything else is a [`ParseError`].
//!
//! [`parse_depth`] deserialises through serde (allocating); `parse_depth_into`, what the
//! decoder runs, walks a reused simd-json tape into reused vectors and accepts and refuses exactly
//! the same bodies (tested against `parse_depth`).
//!
//! [`FiriWire`] is the wire walk the decoder shell ([`crate::kit::depth_decoder::DepthDecoder`])
//! runs: each body parsed into reused buffers, numbered among the good ones and handed out as
//! one whole-book message of the market's [`super::rules::ImageSync`].
//!
//! Thread and contract: the core thread (one body per poll); never panics on input.

use crate::kit::depth_decoder::{DepthFailure, DepthFrame, DepthWire};
use crate::kit::direct::DiffSink;
use crate::kit::json::{TapeBuffers, scaled, span};
use qt_core::decimal::parse_scaled_bytes;
use qt_core::{Instrument, MarketEvent, Nanos, Price, Qty, Venue};
use simd_json::Node;

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

/// Parses one depth body into `out` (its vectors cleared and reused) through the reused `tape`
/// buffers: the hot path of [`super::Decoder`]. Accepts and refuses exactly what
/// [`parse_depth`] does (the test `tape_parser_agrees_with_serde` compares the two): an object
/// with `bids` and `asks` (first of each; a repeated one is refused; other keys ignored) or a
/// two-element array `[bids, asks]` (serde's struct-from-sequence), each a list of levels that
/// are `[price, amount]` string pairs or `{"price","amount"}` string objects; any shape error
/// is [`ParseError::Json`] even after a bad decimal, the first bad decimal otherwise. After
/// warm-up nothing allocates.
pub(crate) fn parse_depth_into(
    tape: &mut TapeBuffers,
    body: &[u8],
    instrument: &Instrument,
    out: &mut DepthBody,
) -> Result<(), ParseError> {
    out.bids.clear();
    out.asks.clear();
    let scales = (instrument.price_scale(), instrument.qty_scale());
    let result = tape.parse(body, |nodes| walk_depth(nodes, scales, out)).unwrap_or(Err(ParseError::Json));
    if result.is_err() {
        out.bids.clear();
        out.asks.clear();
    }
    result
}

/// Bodies the parse buffers are first sized for (bytes; they grow to the largest body seen).
const INITIAL_BODY_CAPACITY: usize = 16 * 1024;

/// Firi's wire walk of one market (see the module doc). Core thread.
#[derive(Debug)]
pub struct FiriWire {
    instrument: Instrument,
    /// The reused parse buffers.
    tape: TapeBuffers,
    /// The last body's levels (reused).
    book: DepthBody,
    /// Good bodies walked: the last one's `seq`.
    bodies: u64,
}

impl FiriWire {
    /// The walk of one market's bodies (`instrument.symbol()` is Firi's market name).
    pub fn new(instrument: Instrument) -> Self {
        Self {
            instrument,
            tape: TapeBuffers::new(INITIAL_BODY_CAPACITY),
            book: DepthBody { bids: Vec::new(), asks: Vec::new() },
            bodies: 0,
        }
    }

    /// The market.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }
}

impl DepthWire for FiriWire {
    type Sync = super::rules::ImageSync;
    type Counters = super::FiriCounters;
    const VENUE: Venue = Venue::Firi;
    /// Nothing is buffered: every body is the whole book.
    const SYNC_CAPACITY: usize = 0;

    /// A good body is numbered and goes out whole (straight to `sink`, or staged in `out`); a
    /// refused one names no book, so it emits nothing (the live feed invalidates).
    #[inline]
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<()>,
    ) -> Result<DepthFrame<(), ()>, DepthFailure> {
        out.clear();
        parse_depth_into(&mut self.tape, frame, &self.instrument, &mut self.book)
            .map_err(|error| DepthFailure { error, book: None })?;
        self.bodies += 1;
        let id = self.instrument.id();
        if sink.direct(0, ()) {
            super::rules::emit_body(id, &self.book, self.bodies, local_ns, &mut |ev| sink.emit(ev));
            Ok(DepthFrame::DiffEmitted { symbol: 0, end: () })
        } else {
            super::rules::emit_body(id, &self.book, self.bodies, local_ns, &mut |ev| out.push(*ev));
            Ok(DepthFrame::Diff { symbol: 0, ids: () })
        }
    }
}

/// The tape of one depth body into `out`; see [`parse_depth_into`].
fn walk_depth(nodes: &[Node<'_>], scales: (u8, u8), out: &mut DepthBody) -> Result<(), ParseError> {
    let (bids, asks) = match nodes.first() {
        Some(Node::Object { len, .. }) => {
            let (mut bids, mut asks) = (None, None);
            let mut i = 1;
            for _ in 0..*len {
                let Some(Node::String(key)) = nodes.get(i) else { return Err(ParseError::Json) };
                let slot = match *key {
                    "bids" => &mut bids,
                    "asks" => &mut asks,
                    _ => {
                        i += 1 + span(nodes, i + 1);
                        continue;
                    }
                };
                if slot.replace(i + 1).is_some() {
                    return Err(ParseError::Json);
                }
                i += 1 + span(nodes, i + 1);
            }
            (bids.ok_or(ParseError::Json)?, asks.ok_or(ParseError::Json)?)
        }
        Some(Node::Array { len: 2, .. }) => (1, 1 + span(nodes, 1)),
        _ => return Err(ParseError::Json),
    };
    let mut first_bad = None;
    walk_side(nodes, bids, scales, "bids", &mut out.bids, &mut first_bad)?;
    walk_side(nodes, asks, scales, "asks", &mut out.asks, &mut first_bad)?;
    first_bad.map_or(Ok(()), Err)
}

/// One side's level list at `at` into `levels`. A shape error returns [`ParseError::Json`];
/// a decimal error is kept in `first_bad` (the first one wins) and the walk goes on checking
/// the shape, as serde's whole-body deserialisation precedes [`parse_depth`]'s decimals.
#[inline]
fn walk_side(
    nodes: &[Node<'_>],
    at: usize,
    (ps, qs): (u8, u8),
    key: &'static str,
    levels: &mut Vec<(Price, Qty)>,
    first_bad: &mut Option<ParseError>,
) -> Result<(), ParseError> {
    let Some(Node::Array { len, .. }) = nodes.get(at) else { return Err(ParseError::Json) };
    let mut l = at + 1;
    for _ in 0..*len {
        let (p, q) = level_texts(nodes, l)?;
        l += span(nodes, l);
        if first_bad.is_some() {
            continue;
        }
        match (scaled(p, ps, key), scaled(q, qs, key)) {
            (Ok(0), Ok(_)) => *first_bad = Some(ParseError::BadDecimal(key)),
            (Ok(_), Ok(0)) => *first_bad = Some(ParseError::ZeroQty(key)),
            (Ok(p), Ok(q)) => levels.push((Price::from_units(p), Qty::from_units(q))),
            (Err(e), _) | (_, Err(e)) => *first_bad = Some(e),
        }
    }
    Ok(())
}

/// The price and amount text of the level at `at`: a `[price, amount]` pair of strings, or an
/// object whose `price` and `amount` (each once) are strings.
#[inline]
fn level_texts<'a>(nodes: &[Node<'a>], at: usize) -> Result<(&'a str, &'a str), ParseError> {
    match nodes.get(at) {
        Some(Node::Array { len: 2, .. }) => match (nodes.get(at + 1), nodes.get(at + 2)) {
            (Some(Node::String(p)), Some(Node::String(q))) => Ok((p, q)),
            _ => Err(ParseError::Json),
        },
        Some(Node::Object { len, .. }) => {
            let (mut price, mut amount) = (None, None);
            let mut i = at + 1;
            for _ in 0..*len {
                let Some(Node::String(key)) = nodes.get(i) else { return Err(ParseError::Json) };
                let slot = match *key {
                    "price" => &mut price,
                    "amount" => &mut amount,
                    _ => {
                        i += 1 + span(nodes, i + 1);
                        continue;
                    }
                };
                let Some(Node::String(text)) = nodes.get(i + 1) else { return Err(ParseError::Json) };
                if slot.replace(*text).is_some() {
                    return Err(ParseError::Json);
                }
                i += 2;
            }
            Ok((price.ok_or(ParseError::Json)?, amount.ok_or(ParseError::Json)?))
        }
        _ => Err(ParseError::Json),
    }
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

    #[test]
    fn tape_parser_agrees_with_serde() {
        let inst = ethnok();
        let mut tape = TapeBuffers::new(256);
        let mut out = DepthBody { bids: Vec::new(), asks: Vec::new() };
        let bodies: &[&[u8]] = &[
            br#"{"bids":[["30000.5","0.25"],["29999","1"]],"asks":[{"price":"30001","amount":"1","n":[1,{"a":2}]}],"x":{"y":[]}}"#,
            br#"{"bids":[],"asks":[]}"#,
            br#"[[["1","1"]],[["2","0.5"]]]"#,
            br#"[[["1","1"]]]"#,
            br#"[[],[],[]]"#,
            br#"{"bids":[["1","1"]]}"#,
            br#"{"bids":[["1","1"]],"asks":[],"bids":[]}"#,
            br#"{"bids":[["1","1","2"]],"asks":[]}"#,
            br#"{"bids":[["1"]],"asks":[]}"#,
            br#"{"bids":[[1,"1"]],"asks":[]}"#,
            br#"{"bids":[{"price":"1"}],"asks":[]}"#,
            br#"{"bids":[{"price":"1","amount":"2","price":"3"}],"asks":[]}"#,
            br#"{"bids":[{"price":"1","amount":2}],"asks":[]}"#,
            br#"{"bids":[["x","1"]],"asks":[["1",{}]]}"#,
            br#"{"bids":[["x","1"]],"asks":[["1","0"]]}"#,
            br#"{"bids":[["1","0"]],"asks":[["0","1"]]}"#,
            br#"{"bids":[["0","0"]],"asks":[]}"#,
            br#"{"bids":[["-1","1"]],"asks":[]}"#,
            br#"{"bids":[["1","-0"]],"asks":[]}"#,
            br#"{"bids":[["1.001","1"]],"asks":[]}"#,
            br#"{"bids":[["1","1e-2"]],"asks":[]}"#,
            br#"{"bi\u0064s":[["1","1"]],"asks":[]}"#,
            br#"{"bids":null,"asks":[]}"#,
            br#"{"bids":[["1","1"]],"asks":[]"#,
            br#""bids""#,
            b"",
        ];
        for body in bodies {
            let want = parse_depth(body, &inst);
            let got = parse_depth_into(&mut tape, body, &inst, &mut out).map(|()| out.clone());
            assert_eq!(got, want, "{}", String::from_utf8_lossy(body));
        }
    }
}
