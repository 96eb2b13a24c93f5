//! Bybit v5 public-stream parsing: `orderbook.{depth}.{symbol}`, `publicTrade.{symbol}` and
//! `tickers.{symbol}` pushes and the `op` replies (subscribe acks, pongs) into [`Parsed`] plus
//! level/trade [`MarketEvent`]s.
//!
//! Shapes (`docs/v5/websocket/public/orderbook.mdx`, `trade.mdx`, `ticker.mdx`, and the
//! recorded traffic in `testdata/bybit/`): a push is `{"topic":..,"type":"snapshot"|"delta",
//! "ts":<ms>,"data":..}` (key order differs between spot and linear, so keys are looked up,
//! never assumed in order); a book's `data` is `{"s","b":[[p,q],..],"a":[[p,q],..],"u","seq"}`;
//! a trade push's `data` is an array of `{"T","s","S","v","p","seq"?,..}`; a reply to a request is
//! `{"success","ret_msg","op",..}` with no `topic`.
//!
//! Core thread. [`FrameParser`] copies the frame into a reused padded buffer (its `b`/`a` level
//! lists lifted out, [`crate::kit::lift`]) and lets simd-json
//! build its tape with reused buffers (the Binance spot parser's technique, whose tape helpers
//! it shares); every decimal string goes straight to an integer on the instrument's grid. After
//! warm-up a frame allocates nothing and makes no syscall. Bad input is a small `Copy`
//! [`ParseError`], never a panic. Unknown keys are ignored; a required key missing or of the wrong
//! type is an error.

use crate::bybit::rules::BookPush;
use crate::kit::depth_decoder::{DepthFailure, DepthFrame, DepthWire};
use crate::kit::direct::{DiffSink, LIFTED_LEVELS, PAIR_LISTS, Scales, StageEverything, string_pair_diff};
use crate::kit::json::{self, TapeBuffers, fields, find_key, get_str, get_u64, parse_named, str_at, u64_at};
use crate::kit::lift::Lifted;
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use simd_json::{Node, StaticNode};

/// Which topic of a symbol a push belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// `orderbook.{depth}.{symbol}`.
    Book,
    /// `publicTrade.{symbol}`.
    Trade,
    /// `tickers.{symbol}`.
    Ticker,
}

impl TopicKind {
    /// Every kind, in the order of [`topic_name`]'s table.
    pub const ALL: [TopicKind; 3] = [TopicKind::Book, TopicKind::Trade, TopicKind::Ticker];
}

/// The topic name of `kind` for `symbol` (`depth` is used by [`TopicKind::Book`] only).
pub fn topic_name(symbol: &str, kind: TopicKind, depth: u16) -> String {
    match kind {
        TopicKind::Book => format!("orderbook.{depth}.{symbol}"),
        TopicKind::Trade => format!("publicTrade.{symbol}"),
        TopicKind::Ticker => format!("tickers.{symbol}"),
    }
}

pub use crate::parse_error::ParseError;

/// A refused frame, with the topic it belonged to when that could still be told.
pub type ParseFailure = crate::parse_error::StreamFailure<TopicKind>;

/// What a parsed frame holds; its records are in the parser's output vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// An order-book push: level records (kind `BookDelta`, bids then asks, no flags, `seq = u`,
    /// `exchange_ns` from `ts`); the sync decides what they become.
    Book {
        /// Symbol index.
        symbol: usize,
        /// `type` is `snapshot`.
        snapshot: bool,
        /// `data.u`: the topic's update id.
        update: u64,
        /// `data.seq`: the venue's cross sequence (the REST snapshot's `seq`).
        seq: u64,
    },
    /// A `delta` push whose records went straight to the [`DiffSink`] (which accepted it after
    /// its ids were read): `prev_seq = u - 1`, the last flagged `BATCH_END`; nothing is in the
    /// output vector.
    BookEmitted {
        /// Symbol index.
        symbol: usize,
        /// `data.u`.
        update: u64,
        /// `data.seq`.
        seq: u64,
    },
    /// Trades: one `Trade` record each, each flagged `BATCH_END`.
    Trades {
        /// Symbol index.
        symbol: usize,
    },
    /// A ticker push: no records (not normalized yet).
    Ticker {
        /// Symbol index.
        symbol: usize,
    },
    /// A reply to a request (`subscribe`, `unsubscribe`, `ping`): no records.
    Control {
        /// `success`.
        success: bool,
        /// The reply to our `ping` (`op` `ping` or `pong`, or `ret_msg` `pong`).
        pong: bool,
    },
}

#[derive(Debug, Clone)]
struct SymbolEntry {
    id: InstrumentId,
    symbol: String,
    price_scale: u8,
    qty_scale: u8,
    /// Topic names indexed like [`TopicKind::ALL`].
    topics: [String; 3],
}

impl SymbolEntry {
    #[inline]
    fn price(&self, text: &str, key: &'static str) -> Result<Price, ParseError> {
        json::price(text, self.price_scale, key)
    }

    #[inline]
    fn qty(&self, text: &str, key: &'static str) -> Result<Qty, ParseError> {
        json::qty(text, self.qty_scale, key)
    }
}

/// Initial capacity of the reused buffers (grown on demand by the largest frame seen).
const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

/// Parses Bybit public-stream frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

impl FrameParser {
    /// A parser for `symbols` (index in the slice = symbol index) whose book topic is
    /// `orderbook.{depth}.{symbol}`. Allocates its buffers here.
    pub fn new(symbols: &[Instrument], depth: u16) -> Self {
        let symbols = symbols
            .iter()
            .map(|i| SymbolEntry {
                id: i.id(),
                symbol: i.symbol().to_string(),
                price_scale: i.price_scale(),
                qty_scale: i.qty_scale(),
                topics: TopicKind::ALL.map(|k| topic_name(i.symbol(), k, depth)),
            })
            .collect();
        Self { symbols, tape: TapeBuffers::lifting(INITIAL_FRAME_CAPACITY, PAIR_LISTS, LIFTED_LEVELS) }
    }

    /// `(symbol index, kind)` of a topic name.
    pub fn lookup_topic(&self, name: &[u8]) -> Option<(usize, TopicKind)> {
        lookup(&self.symbols, name)
    }

    /// Parses one frame into `out` (cleared first), stamping `local_ns`.
    pub fn parse_frame(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseFailure> {
        self.parse_frame_into(frame, local_ns, out, &mut StageEverything)
    }

    /// [`Self::parse_frame`], but a book push that `sink` accepts once its `(snapshot, u)` are
    /// read has its records emitted straight to the sink ([`Parsed::BookEmitted`]); see
    /// [`crate::kit::direct`] for what a bad level half way means.
    pub fn parse_frame_into(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(bool, u64)>,
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

#[inline]
fn lookup(symbols: &[SymbolEntry], name: &[u8]) -> Option<(usize, TopicKind)> {
    for (i, s) in symbols.iter().enumerate() {
        for (k, kind) in TopicKind::ALL.iter().enumerate() {
            if s.topics[k].as_bytes() == name {
                return Some((i, *kind));
            }
        }
    }
    None
}

fn walk_frame(
    symbols: &[SymbolEntry],
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(bool, u64)>,
) -> Result<Parsed, ParseFailure> {
    let fail = |error| ParseFailure { error, stream: None };
    if !matches!(nodes.first(), Some(Node::Object { .. })) {
        return Err(fail(ParseError::Shape));
    }
    // One pass over the push's keys.
    let [topic_at, ts, kind_at, data] = fields(nodes, 0, ["topic", "ts", "type", "data"]);
    let Some(topic_at) = topic_at else {
        return control(nodes).map_err(fail);
    };
    let Some(Node::String(topic)) = nodes.get(topic_at) else { return Err(fail(ParseError::WrongType("topic"))) };
    let found = lookup(symbols, topic.as_bytes());
    let Some((symbol, kind)) = found else { return Err(fail(ParseError::UnknownStream)) };
    let entry = &symbols[symbol];
    let push = Push { ts, kind: kind_at, data };
    walk_push(entry, symbol, kind, nodes, lifted, push, local_ns, out, sink)
        .map_err(|error| ParseFailure { error, stream: found })
}

/// Where a push's `ts`, `type` and `data` values are on the tape ([`fields`] slots).
#[derive(Clone, Copy)]
struct Push {
    ts: Option<usize>,
    kind: Option<usize>,
    data: Option<usize>,
}

/// A reply to one of our requests.
fn control(nodes: &[Node<'_>]) -> Result<Parsed, ParseError> {
    let op = get_str(nodes, 0, "op").map_err(|_| ParseError::Shape)?;
    let success = match find_key(nodes, 0, "success").and_then(|i| nodes.get(i)) {
        Some(Node::Static(StaticNode::Bool(b))) => *b,
        // A bare `{"op":"pong",..}` (some Bybit servers answer so) carries no `success`.
        None => true,
        _ => return Err(ParseError::WrongType("success")),
    };
    let ret_msg = get_str(nodes, 0, "ret_msg").unwrap_or("");
    let pong = op == "pong" || op == "ping" || ret_msg == "pong";
    Ok(Parsed::Control { success, pong })
}

#[allow(clippy::too_many_arguments)] // reason: the walk's context, passed down one level
fn walk_push(
    entry: &SymbolEntry,
    symbol: usize,
    kind: TopicKind,
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    push: Push,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(bool, u64)>,
) -> Result<Parsed, ParseError> {
    let exchange_ns = json::ms_to_ns(u64_at(nodes, push.ts, "ts")?);
    let snapshot = match str_at(nodes, push.kind, "type")? {
        "snapshot" => true,
        "delta" => false,
        _ => return Err(ParseError::WrongType("type")),
    };
    let data = push.data.ok_or(ParseError::MissingField("data"))?;
    match kind {
        TopicKind::Book => {
            if !matches!(nodes.get(data), Some(Node::Object { .. })) {
                return Err(ParseError::WrongType("data"));
            }
            // One pass over the book's keys, checked in the order the tests document.
            let [s, b, a, u, seq] = fields(nodes, data, ["s", "b", "a", "u", "seq"]);
            if str_at(nodes, s, "s")? != entry.symbol {
                return Err(ParseError::SymbolMismatch);
            }
            let update = u64_at(nodes, u, "u")?;
            let seq = u64_at(nodes, seq, "seq")?;
            let (b, a) = (b.ok_or(ParseError::MissingField("b"))?, a.ok_or(ParseError::MissingField("a"))?);
            let mut template = MarketEvent::new(entry.id, EventKind::BookDelta, Side::Buy, Price::ZERO, Qty::ZERO);
            template.exchange_ns = exchange_ns;
            template.local_ns = local_ns;
            template.seq = update;
            let direct = sink.direct(symbol, (snapshot, update));
            if direct {
                // Accepted only as the successor of `u - 1` (the staged path's sync sets it).
                template.prev_seq = update - 1;
            }
            let scales = Scales { price: entry.price_scale, qty: entry.qty_scale };
            if string_pair_diff(nodes, lifted, [(b, "b"), (a, "a")], scales, &mut template, direct, out, sink)? {
                return Ok(Parsed::BookEmitted { symbol, update, seq });
            }
            Ok(Parsed::Book { symbol, snapshot, update, seq })
        }
        TopicKind::Trade => {
            let Some(Node::Array { len, .. }) = nodes.get(data) else { return Err(ParseError::WrongType("data")) };
            let mut i = data + 1;
            for _ in 0..*len {
                if !matches!(nodes.get(i), Some(Node::Object { .. })) {
                    return Err(ParseError::WrongType("data"));
                }
                if get_str(nodes, i, "s")? != entry.symbol {
                    return Err(ParseError::SymbolMismatch);
                }
                let p = entry.price(get_str(nodes, i, "p")?, "p")?;
                let q = entry.qty(get_str(nodes, i, "v")?, "v")?;
                // `S`: the taker's side.
                let side = match get_str(nodes, i, "S")? {
                    "Buy" => Side::Buy,
                    "Sell" => Side::Sell,
                    _ => return Err(ParseError::WrongType("S")),
                };
                let mut ev = MarketEvent::new(entry.id, EventKind::Trade, side, p, q);
                ev.exchange_ns = json::ms_to_ns(get_u64(nodes, i, "T")?);
                ev.local_ns = local_ns;
                // `seq` (cross sequence) is in the current docs and every recording; older
                // samples may lack it.
                ev.seq = match get_u64(nodes, i, "seq") {
                    Ok(s) => s,
                    Err(ParseError::MissingField(_)) => 0,
                    Err(e) => return Err(e),
                };
                ev.flags = MarketEvent::BATCH_END;
                out.push(ev);
                i += json::span(nodes, i);
            }
            Ok(Parsed::Trades { symbol })
        }
        TopicKind::Ticker => {
            if !matches!(nodes.get(data), Some(Node::Object { .. })) {
                return Err(ParseError::WrongType("data"));
            }
            if get_str(nodes, data, "symbol")? != entry.symbol {
                return Err(ParseError::SymbolMismatch);
            }
            Ok(Parsed::Ticker { symbol })
        }
    }
}

/// Bybit's walk in the decoder shell ([`crate::kit::depth_decoder`]): book pushes go to the
/// symbol's [`crate::bybit::rules::BookSync`]; Bybit has no REST snapshot.
impl DepthWire for FrameParser {
    type Sync = crate::bybit::rules::BookSync;
    type Counters = crate::bybit::BybitCounters;
    const VENUE: qt_core::Venue = qt_core::Venue::Bybit;
    /// Unused: Bybit's sync buffers nothing.
    const SYNC_CAPACITY: usize = 0;

    #[inline]
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<(bool, u64)>,
    ) -> Result<DepthFrame<BookPush, (u64, u64)>, DepthFailure> {
        match self.parse_frame_into(frame, local_ns, out, sink) {
            Ok(Parsed::BookEmitted { symbol, update, seq }) => {
                Ok(DepthFrame::DiffEmitted { symbol, end: (update, seq) })
            }
            Ok(Parsed::Book { symbol, snapshot, update, seq }) => {
                Ok(DepthFrame::Diff { symbol, ids: BookPush { snapshot, update, seq } })
            }
            Ok(Parsed::Trades { symbol }) => Ok(DepthFrame::Trade { symbol }),
            Ok(Parsed::Ticker { symbol }) => Ok(DepthFrame::Ticker { symbol }),
            Ok(Parsed::Control { success: false, .. }) => Ok(DepthFrame::ControlError),
            Ok(Parsed::Control { pong: true, .. }) => Ok(DepthFrame::Pong),
            Ok(Parsed::Control { .. }) => Ok(DepthFrame::Control),
            Err(failure) => Err(DepthFailure::of(failure, TopicKind::Book)),
        }
    }

    #[cold]
    fn refused(frame: &[u8]) {
        // On the core thread: a fixed-size record for the qt-log thread (the frame's first bytes).
        let frame = std::str::from_utf8(frame).unwrap_or("<not UTF-8>");
        qt_core::core_log!(Warn, "bybit: request refused", 0; frame = qt_core::log_ring::FieldValue::text(frame));
    }
}

/// The topic named at the start of an unparsable frame (`{"topic":"<name>"`), if any.
#[cold]
fn recover_topic(symbols: &[SymbolEntry], frame: &[u8]) -> Option<(usize, TopicKind)> {
    const PREFIX: &[u8] = b"{\"topic\":\"";
    let rest = frame.strip_prefix(PREFIX)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    lookup(symbols, &rest[..end])
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
        let symbols = instruments(Venue::Bybit, &[("BTCUSDT", FINE, FINE), ("ETHUSDT", FINE, FINE)]);
        let mut plain = FrameParser::new(&symbols, 200);
        plain.tape.without_lifting();
        assert_routes_agree(
            "bybit/orderbook_spot.jsonl",
            300,
            [FrameParser::new(&symbols, 200), plain],
            |parser, frame| {
                let mut out = Vec::new();
                parser.parse_frame(frame, Nanos(1), &mut out).ok().map(|parsed| (parsed, out))
            },
        );
    }
}
