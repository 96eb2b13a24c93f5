//! KuCoin spot market-data parsing: `/market/level2:{sym}` increments (`trade.l2update`),
//! `/market/match:{sym}` trades (`trade.l3match`) and control frames (`welcome`, `ack`, `pong`,
//! `error`) into [`MarketEvent`]s, and the REST level-2 snapshot into a [`Level2Snapshot`].
//!
//! Frames are parsed on the core thread by [`FrameParser`]: the frame is copied into a reused,
//! padded buffer (its `changes` lists lifted out, [`crate::kit::lift`]) and simd-json builds its tape in place with reused `Buffers` and a reused tape;
//! decimal strings go straight to integers on the instrument's grid (`qt_core::decimal`), never
//! through `f64`. After warm-up a frame allocates nothing and makes no syscall. Bad input is a
//! [`ParseError`] (small, `Copy`), never a panic. Unknown keys are ignored.
//!
//! Level-2 records leave the parser with `seq` = the change's own sequence (the third element
//! of `[price, size, sequence]`) and `prev_seq = sequenceStart`: the sync layer
//! ([`super::rules::Level2Sync`]) filters on the change sequence and rewrites `seq` to
//! `sequenceEnd` before emitting. Changes with price `"0"` are sequence-only entries (KuCoin's
//! "Level2 calibration" rules: ignore the change, the message still advances the sequence) and
//! produce no record.
//!
//! [`parse_level2_snapshot`] is a cold path (snapshot body) and allocates freely.

use crate::kit::depth_decoder::{DepthCounters, DepthFailure, DepthFrame, DepthWire};
use crate::kit::direct::{DiffSink, StageEverything};
use crate::kit::json::{
    TapeBuffers, fields, find_key, get_str, level_price, ms_to_ns, parse_named, price, qty, qty_bytes, scaled_bytes,
    str_at,
};
use crate::kit::lift::{LiftSpec, Lifted, string_levels};
use qt_core::decimal::parse_digits_u64;
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use simd_json::{Node, StaticNode};

/// Topic prefix of the incremental level-2 stream.
pub const LEVEL2_PREFIX: &str = "/market/level2:";
/// Topic prefix of the public trade stream.
pub const MATCH_PREFIX: &str = "/market/match:";

pub use crate::parse_error::ParseError;

/// Which stream of a symbol a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `/market/level2:{sym}`.
    Level2,
    /// `/market/match:{sym}`.
    Match,
}

/// A refused frame, with the topic it belonged to when that could still be told.
pub type ParseFailure = crate::parse_error::StreamFailure<Topic>;

/// A control frame's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlKind {
    /// `welcome`: the session is open.
    Welcome,
    /// `ack`: a subscription was accepted.
    Ack,
    /// `pong`: answer to our ping.
    Pong,
    /// `error`: the venue refused something (e.g. a subscription).
    Error,
}

/// What a parsed frame holds; its records are in the parser's output vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A level-2 increment covering sequences `start..=end`; records (flags 0) carry the change
    /// sequence in `seq` and `prev_seq = start`.
    Level2 {
        /// Symbol index.
        symbol: usize,
        /// `sequenceStart`.
        start: u64,
        /// `sequenceEnd`.
        end: u64,
    },
    /// An increment whose records went straight to the [`DiffSink`] (which accepted it as the
    /// successor of the book's sequence once `start..=end` were read): changes before `start`
    /// dropped, `seq = end`, `prev_seq = start`, the last flagged `BATCH_END`; nothing is in the
    /// output vector.
    Level2Emitted {
        /// Symbol index.
        symbol: usize,
        /// `sequenceEnd`.
        end: u64,
    },
    /// One trade record, flagged `BATCH_END`.
    Trade {
        /// Symbol index.
        symbol: usize,
    },
    /// A control frame: no records.
    Control(ControlKind),
}

#[derive(Debug, Clone)]
struct SymbolEntry {
    id: InstrumentId,
    symbol: String,
    price_scale: u8,
    qty_scale: u8,
}

/// Parses KuCoin frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

/// Initial capacity of the reused buffers (grown on demand by the largest frame seen).
const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

impl FrameParser {
    /// A parser for `symbols` (their index in this slice is the symbol index everywhere).
    pub fn new(symbols: &[Instrument]) -> Self {
        let symbols = symbols
            .iter()
            .map(|i| SymbolEntry {
                id: i.id(),
                symbol: i.symbol().to_string(),
                price_scale: i.price_scale(),
                qty_scale: i.qty_scale(),
            })
            .collect();
        Self { symbols, tape: TapeBuffers::lifting(INITIAL_FRAME_CAPACITY, CHANGE_LISTS, LIFTED_CHANGES) }
    }

    /// Parses one WebSocket text frame into `out` (cleared first), stamping `local_ns`.
    pub fn parse_frame(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseFailure> {
        self.parse_frame_into(frame, local_ns, out, &mut StageEverything)
    }

    /// [`Self::parse_frame`], but an increment that `sink` accepts once its
    /// `(sequenceStart, sequenceEnd)` are read has its records emitted straight to the sink
    /// ([`Parsed::Level2Emitted`]); see [`crate::kit::direct`] for what a bad level half way means.
    pub fn parse_frame_into(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(u64, u64)>,
    ) -> Result<Parsed, ParseFailure> {
        let Self { symbols, tape } = self;
        parse_named(
            tape,
            frame,
            out,
            |nodes, lifted, out| walk_frame(symbols, nodes, lifted, local_ns, out, sink),
            || recover_topic(symbols, frame),
        )
    }
}

/// A non-negative integer sent as a JSON number or as a decimal-digit string (KuCoin does both).
#[inline]
fn get_u64(nodes: &[Node<'_>], obj: usize, key: &'static str) -> Result<u64, ParseError> {
    u64_at(nodes, find_key(nodes, obj, key), key)
}

/// [`get_u64`] of a value already found (a [`fields`] slot).
#[inline]
fn u64_at(nodes: &[Node<'_>], at: Option<usize>, key: &'static str) -> Result<u64, ParseError> {
    match nodes.get(at.ok_or(ParseError::MissingField(key))?) {
        Some(Node::Static(StaticNode::U64(v))) => Ok(*v),
        Some(Node::Static(StaticNode::I64(v))) if *v >= 0 => Ok(*v as u64),
        Some(Node::String(s)) => parse_digits_u64(s.as_bytes()).ok_or(ParseError::WrongType(key)),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// `(symbol index, topic)` of a topic string.
fn lookup_topic(symbols: &[SymbolEntry], topic: &str) -> Option<(usize, Topic)> {
    let (kind, sym) = if let Some(sym) = topic.strip_prefix(LEVEL2_PREFIX) {
        (Topic::Level2, sym)
    } else {
        (Topic::Match, topic.strip_prefix(MATCH_PREFIX)?)
    };
    symbols.iter().position(|s| s.symbol == sym).map(|i| (i, kind))
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
    let [kind_at, topic_at, data] = fields(nodes, 0, ["type", "topic", "data"]);
    match str_at(nodes, kind_at, "type").map_err(fail)? {
        "message" => {}
        "welcome" => return Ok(Parsed::Control(ControlKind::Welcome)),
        "ack" => return Ok(Parsed::Control(ControlKind::Ack)),
        "pong" => return Ok(Parsed::Control(ControlKind::Pong)),
        "error" => return Ok(Parsed::Control(ControlKind::Error)),
        _ => return Err(fail(ParseError::Shape)),
    }
    let topic = str_at(nodes, topic_at, "topic").map_err(fail)?;
    let found = lookup_topic(symbols, topic).ok_or(fail(ParseError::UnknownStream))?;
    let (symbol, kind) = found;
    let with_topic = |error| ParseFailure { error, stream: Some(found) };
    let data = data.ok_or(with_topic(ParseError::MissingField("data")))?;
    if !matches!(nodes.get(data), Some(Node::Object { .. })) {
        return Err(with_topic(ParseError::WrongType("data")));
    }
    let entry = &symbols[symbol];
    match kind {
        Topic::Level2 => walk_level2(entry, symbol, nodes, lifted, data, local_ns, out, sink).map_err(with_topic),
        Topic::Match => {
            if get_str(nodes, data, "symbol").map_err(with_topic)? != entry.symbol {
                return Err(with_topic(ParseError::SymbolMismatch));
            }
            walk_match(entry, symbol, nodes, data, local_ns, out).map_err(with_topic)
        }
    }
}

/// A `trade.l2update` payload: its keys found in one pass over the object, then checked in the
/// order the tests document (`symbol`, `sequenceStart`, `sequenceEnd`, `time`, `changes`).
#[inline]
#[allow(clippy::too_many_arguments)] // reason: the walk's context and the lifted lists, passed down one level
fn walk_level2(
    entry: &SymbolEntry,
    symbol: usize,
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    data: usize,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64)>,
) -> Result<Parsed, ParseError> {
    let [sym, start, end, time, changes] =
        fields(nodes, data, ["symbol", "sequenceStart", "sequenceEnd", "time", "changes"]);
    if str_at(nodes, sym, "symbol")? != entry.symbol {
        return Err(ParseError::SymbolMismatch);
    }
    let start = u64_at(nodes, start, "sequenceStart")?;
    let end = u64_at(nodes, end, "sequenceEnd")?;
    if start > end {
        return Err(ParseError::WrongType("sequenceStart"));
    }
    // `time` (ms) is in the current spec's example but absent from older frames.
    let exchange_ns = match time {
        None => Nanos(0),
        Some(_) => ms_to_ns(u64_at(nodes, time, "time")?),
    };
    let changes = changes.ok_or(ParseError::MissingField("changes"))?;
    if !matches!(nodes.get(changes), Some(Node::Object { .. })) {
        return Err(ParseError::WrongType("changes"));
    }
    let [bids, asks] = fields(nodes, changes, ["bids", "asks"]);
    let bids = bids.ok_or(ParseError::MissingField("bids"))?;
    let asks = asks.ok_or(ParseError::MissingField("asks"))?;
    let mut template = MarketEvent::new(entry.id, EventKind::BookDelta, Side::Buy, Price::ZERO, Qty::ZERO);
    template.exchange_ns = exchange_ns;
    template.local_ns = local_ns;
    template.prev_seq = start;
    if sink.direct(symbol, (start, end)) {
        // The book is at `start - 1`: a change below `start` is already in it (the sync's rule).
        // Each kept record goes out once the next is known, so the last one ends the batch.
        let mut pending: Option<MarketEvent> = None;
        let mut push = |mut ev: MarketEvent| {
            if ev.seq < start {
                return;
            }
            ev.seq = end;
            if let Some(previous) = pending.replace(ev) {
                sink.emit(&previous);
            }
        };
        template.side = Side::Buy;
        changes_of(entry, nodes, lifted, bids, "bids", &template, &mut push)?;
        template.side = Side::Sell;
        changes_of(entry, nodes, lifted, asks, "asks", &template, &mut push)?;
        if let Some(mut last) = pending {
            last.flags |= MarketEvent::BATCH_END;
            sink.emit(&last);
        }
        return Ok(Parsed::Level2Emitted { symbol, end });
    }
    let mut push = |ev| out.push(ev);
    template.side = Side::Buy;
    changes_of(entry, nodes, lifted, bids, "bids", &template, &mut push)?;
    template.side = Side::Sell;
    changes_of(entry, nodes, lifted, asks, "asks", &template, &mut push)?;
    Ok(Parsed::Level2 { symbol, start, end })
}

/// The level lists of `trade.l2update`, `changes.asks` and `changes.bids` (`[price, size,
/// sequence]` string triples), lifted out of the frame before simd-json ([`crate::kit::lift`]).
const CHANGE_LISTS: LiftSpec = LiftSpec { keys: &[b"\"asks\":", b"\"bids\":"], arity: 3 };

/// Changes the lifted lists have room for before they grow.
const LIFTED_CHANGES: usize = 256;

/// Walks an array of `[price, size, sequence]` string triples at `at` — or the lifted list whose
/// marker is there ([`string_levels`]) — pushing one `template` record per change
/// ([`change_of`]).
#[inline(always)]
fn changes_of(
    entry: &SymbolEntry,
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    at: usize,
    key: &'static str,
    template: &MarketEvent,
    push: &mut impl FnMut(MarketEvent),
) -> Result<(), ParseError> {
    for change in string_levels(nodes, lifted, at, key)? {
        change_of(entry, change.ok_or(ParseError::WrongType(key))?, key, template, push)?;
    }
    Ok(())
}

/// One change's `[price, size, sequence]` texts: a `template` record with its price, size and
/// `seq` = the change's sequence pushed; a change priced `"0"` (sequence only) pushes nothing.
#[inline(always)]
fn change_of(
    entry: &SymbolEntry,
    [p, q, s]: [&[u8]; 3],
    key: &'static str,
    template: &MarketEvent,
    push: &mut impl FnMut(MarketEvent),
) -> Result<(), ParseError> {
    let change_seq = parse_digits_u64(s).ok_or(ParseError::WrongType(key))?;
    let p = scaled_bytes(p, entry.price_scale, key)?;
    let q = qty_bytes(q, entry.qty_scale, key)?;
    if p == 0 {
        // Sequence-only entry: no book change.
        return Ok(());
    }
    let mut ev = *template;
    ev.price = Price::from_units(p);
    ev.qty = q;
    ev.seq = change_seq;
    push(ev);
    Ok(())
}

fn walk_match(
    entry: &SymbolEntry,
    symbol: usize,
    nodes: &[Node<'_>],
    data: usize,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
) -> Result<Parsed, ParseError> {
    let p = price(get_str(nodes, data, "price")?, entry.price_scale, "price")?;
    let q = qty(get_str(nodes, data, "size")?, entry.qty_scale, "size")?;
    // `side` is the taker's (the aggressor's) side.
    let side = match get_str(nodes, data, "side")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return Err(ParseError::WrongType("side")),
    };
    // `sequence` is numeric in every sample; `tradeId` is hex in older frames, so not used.
    let seq = get_u64(nodes, data, "sequence")?;
    // `time`: nanoseconds as a digit string.
    let time = get_u64(nodes, data, "time")?;
    let mut ev = MarketEvent::new(entry.id, EventKind::Trade, side, p, q);
    ev.exchange_ns = Nanos(i64::try_from(time).unwrap_or(i64::MAX));
    ev.local_ns = local_ns;
    ev.seq = seq;
    ev.flags = MarketEvent::BATCH_END;
    out.push(ev);
    Ok(Parsed::Trade { symbol })
}

/// The level-2 symbol of an unparsable frame, so a lost increment resyncs its symbol at once:
/// the topic (`"/market/level2:<SYM>"`) if its bytes survived, else — for a frame that is
/// recognisably an increment (`sequenceStart` or `trade.l2update` present; KuCoin sends `data`
/// before `topic`) — the `"symbol":"<SYM>"` value. Match frames are not recovered (trades need
/// no sync).
#[cold]
fn recover_topic(symbols: &[SymbolEntry], frame: &[u8]) -> Option<(usize, Topic)> {
    let value_after = |needle: &[u8]| -> Option<usize> {
        let at = find_bytes(frame, needle)? + needle.len();
        let rest = &frame[at..];
        let name = &rest[..rest.iter().position(|&b| b == b'"')?];
        symbols.iter().position(|s| s.symbol.as_bytes() == name)
    };
    if let Some(i) = value_after(LEVEL2_PREFIX.as_bytes()) {
        return Some((i, Topic::Level2));
    }
    let is_increment =
        find_bytes(frame, b"\"sequenceStart\"").is_some() || find_bytes(frame, b"trade.l2update").is_some();
    if is_increment { value_after(b"\"symbol\":\"").map(|i| (i, Topic::Level2)) } else { None }
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A REST level-2 snapshot on the instrument's grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level2Snapshot {
    /// `data.sequence`.
    pub sequence: u64,
    /// `data.time` in Unix nanoseconds (0 if absent).
    pub exchange_ns: Nanos,
    /// Bids, best first.
    pub bids: Vec<(Price, Qty)>,
    /// Asks, best first.
    pub asks: Vec<(Price, Qty)>,
}

#[derive(serde::Deserialize)]
struct RestBody<'a> {
    #[serde(borrow)]
    code: &'a str,
    #[serde(borrow)]
    data: Option<RestLevel2<'a>>,
}

#[derive(serde::Deserialize)]
struct RestLevel2<'a> {
    #[serde(default)]
    time: Option<u64>,
    #[serde(borrow)]
    sequence: &'a str,
    #[serde(borrow)]
    bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    asks: Vec<(&'a str, &'a str)>,
}

/// Parses a `GET /api/v3/market/orderbook/level2?symbol=` (or `level2_20`/`level2_100`) body
/// (parsed in place: `body` is modified). Cold path; allocates.
pub fn parse_level2_snapshot(body: &mut [u8], instrument: &Instrument) -> Result<Level2Snapshot, ParseError> {
    let raw: RestBody<'_> = simd_json::serde::from_slice(body).map_err(|_| ParseError::Json)?;
    if raw.code != "200000" {
        return Err(ParseError::VenueCode);
    }
    let data = raw.data.ok_or(ParseError::MissingField("data"))?;
    let sequence = parse_digits_u64(data.sequence.as_bytes()).ok_or(ParseError::WrongType("sequence"))?;
    let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
    let side = |levels: &[(&str, &str)], key: &'static str| -> Result<Vec<(Price, Qty)>, ParseError> {
        levels.iter().map(|(p, q)| Ok((level_price(p, ps, key)?, qty(q, qs, key)?))).collect()
    };
    Ok(Level2Snapshot {
        sequence,
        exchange_ns: data.time.map_or(Nanos(0), ms_to_ns),
        bids: side(&data.bids, "bids")?,
        asks: side(&data.asks, "asks")?,
    })
}

/// The walk as the kit's snapshot+diff decoder shell drives it ([`crate::kucoin::Decoder`]).
impl crate::kit::depth_decoder::ForSymbols for FrameParser {
    fn for_symbols(symbols: &[Instrument]) -> Self {
        Self::new(symbols)
    }
}

impl DepthWire for FrameParser {
    type Sync = crate::kit::depth_sync::DepthSync<crate::kucoin::rules::Level2Rule>;
    type Counters = DepthCounters;
    const VENUE: qt_core::Venue = qt_core::Venue::Kucoin;
    const SYNC_CAPACITY: usize = crate::kucoin::rules::DEFAULT_BUFFER_MESSAGES;

    #[inline]
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(u64, u64)>,
    ) -> Result<DepthFrame<(u64, u64)>, DepthFailure> {
        match self.parse_frame_into(frame, local_ns, out, sink) {
            Ok(Parsed::Level2 { symbol, start, end }) => Ok(DepthFrame::Diff { symbol, ids: (start, end) }),
            Ok(Parsed::Level2Emitted { symbol, end }) => Ok(DepthFrame::DiffEmitted { symbol, end }),
            Ok(Parsed::Trade { symbol }) => Ok(DepthFrame::Trade { symbol }),
            Ok(Parsed::Control(ControlKind::Error)) => Ok(DepthFrame::ControlError),
            Ok(Parsed::Control(_)) => Ok(DepthFrame::Control),
            Err(failure) => Err(DepthFailure::of(failure, Topic::Level2)),
        }
    }

    fn parse_snapshot(body: &mut [u8], instrument: &Instrument) -> Result<Level2Snapshot, ParseError> {
        parse_level2_snapshot(body, instrument)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Venue;

    fn btc() -> FrameParser {
        FrameParser::new(&[crate::kit::lift::testing::instrument(Venue::Kucoin, 0, "BTC-USDT", "0.1", "0.00000001")])
    }

    #[test]
    fn sequence_only_changes_make_no_record_and_keys_may_come_in_any_order() {
        let mut parser = btc();
        let mut out = Vec::new();
        let frame = br#"{"data":{"sequenceStart":"7","symbol":"BTC-USDT","changes":{"asks":[["0","0","7"]],"bids":[["1.5","2","8"]]},"sequenceEnd":8},"subject":"trade.l2update","topic":"/market/level2:BTC-USDT","type":"message"}"#;
        assert_eq!(parser.parse_frame(frame, Nanos(0), &mut out), Ok(Parsed::Level2 { symbol: 0, start: 7, end: 8 }));
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].side, out[0].price, out[0].qty, out[0].seq),
            (Side::Buy, Price::from_units(15), Qty::from_units(200_000_000), 8)
        );
        assert_eq!(
            parser.parse_frame(br#"{"id":"x","type":"welcome"}"#, Nanos(0), &mut out),
            Ok(Parsed::Control(ControlKind::Welcome))
        );
        let unknown = parser.parse_frame(br#"{"type":"notice"}"#, Nanos(0), &mut out);
        assert_eq!(unknown, Err(ParseFailure { error: ParseError::Shape, stream: None }));
    }
}

#[cfg(test)]
mod lift_tests {
    use super::*;
    use crate::kit::lift::testing::{assert_routes_agree, instruments};
    use qt_core::Venue;

    /// The capture, whole and altered, reads the same through the lifted and the plain copy.
    #[test]
    fn lifted_and_plain_routes_read_the_capture_alike() {
        // The integration tests' grids: BCHSV's sizes have 11 decimals.
        let (btc_tick, btc_lot) = ("0.0000000001", "0.00000001");
        let mut grids = vec![("BCHSV-USDT", "0.001", "0.00000000001")];
        grids.extend(
            ["ANKR-BTC", "CAPP-BTC", "COV-BTC", "DAPPT-BTC", "EQZ-BTC", "FET-BTC", "NRG-BTC", "SNX-BTC"]
                .map(|symbol| (symbol, btc_tick, btc_lot)),
        );
        let symbols = instruments(Venue::Kucoin, &grids);
        let mut plain = FrameParser::new(&symbols);
        plain.tape.without_lifting();
        assert_routes_agree("kucoin/level2.jsonl", 400, [FrameParser::new(&symbols), plain], |parser, frame| {
            let mut out = Vec::new();
            parser.parse_frame(frame, Nanos(1), &mut out).ok().map(|parsed| (parsed, out))
        });
    }
}
