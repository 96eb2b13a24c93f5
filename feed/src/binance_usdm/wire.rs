//! Binance USD-M futures market-data parsing: combined-stream frames
//! (`{"stream":"<sym>@depth@100ms","data":{..}}`) and bare payloads (as the docs show them) of
//! `depthUpdate` (`e,E,T,s,U,u,pu,b,a`), `bookTicker` (`e,u,s,b,B,a,A,T,E`) and `aggTrade`
//! (`e,E,a,s,p,q,f,l,T,m`) into [`Parsed`] plus [`MarketEvent`]s.
//!
//! Core thread. Same technique as the spot parser (`crate::binance::wire`), with the same kit
//! pieces (tape helpers, lifting, error type): the frame is copied into a reused padded buffer (level lists lifted out,
//! [`crate::kit::lift`]), simd-json fills a
//! reused tape, decimals go straight to integers on the instrument's grid. After warm-up a frame
//! allocates nothing. Bad input is a `Copy` [`ParseError`], never a panic. The REST snapshot
//! (`GET /fapi/v1/depth`, `lastUpdateId,E,T,bids,asks`) is read by the kit's
//! [`crate::kit::rest_depth::parse_depth_snapshot`] (unknown keys ignored), as spot's is.

use crate::kit::depth_decoder::{DepthFailure, DepthFrame, DepthWire};
use crate::kit::direct::{
    DiffSink, LIFTED_LEVELS, PAIR_LISTS, Scales, StageEverything, string_pair_diff, string_quote,
};
use crate::kit::json::{
    TapeBuffers, fields, get_bool, get_str, get_u64, ms_to_ns, parse_named, price, qty, str_at, u64_at,
};
use crate::kit::lift::Lifted;
pub use crate::kit::rest_depth::{DepthSnapshot, parse_depth_snapshot};
pub use crate::parse_error::ParseError;
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use simd_json::Node;

/// Which stream of a symbol a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// `<sym>@depth`, `<sym>@depth@100ms`, `<sym>@depth@500ms`: diff depth.
    Depth,
    /// `<sym>@bookTicker`.
    BookTicker,
    /// `<sym>@aggTrade`.
    AggTrade,
}

/// A refused frame, with the stream it belonged to when that could still be told.
pub type ParseFailure = crate::parse_error::StreamFailure<StreamKind>;

/// What a parsed frame holds; its records are in the parser's output vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A diff: `BookDelta` records (bids then asks, no flags, `seq = u`, `prev_seq = pu`,
    /// `exchange_ns` from `E`).
    Depth {
        /// Symbol index.
        symbol: usize,
        /// `U`: first update id in the event.
        first: u64,
        /// `u`: final update id in the event.
        last: u64,
        /// `pu`: the previous event's `u`.
        prev: u64,
    },
    /// A diff whose records went straight to the [`DiffSink`] (which accepted it after its
    /// update ids were read), the last flagged `BATCH_END`; nothing is in the output vector.
    DepthEmitted {
        /// Symbol index.
        symbol: usize,
        /// `u`: final update id in the event.
        last: u64,
    },
    /// Two `BestBidOffer` records (bid, offer), the offer flagged `BATCH_END`.
    BookTicker {
        /// Symbol index.
        symbol: usize,
    },
    /// One `Trade` record (`seq` = aggregate trade id), flagged `BATCH_END`.
    AggTrade {
        /// Symbol index.
        symbol: usize,
    },
    /// A control reply (`{"result":null,"id":1}`): no records.
    Control,
}

#[derive(Debug, Clone)]
struct SymbolEntry {
    id: InstrumentId,
    symbol: String,
    /// `<lower-case symbol>@`.
    prefix: String,
    price_scale: u8,
    qty_scale: u8,
}

const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

/// Parses USD-M frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

/// `(symbol, kind)` of a stream name such as `btcusdt@depth@100ms`.
fn lookup_stream(symbols: &[SymbolEntry], name: &[u8]) -> Option<(usize, StreamKind)> {
    for (i, s) in symbols.iter().enumerate() {
        let Some(rest) = name.strip_prefix(s.prefix.as_bytes()) else { continue };
        let kind = match rest {
            b"depth" | b"depth@100ms" | b"depth@250ms" | b"depth@500ms" => StreamKind::Depth,
            b"bookTicker" => StreamKind::BookTicker,
            b"aggTrade" => StreamKind::AggTrade,
            _ => return None,
        };
        return Some((i, kind));
    }
    None
}

impl FrameParser {
    /// A parser for `symbols` (index in the slice = symbol index). Allocates its buffers here.
    pub fn new(symbols: &[Instrument]) -> Self {
        let symbols = symbols
            .iter()
            .map(|i| SymbolEntry {
                id: i.id(),
                symbol: i.symbol().to_string(),
                prefix: format!("{}@", i.symbol().to_ascii_lowercase()),
                price_scale: i.price_scale(),
                qty_scale: i.qty_scale(),
            })
            .collect();
        Self { symbols, tape: TapeBuffers::lifting(INITIAL_FRAME_CAPACITY, PAIR_LISTS, LIFTED_LEVELS) }
    }

    /// Parses one frame (combined-stream or bare payload) into `out` (cleared first).
    pub fn parse_frame(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseFailure> {
        self.parse_frame_into(frame, local_ns, out, &mut StageEverything)
    }

    /// [`Self::parse_frame`], but a diff that `sink` accepts once its ids `(U, u, pu)` are read
    /// has its records emitted straight to the sink ([`Parsed::DepthEmitted`]); see
    /// [`crate::kit::direct`] for what a bad level half way means.
    pub fn parse_frame_into(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(u64, u64, u64)>,
    ) -> Result<Parsed, ParseFailure> {
        let Self { symbols, tape } = self;
        parse_named(
            tape,
            frame,
            out,
            |nodes, lifted, out| walk_frame(symbols, nodes, lifted, local_ns, out, sink),
            || recover(symbols, frame),
        )
    }
}

fn walk_frame(
    symbols: &[SymbolEntry],
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64, u64)>,
) -> Result<Parsed, ParseFailure> {
    let fail = |error| ParseFailure { error, stream: None };
    if !matches!(nodes.first(), Some(Node::Object { .. })) {
        return Err(fail(ParseError::Shape));
    }
    // One pass over the envelope's keys.
    let [stream_at, data_at, id_at] = fields(nodes, 0, ["stream", "data", "id"]);
    let (found, data) = match stream_at {
        Some(at) => {
            let Some(Node::String(name)) = nodes.get(at) else { return Err(fail(ParseError::WrongType("stream"))) };
            let found = lookup_stream(symbols, name.as_bytes()).ok_or(fail(ParseError::UnknownStream))?;
            let data = data_at.ok_or(ParseFailure { error: ParseError::MissingField("data"), stream: Some(found) })?;
            (found, data)
        }
        None if id_at.is_some() => return Ok(Parsed::Control),
        None => {
            // A bare payload: the event type and symbol say which stream.
            let kind = match get_str(nodes, 0, "e").map_err(fail)? {
                "depthUpdate" => StreamKind::Depth,
                "bookTicker" => StreamKind::BookTicker,
                "aggTrade" => StreamKind::AggTrade,
                _ => return Err(fail(ParseError::UnknownStream)),
            };
            let s = get_str(nodes, 0, "s").map_err(fail)?;
            let symbol = symbols.iter().position(|e| e.symbol == s).ok_or(fail(ParseError::UnknownStream))?;
            ((symbol, kind), 0)
        }
    };
    walk_data(&symbols[found.0], found, nodes, lifted, data, local_ns, out, sink)
        .map_err(|error| ParseFailure { error, stream: Some(found) })
}

#[allow(clippy::too_many_arguments)] // reason: the walk's context and the lifted lists, passed down one level
fn walk_data(
    entry: &SymbolEntry,
    (symbol, kind): (usize, StreamKind),
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    obj: usize,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64, u64)>,
) -> Result<Parsed, ParseError> {
    if !matches!(nodes.get(obj), Some(Node::Object { .. })) {
        return Err(ParseError::WrongType("data"));
    }
    // `walk_depth` checks the symbol in its single pass over the keys.
    if kind != StreamKind::Depth && get_str(nodes, obj, "s")? != entry.symbol {
        return Err(ParseError::SymbolMismatch);
    }
    match kind {
        StreamKind::Depth => walk_depth(entry, symbol, nodes, lifted, obj, local_ns, out, sink),
        StreamKind::BookTicker => {
            let mut quote = MarketEvent::new(entry.id, EventKind::BestBidOffer, Side::Buy, Price::ZERO, Qty::ZERO);
            quote.seq = get_u64(nodes, obj, "u")?;
            quote.exchange_ns = ms_to_ns(get_u64(nodes, obj, "E")?);
            quote.local_ns = local_ns;
            string_quote(nodes, obj, Scales { price: entry.price_scale, qty: entry.qty_scale }, quote, out)?;
            Ok(Parsed::BookTicker { symbol })
        }
        StreamKind::AggTrade => {
            let p = price(get_str(nodes, obj, "p")?, entry.price_scale, "p")?;
            let q = qty(get_str(nodes, obj, "q")?, entry.qty_scale, "q")?;
            // `m`: the buyer is the maker, so the aggressor sold.
            let side = if get_bool(nodes, obj, "m")? { Side::Sell } else { Side::Buy };
            let mut ev = MarketEvent::new(entry.id, EventKind::Trade, side, p, q);
            ev.exchange_ns = ms_to_ns(get_u64(nodes, obj, "T")?);
            ev.local_ns = local_ns;
            ev.seq = get_u64(nodes, obj, "a")?;
            ev.flags = MarketEvent::BATCH_END;
            out.push(ev);
            Ok(Parsed::AggTrade { symbol })
        }
    }
}

/// A `depthUpdate` payload: its keys found in one pass over the object, then checked in the
/// order the errors are documented by the tests (symbol, `E`, `U`, `u`, `pu`, `b`, `a`).
#[inline]
#[allow(clippy::too_many_arguments)] // reason: the walk's context and the lifted lists, passed down one level
fn walk_depth(
    entry: &SymbolEntry,
    symbol: usize,
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    obj: usize,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64, u64)>,
) -> Result<Parsed, ParseError> {
    let [s, e, u_first, u_last, pu, b, a] = fields(nodes, obj, ["s", "E", "U", "u", "pu", "b", "a"]);
    if str_at(nodes, s, "s")? != entry.symbol {
        return Err(ParseError::SymbolMismatch);
    }
    let exchange_ns = ms_to_ns(u64_at(nodes, e, "E")?);
    let first = u64_at(nodes, u_first, "U")?;
    let last = u64_at(nodes, u_last, "u")?;
    let prev = u64_at(nodes, pu, "pu")?;
    if first > last {
        return Err(ParseError::WrongType("U"));
    }
    let (b, a) = (b.ok_or(ParseError::MissingField("b"))?, a.ok_or(ParseError::MissingField("a"))?);
    let mut template = MarketEvent::new(entry.id, EventKind::BookDelta, Side::Buy, Price::ZERO, Qty::ZERO);
    template.exchange_ns = exchange_ns;
    template.local_ns = local_ns;
    template.seq = last;
    template.prev_seq = prev;
    let direct = sink.direct(symbol, (first, last, prev));
    let scales = Scales { price: entry.price_scale, qty: entry.qty_scale };
    if string_pair_diff(nodes, lifted, [(b, "b"), (a, "a")], scales, &mut template, direct, out, sink)? {
        return Ok(Parsed::DepthEmitted { symbol, last });
    }
    Ok(Parsed::Depth { symbol, first, last, prev })
}

/// The stream named at the start of an unparsable frame (`{"stream":"<name>"`), if any.
#[cold]
fn recover(symbols: &[SymbolEntry], frame: &[u8]) -> Option<(usize, StreamKind)> {
    let rest = frame.strip_prefix(b"{\"stream\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    lookup_stream(symbols, &rest[..end])
}

/// The walk as the kit's snapshot+diff decoder shell drives it ([`crate::binance_usdm::Decoder`]).
impl crate::kit::depth_decoder::ForSymbols for FrameParser {
    fn for_symbols(symbols: &[Instrument]) -> Self {
        Self::new(symbols)
    }
}

impl DepthWire for FrameParser {
    type Sync = crate::kit::depth_sync::DepthSync<crate::binance_usdm::rules::UsdmRule>;
    type Counters = crate::binance_usdm::UsdmCounters;
    const VENUE: qt_core::Venue = qt_core::Venue::BinanceUsdm;
    const SYNC_CAPACITY: usize = crate::binance_usdm::rules::DEFAULT_BUFFER_EVENTS;

    #[inline]
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(u64, u64, u64)>,
    ) -> Result<DepthFrame<(u64, u64, u64)>, DepthFailure> {
        match self.parse_frame_into(frame, local_ns, out, sink) {
            Ok(Parsed::Depth { symbol, first, last, prev }) => {
                Ok(DepthFrame::Diff { symbol, ids: (first, last, prev) })
            }
            Ok(Parsed::DepthEmitted { symbol, last }) => Ok(DepthFrame::DiffEmitted { symbol, end: last }),
            Ok(Parsed::BookTicker { symbol }) => Ok(DepthFrame::Quote { symbol }),
            Ok(Parsed::AggTrade { symbol }) => Ok(DepthFrame::Trade { symbol }),
            Ok(Parsed::Control) => Ok(DepthFrame::Control),
            Err(failure) => Err(DepthFailure::of(failure, StreamKind::Depth)),
        }
    }

    fn parse_snapshot(body: &mut [u8], instrument: &Instrument) -> Result<DepthSnapshot, ParseError> {
        parse_depth_snapshot(body, instrument)
    }
}

#[cfg(test)]
mod lift_tests {
    use super::*;
    use crate::kit::lift::testing::{assert_routes_agree, instruments};
    use qt_core::Venue;

    /// A grid fine enough for every text of the capture.
    const FINE: &str = "0.00000001";

    /// The capture, whole and altered, reads the same through the lifted and the plain copy.
    #[test]
    fn lifted_and_plain_routes_read_the_capture_alike() {
        let symbols = instruments(
            Venue::BinanceUsdm,
            &[("SUSHIUSDT", FINE, FINE), ("AKROUSDT", FINE, FINE), ("KEEPUSDT", FINE, FINE), ("CTKUSDT", FINE, FINE)],
        );
        let mut plain = FrameParser::new(&symbols);
        plain.tape.without_lifting();
        assert_routes_agree("binance_usdm/depth.jsonl", 300, [FrameParser::new(&symbols), plain], |parser, frame| {
            let mut out = Vec::new();
            parser.parse_frame(frame, Nanos(1), &mut out).ok().map(|parsed| (parsed, out))
        });
    }
}
