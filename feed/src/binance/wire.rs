//! Binance spot market-data parsing: combined-stream frames (`{"stream":..,"data":..}`) of
//! `<sym>@depth@100ms`, `<sym>@bookTicker` and `<sym>@trade` into [`MarketEvent`]s. (The REST
//! depth snapshot, [`DepthSnapshot`], is read by the kit's [`crate::kit::rest_depth`], shared with
//! USD-M.)
//!
//! Frames are parsed on the core thread by [`FrameParser`]: the payload is copied into a reused,
//! padded buffer (its `b`/`a` level lists lifted out, [`crate::kit::lift`]) and simd-json builds its tape in place with reused `Buffers` and a reused tape
//! vector; the tape is walked once and every decimal string goes straight to an integer on the
//! instrument's grid (`qt_core::decimal`), never through `f64` or `String`. After warm-up (buffers
//! grown to the largest message seen) a frame allocates nothing and makes no syscall. Bad input
//! of any kind is a [`ParseError`] (small, `Copy`): never a panic. Keys the parser does not use
//! are ignored on purpose (Binance adds fields over time); a required key that is missing or of
//! the wrong type is an error.
//!

use crate::kit::depth_decoder::{DepthCounters, DepthFailure, DepthFrame, DepthWire};
use crate::kit::direct::{
    DiffSink, LIFTED_LEVELS, PAIR_LISTS, Scales, StageEverything, string_pair_diff, string_quote,
};
use crate::kit::json::{
    TapeBuffers, fields, get_bool, get_str, get_u64, ms_to_ns, parse_frame_with, parse_named, price, qty, str_at,
    u64_at,
};
use crate::kit::lift::Lifted;
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use simd_json::Node;

/// Which stream of a symbol a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// `<sym>@depth@100ms`: diff depth.
    Depth,
    /// `<sym>@bookTicker`: best bid/offer.
    BookTicker,
    /// `<sym>@trade`: public trades.
    Trade,
}

impl StreamKind {
    /// Every kind, in subscription order.
    pub const ALL: [StreamKind; 3] = [StreamKind::Depth, StreamKind::BookTicker, StreamKind::Trade];

    /// The stream name suffix after `<sym>@`.
    pub const fn suffix(self) -> &'static str {
        match self {
            StreamKind::Depth => "depth@100ms",
            StreamKind::BookTicker => "bookTicker",
            StreamKind::Trade => "trade",
        }
    }
}

pub use crate::kit::rest_depth::{DepthSnapshot, parse_depth_snapshot};
pub use crate::parse_error::ParseError;

/// A refused frame, with the stream it belonged to when that could still be told.
pub type ParseFailure = crate::parse_error::StreamFailure<StreamKind>;

/// What a parsed frame holds; its records are in the parser's output vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A diff: update ids `first..=last` (`U`, `u`); records carry `seq = u`, `prev_seq = U`.
    Depth {
        /// Symbol index.
        symbol: usize,
        /// `U`.
        first: u64,
        /// `u`.
        last: u64,
    },
    /// A diff whose records went straight to the [`DiffSink`] (which accepted it after its
    /// update ids were read): none are in the output vector.
    DepthEmitted {
        /// Symbol index.
        symbol: usize,
        /// `U`.
        first: u64,
        /// `u`.
        last: u64,
    },
    /// Best bid/offer: two records (bid, offer), the offer flagged `BATCH_END`.
    BookTicker {
        /// Symbol index.
        symbol: usize,
    },
    /// One trade record, flagged `BATCH_END`.
    Trade {
        /// Symbol index.
        symbol: usize,
    },
    /// A control reply such as `{"result":null,"id":1}`: no records.
    Control,
}

/// One subscribed symbol as the parser sees it.
#[derive(Debug, Clone)]
pub(crate) struct SymbolEntry {
    pub(crate) id: InstrumentId,
    pub(crate) symbol: String,
    pub(crate) price_scale: u8,
    pub(crate) qty_scale: u8,
    /// Full stream names, indexed like [`StreamKind::ALL`].
    streams: [String; 3],
}

impl SymbolEntry {
    /// The name of its `depth@100ms` stream.
    pub(crate) fn depth_stream(&self) -> &str {
        &self.streams[0]
    }
}

/// Parses combined-stream frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
    /// The canonical depth frame's levels ([`super::canonical`]).
    levels: super::canonical::Levels,
    /// Whether canonical depth frames take the fast path (tests compare it with the general one).
    canonical: bool,
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

/// Initial capacity of the reused buffers (grown on demand by the largest frame seen).
const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

/// Stream name of `kind` for `symbol` (lower-case, as Binance names streams).
pub fn stream_name(symbol: &str, kind: StreamKind) -> String {
    format!("{}@{}", symbol.to_ascii_lowercase(), kind.suffix())
}

impl FrameParser {
    /// A parser for `symbols` (their index in this slice is the symbol index everywhere).
    /// Allocates its buffers here.
    pub fn new(symbols: &[Instrument]) -> Self {
        let symbols = symbols
            .iter()
            .map(|i| SymbolEntry {
                id: i.id(),
                symbol: i.symbol().to_string(),
                price_scale: i.price_scale(),
                qty_scale: i.qty_scale(),
                streams: StreamKind::ALL.map(|k| stream_name(i.symbol(), k)),
            })
            .collect();
        Self {
            symbols,
            tape: TapeBuffers::lifting(INITIAL_FRAME_CAPACITY, PAIR_LISTS, LIFTED_LEVELS),
            levels: super::canonical::Levels::with_capacity(LIFTED_LEVELS),
            canonical: true,
        }
    }

    /// Turns the canonical depth frame's fast path ([`super::canonical`]) off or on (on by
    /// default): with it off every frame takes the general path. For tests and benchmarks that
    /// compare the two.
    pub fn set_canonical_path(&mut self, on: bool) {
        self.canonical = on;
    }

    /// The symbol table (tests of the canonical path call it directly).
    #[cfg(test)]
    pub(crate) fn symbols_for_tests(&self) -> Vec<SymbolEntry> {
        self.symbols.clone()
    }

    /// `(symbol index, kind)` of a stream name.
    #[inline]
    pub fn lookup_stream(&self, name: &[u8]) -> Option<(usize, StreamKind)> {
        for (i, s) in self.symbols.iter().enumerate() {
            for (k, kind) in StreamKind::ALL.iter().enumerate() {
                if s.streams[k].as_bytes() == name {
                    return Some((i, *kind));
                }
            }
        }
        None
    }

    /// Parses one combined-stream frame into `out` (cleared first), stamping `local_ns`.
    pub fn parse_frame(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseFailure> {
        self.parse_frame_into(frame, local_ns, out, &mut StageEverything)
    }

    /// [`Self::parse_frame`], but a diff that `sink` accepts once its update ids are read
    /// ([`DiffSink::direct`]) has its records emitted straight to the sink as its levels are
    /// parsed ([`Parsed::DepthEmitted`]) instead of staged in `out`. If a later level of such a
    /// frame is bad, the records before it have already gone out and the frame is still
    /// refused: the caller must then invalidate the book (as it does for any refused diff).
    pub fn parse_frame_into(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(u64, u64)>,
    ) -> Result<Parsed, ParseFailure> {
        let Self { symbols, tape, levels, canonical } = self;
        if *canonical && let Some(parsed) = super::canonical::depth_frame(symbols, levels, frame, local_ns, out, sink) {
            return Ok(parsed);
        }
        parse_named(
            tape,
            frame,
            out,
            |nodes, lifted, out| walk_frame(symbols, nodes, lifted, local_ns, out, sink),
            || recover_stream(symbols, frame),
        )
    }

    /// Parses a bare payload (the `data` of a frame, as Binance's documentation shows it) of
    /// `kind` for symbol index `symbol`.
    pub fn parse_payload(
        &mut self,
        payload: &[u8],
        symbol: usize,
        kind: StreamKind,
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseFailure> {
        let Self { symbols, tape, .. } = self;
        let Some(entry) = symbols.get(symbol) else {
            out.clear();
            return Err(ParseFailure { error: ParseError::UnknownStream, stream: None });
        };
        let stream = Some((symbol, kind));
        parse_frame_with(
            tape,
            payload,
            out,
            |error| ParseFailure { error, stream },
            |nodes, lifted, out| {
                walk_data(entry, symbol, kind, nodes, lifted, 0, local_ns, out, &mut StageEverything)
                    .map_err(|error| ParseFailure { error, stream })
            },
            |failure| failure,
        )
    }
}

fn walk_frame(
    symbols: &[SymbolEntry],
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64)>,
) -> Result<Parsed, ParseFailure> {
    let fail = |error| ParseFailure { error, stream: None };
    if !matches!(nodes.first(), Some(Node::Object { .. })) {
        return Err(fail(ParseError::Shape));
    }
    // One pass over the envelope's keys.
    let [stream_at, data_at, id_at] = fields(nodes, 0, ["stream", "data", "id"]);
    let Some(stream_at) = stream_at else {
        // Replies to control requests carry `id` (and `result` or `error`).
        return if id_at.is_some() { Ok(Parsed::Control) } else { Err(fail(ParseError::Shape)) };
    };
    let Some(Node::String(stream)) = nodes.get(stream_at) else { return Err(fail(ParseError::WrongType("stream"))) };
    let mut found = None;
    'outer: for (i, s) in symbols.iter().enumerate() {
        for (k, kind) in StreamKind::ALL.iter().enumerate() {
            if s.streams[k] == *stream {
                found = Some((i, *kind));
                break 'outer;
            }
        }
    }
    let Some((symbol, kind)) = found else { return Err(fail(ParseError::UnknownStream)) };
    let Some(data_at) = data_at else {
        return Err(ParseFailure { error: ParseError::MissingField("data"), stream: found });
    };
    walk_data(&symbols[symbol], symbol, kind, nodes, lifted, data_at, local_ns, out, sink)
        .map_err(|error| ParseFailure { error, stream: found })
}

#[allow(clippy::too_many_arguments)] // reason: the walk's context, passed down one level
fn walk_data(
    entry: &SymbolEntry,
    symbol: usize,
    kind: StreamKind,
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    obj: usize,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64)>,
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
            // bookTicker carries no event time: exchange_ns stays 0.
            quote.local_ns = local_ns;
            quote.seq = get_u64(nodes, obj, "u")?;
            string_quote(nodes, obj, Scales { price: entry.price_scale, qty: entry.qty_scale }, quote, out)?;
            Ok(Parsed::BookTicker { symbol })
        }
        StreamKind::Trade => {
            let exchange_ns = ms_to_ns(get_u64(nodes, obj, "E")?);
            let trade_id = get_u64(nodes, obj, "t")?;
            let p = price(get_str(nodes, obj, "p")?, entry.price_scale, "p")?;
            let q = qty(get_str(nodes, obj, "q")?, entry.qty_scale, "q")?;
            // `m`: the buyer is the maker, so the aggressor sold.
            let side = if get_bool(nodes, obj, "m")? { Side::Sell } else { Side::Buy };
            let mut ev = MarketEvent::new(entry.id, EventKind::Trade, side, p, q);
            ev.exchange_ns = exchange_ns;
            ev.local_ns = local_ns;
            ev.seq = trade_id;
            ev.flags = MarketEvent::BATCH_END;
            out.push(ev);
            Ok(Parsed::Trade { symbol })
        }
    }
}

/// A `depthUpdate` payload: its keys are found in one pass over the object ([`fields`]) rather
/// than one scan per key, then checked in the order the errors are documented by the tests
/// (symbol, `E`, `U`, `u`, `b`, `a`).
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
    sink: &mut impl DiffSink<(u64, u64)>,
) -> Result<Parsed, ParseError> {
    let [s, e, u_first, u_last, b, a] = fields(nodes, obj, ["s", "E", "U", "u", "b", "a"]);
    if str_at(nodes, s, "s")? != entry.symbol {
        return Err(ParseError::SymbolMismatch);
    }
    let exchange_ns = ms_to_ns(u64_at(nodes, e, "E")?);
    let first = u64_at(nodes, u_first, "U")?;
    let last = u64_at(nodes, u_last, "u")?;
    if first > last {
        return Err(ParseError::WrongType("U"));
    }
    let mut template = MarketEvent::new(entry.id, EventKind::BookDelta, Side::Buy, Price::ZERO, Qty::ZERO);
    template.exchange_ns = exchange_ns;
    template.local_ns = local_ns;
    template.seq = last;
    template.prev_seq = first;
    let (b, a) = (b.ok_or(ParseError::MissingField("b"))?, a.ok_or(ParseError::MissingField("a"))?);
    let direct = sink.direct(symbol, (first, last));
    let scales = Scales { price: entry.price_scale, qty: entry.qty_scale };
    if string_pair_diff(nodes, lifted, [(b, "b"), (a, "a")], scales, &mut template, direct, out, sink)? {
        return Ok(Parsed::DepthEmitted { symbol, first, last });
    }
    Ok(Parsed::Depth { symbol, first, last })
}

/// The stream named at the start of an unparsable frame (`{"stream":"<name>"`), if any.
#[cold]
fn recover_stream(symbols: &[SymbolEntry], frame: &[u8]) -> Option<(usize, StreamKind)> {
    const PREFIX: &[u8] = b"{\"stream\":\"";
    let rest = frame.strip_prefix(PREFIX)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let name = &rest[..end];
    for (i, s) in symbols.iter().enumerate() {
        for (k, kind) in StreamKind::ALL.iter().enumerate() {
            if s.streams[k].as_bytes() == name {
                return Some((i, *kind));
            }
        }
    }
    None
}

/// The walk as the kit's snapshot+diff decoder shell drives it ([`crate::binance::Decoder`]).
impl crate::kit::depth_decoder::ForSymbols for FrameParser {
    fn for_symbols(symbols: &[Instrument]) -> Self {
        Self::new(symbols)
    }
}

impl DepthWire for FrameParser {
    type Sync = crate::kit::depth_sync::DepthSync<crate::binance::rules::SpotRule>;
    type Counters = DepthCounters;
    const VENUE: qt_core::Venue = qt_core::Venue::Binance;
    const SYNC_CAPACITY: usize = crate::binance::rules::DEFAULT_BUFFER_DIFFS;

    #[inline]
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(u64, u64)>,
    ) -> Result<DepthFrame<(u64, u64)>, DepthFailure> {
        match self.parse_frame_into(frame, local_ns, out, sink) {
            Ok(Parsed::Depth { symbol, first, last }) => Ok(DepthFrame::Diff { symbol, ids: (first, last) }),
            Ok(Parsed::DepthEmitted { symbol, last, .. }) => Ok(DepthFrame::DiffEmitted { symbol, end: last }),
            Ok(Parsed::BookTicker { symbol }) => Ok(DepthFrame::Quote { symbol }),
            Ok(Parsed::Trade { symbol }) => Ok(DepthFrame::Trade { symbol }),
            Ok(Parsed::Control) => Ok(DepthFrame::Control),
            Err(failure) => Err(DepthFailure::of(failure, StreamKind::Depth)),
        }
    }

    fn parse_snapshot(body: &mut [u8], instrument: &Instrument) -> Result<DepthSnapshot, ParseError> {
        parse_depth_snapshot(body, instrument)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Venue;

    pub(crate) fn instrument(id: u32, symbol: &str, tick: &str, lot: &str) -> Instrument {
        crate::kit::lift::testing::instrument(Venue::Binance, id, symbol, tick, lot)
    }

    const DEPTH: &str = include_str!("../../../testdata/binance_spot/depth_update.json");
    const TICKER: &str = include_str!("../../../testdata/binance_spot/book_ticker.json");
    const TRADE: &str = include_str!("../../../testdata/binance_spot/trade.json");
    const SNAPSHOT: &str = include_str!("../../../testdata/binance_spot/snapshot_rest.json");

    fn p(units: i64) -> Price {
        Price::from_units(units)
    }
    fn q(units: i64) -> Qty {
        Qty::from_units(units)
    }

    #[test]
    fn documented_depth_update_parses_exactly() {
        let bnbbtc = instrument(3, "BNBBTC", "0.000001", "0.001");
        let mut parser = FrameParser::new(&[bnbbtc]);
        let mut out = Vec::new();
        let parsed = parser.parse_payload(DEPTH.as_bytes(), 0, StreamKind::Depth, Nanos(77), &mut out).unwrap();
        assert_eq!(parsed, Parsed::Depth { symbol: 0, first: 157, last: 160 });
        assert_eq!(out.len(), 2);
        let (b, a) = (out[0], out[1]);
        assert_eq!((b.kind, b.side, b.price, b.qty), (EventKind::BookDelta, Side::Buy, p(2400), q(10_000)));
        assert_eq!((a.kind, a.side, a.price, a.qty), (EventKind::BookDelta, Side::Sell, p(2600), q(100_000)));
        for ev in &out {
            assert_eq!((ev.seq, ev.prev_seq, ev.instrument), (160, 157, InstrumentId(3)));
            assert_eq!((ev.exchange_ns, ev.local_ns), (Nanos(1_672_515_782_136_000_000), Nanos(77)));
            assert_eq!(ev.flags, 0, "the sync layer sets BATCH_END");
        }
    }

    #[test]
    fn documented_book_ticker_parses_exactly() {
        let bnbusdt = instrument(0, "BNBUSDT", "0.0001", "0.01");
        let mut parser = FrameParser::new(&[bnbusdt]);
        let mut out = Vec::new();
        let parsed = parser.parse_payload(TICKER.as_bytes(), 0, StreamKind::BookTicker, Nanos(5), &mut out).unwrap();
        assert_eq!(parsed, Parsed::BookTicker { symbol: 0 });
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].kind, out[0].side, out[0].price, out[0].qty),
            (EventKind::BestBidOffer, Side::Buy, p(253_519), q(3121))
        );
        assert_eq!((out[1].side, out[1].price, out[1].qty), (Side::Sell, p(253_652), q(4066)));
        assert_eq!((out[0].seq, out[0].flags, out[1].flags), (400_900_217, 0, MarketEvent::BATCH_END));
    }

    #[test]
    fn documented_trade_parses_exactly() {
        let bnbbtc = instrument(0, "BNBBTC", "0.000001", "0.001");
        let mut parser = FrameParser::new(&[bnbbtc]);
        let mut out = Vec::new();
        let parsed = parser.parse_payload(TRADE.as_bytes(), 0, StreamKind::Trade, Nanos(5), &mut out).unwrap();
        assert_eq!(parsed, Parsed::Trade { symbol: 0 });
        let t = out[0];
        // m = true: the buyer was the maker, the aggressor sold.
        assert_eq!((t.kind, t.side, t.price, t.qty, t.seq), (EventKind::Trade, Side::Sell, p(1000), q(100_000), 12345));
        assert_eq!((t.exchange_ns, t.flags), (Nanos(1_672_515_782_136_000_000), MarketEvent::BATCH_END));
    }

    #[test]
    fn documented_rest_snapshot_parses_exactly() {
        let inst = instrument(0, "BNBBTC", "0.00000001", "0.00000001");
        let mut body = SNAPSHOT.as_bytes().to_vec();
        let snap = parse_depth_snapshot(&mut body, &inst).unwrap();
        assert_eq!(snap.last_update_id, 1_027_024);
        assert_eq!(snap.bids, vec![(p(400_000_000), q(43_100_000_000))]);
        assert_eq!(snap.asks, vec![(p(400_000_200), q(1_200_000_000))]);
        let mut bad = br#"{"lastUpdateId":1,"bids":[["x","1"]],"asks":[]}"#.to_vec();
        assert_eq!(parse_depth_snapshot(&mut bad, &inst), Err(ParseError::BadDecimal("bids")));
        let mut bad = br#"{"lastUpdateId":1,"bids":[]"#.to_vec();
        assert_eq!(parse_depth_snapshot(&mut bad, &inst), Err(ParseError::Json));
    }

    fn btc() -> FrameParser {
        FrameParser::new(&[instrument(0, "BTCUSDT", "0.01", "0.00001")])
    }

    #[test]
    fn combined_frames_dispatch_on_the_stream_name() {
        let mut parser = btc();
        let mut out = Vec::new();
        let frame = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":7,"b":[["65000.00000000","0.50000000"]],"a":[["65000.01000000","0.00000000"]],"x":{"new":[1,2]}}}"#;
        assert_eq!(parser.parse_frame(frame, Nanos(0), &mut out), Ok(Parsed::Depth { symbol: 0, first: 5, last: 7 }));
        assert_eq!((out[0].price, out[0].qty, out[1].price, out[1].qty), (p(6_500_000), q(50_000), p(6_500_001), q(0)));
        let frame =
            br#"{"data":{"u":9,"s":"BTCUSDT","b":"1.00","B":"2","a":"1.01","A":"3"},"stream":"btcusdt@bookTicker"}"#;
        assert_eq!(parser.parse_frame(frame, Nanos(0), &mut out), Ok(Parsed::BookTicker { symbol: 0 }));
        assert_eq!(parser.parse_frame(br#"{"result":null,"id":1}"#, Nanos(0), &mut out), Ok(Parsed::Control));
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        let mut parser = btc();
        let mut out = Vec::new();
        let depth = Some((0, StreamKind::Depth));
        type Case<'a> = (&'a [u8], ParseError, Option<(usize, StreamKind)>);
        let cases: Vec<Case<'_>> = vec![
            (b"{\"e\":\"depthUpdate\",\"E\":,]", ParseError::Json, None),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCU"#, ParseError::Json, depth),
            (b"[1,2]", ParseError::Shape, None),
            (br#"{"stream":"ethusdt@trade","data":{}}"#, ParseError::UnknownStream, None),
            (br#"{"stream":"btcusdt@depth@100ms"}"#, ParseError::MissingField("data"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":1,"U":1,"u":2,"b":[]}}"#, ParseError::MissingField("a"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":"1","U":1,"u":2,"b":[],"a":[]}}"#, ParseError::WrongType("E"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":1,"U":1,"u":2,"b":[["1"]],"a":[]}}"#, ParseError::WrongType("b"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":1,"U":1,"u":2,"b":[[1,2]],"a":[]}}"#, ParseError::WrongType("b"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":1,"U":1,"u":2,"b":[],"a":[["1.001","1"]]}}"#, ParseError::BadDecimal("a"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":1,"U":1,"u":2,"b":[],"a":[["-1","1"]]}}"#, ParseError::BadDecimal("a"), depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"ETHUSDT","E":1,"U":1,"u":2,"b":[],"a":[]}}"#, ParseError::SymbolMismatch, depth),
            (br#"{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","E":1,"U":3,"u":2,"b":[],"a":[]}}"#, ParseError::WrongType("U"), depth),
            (br#"{"stream":"btcusdt@trade","data":{"s":"BTCUSDT","E":1,"t":1,"p":"1","q":"1","m":"yes"}}"#, ParseError::WrongType("m"), Some((0, StreamKind::Trade))),
            (b"", ParseError::Json, None),
        ];
        for (frame, error, stream) in cases {
            let got = parser.parse_frame(frame, Nanos(0), &mut out);
            assert_eq!(got, Err(ParseFailure { error, stream }), "{}", String::from_utf8_lossy(frame));
            assert!(out.is_empty());
        }
    }

    #[test]
    fn random_bytes_and_mutations_never_panic() {
        let mut parser = btc();
        let mut out = Vec::new();
        let base = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":7,"b":[["65000.00000000","0.50000000"]],"a":[]}}"#;
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..20_000 {
            let frame: Vec<u8> = if round % 2 == 0 {
                let len = (next() % 200) as usize;
                (0..len).map(|_| b"{}[]\":,0123456789.eE-+ abstrumlnf\\"[(next() % 34) as usize]).collect()
            } else {
                let mut f = base.to_vec();
                for _ in 0..(1 + next() % 4) {
                    let i = (next() as usize) % f.len();
                    f[i] = (next() & 0xff) as u8;
                }
                f.truncate(1 + (next() as usize) % f.len());
                f
            };
            let _ = parser.parse_frame(&frame, Nanos(0), &mut out);
        }
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
            Venue::Binance,
            &[("NKNUSDT", FINE, FINE), ("BLZETH", FINE, FINE), ("LRCBTC", FINE, FINE), ("RUNEEUR", FINE, FINE)],
        );
        // Both off the canonical fast path: this compares the general path's two copies.
        let mut lifted = FrameParser::new(&symbols);
        lifted.set_canonical_path(false);
        let mut plain = FrameParser::new(&symbols);
        plain.set_canonical_path(false);
        plain.tape.without_lifting();
        assert_routes_agree("binance_spot/depth.jsonl", 177, [lifted, plain], |parser, frame| {
            let mut out = Vec::new();
            parser.parse_frame(frame, Nanos(1), &mut out).ok().map(|parsed| (parsed, out))
        });
    }
}
