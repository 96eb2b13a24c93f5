//! OKX v5 public WebSocket frame parsing: `books` (snapshot/update), `bbo-tbt`, `trades`, and
//! the control frames (`{"event":..}` acks and errors, the `pong` text reply).
//!
//! Core thread. The frame is copied into a reused padded buffer (its `asks`/`bids` lists
//! lifted out, [`crate::kit::lift`]) and simd-json builds its tape
//! with reused `Buffers` and a reused tape vector; the tape is walked once, decimal strings go
//! straight to integers on the instrument's grid (`qt_core::decimal`), never through `f64`.
//! Book levels are staged (integers plus the wire text, for the checksum) in a reused vector so
//! the decoder can check sequence and apply atomically; BBO and trade records go to a reused
//! record vector. After warm-up nothing allocates; bad input is a `Copy` [`ParseError`], never
//! a panic. Unknown keys are ignored (OKX adds fields); missing or mistyped required keys are
//! errors.

use crate::kit::bytes::contains;
use crate::kit::checksum_book::Level;
use crate::kit::checksum_sync::{BookDiff, BookMessage, ChecksumCounters, ChecksumSync};
use crate::kit::depth_decoder::{DepthFailure, DepthFrame, DepthWire, ForSymbols};
use crate::kit::direct::DiffSink;
use crate::kit::json::{
    TapeBuffers, digits_u64, fields, find_key, get_str, ms_to_ns, scaled, scaled_bytes, span, str_at,
};
use crate::kit::lift::{LiftSpec, Lifted};
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use simd_json::{Node, StaticNode};

pub use crate::parse_error::ParseError;

/// A refused frame, with the `books` symbol it belonged to when that could be told (the
/// decoder must then invalidate that book: an update may have been lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseFailure {
    /// Why.
    pub error: ParseError,
    /// Symbol index of a `books` frame.
    pub book_symbol: Option<usize>,
}

/// What a parsed frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// `pong`, a subscribe/unsubscribe ack, or another `event` that is not an error.
    Control,
    /// `{"event":"error",..}`.
    ControlError,
    /// A `books` message; its levels are in [`FrameParser::levels`].
    Book {
        /// Symbol index.
        symbol: usize,
        /// `action:"snapshot"`.
        snapshot: bool,
        /// `seqId`, if present (absent before OKX added it, as in the 2022 capture).
        seq: Option<i64>,
        /// `prevSeqId`, if present (-1 on a snapshot).
        prev_seq: Option<i64>,
        /// `checksum`, if present.
        checksum: Option<i32>,
        /// `ts`, Unix ns.
        exchange_ns: Nanos,
    },
    /// `bbo-tbt`: two records (bid, offer) in the record vector.
    Bbo {
        /// Symbol index.
        symbol: usize,
    },
    /// `trades`: one record per trade in the record vector.
    Trades {
        /// Symbol index.
        symbol: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Books,
    Bbo,
    Trades,
}

#[derive(Debug, Clone)]
struct SymbolEntry {
    id: InstrumentId,
    inst_id: String,
    price_scale: u8,
    qty_scale: u8,
}

/// OKX's walk in the decoder shell ([`crate::kit::depth_decoder`]): each `books` message goes
/// with its staged levels to the symbol's checksum sync ([`super::rules::OkxRule`]); OKX has no
/// REST snapshot in the sync.
impl DepthWire for FrameParser {
    type Sync = ChecksumSync<super::rules::OkxRule>;
    type Counters = ChecksumCounters;
    const VENUE: qt_core::Venue = qt_core::Venue::Okx;
    /// The shadow book's depth a side ([`super::BOOK_DEPTH`]).
    const SYNC_CAPACITY: usize = super::BOOK_DEPTH;

    #[inline]
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        _sink: &mut impl DiffSink<()>,
    ) -> Result<DepthFrame<BookDiff<'_>, ()>, DepthFailure> {
        match self.parse_frame(frame, local_ns, out) {
            Ok(Parsed::Control) => Ok(DepthFrame::Control),
            Ok(Parsed::ControlError) => Ok(DepthFrame::ControlError),
            Ok(Parsed::Bbo { symbol }) => Ok(DepthFrame::Quote { symbol }),
            Ok(Parsed::Trades { symbol }) => Ok(DepthFrame::Trade { symbol }),
            Ok(Parsed::Book { symbol, snapshot, seq, prev_seq, checksum, exchange_ns }) => {
                // OKX's checksum is a signed 32-bit integer: the same bits.
                let checksum = checksum.map(|c| c as u32);
                let msg = BookMessage { snapshot, seq, prev_seq, checksum, exchange_ns };
                Ok(DepthFrame::Diff { symbol, ids: (msg, &self.levels) })
            }
            Err(failure) => Err(DepthFailure { error: failure.error, book: failure.book_symbol }),
        }
    }
}

impl ForSymbols for FrameParser {
    fn for_symbols(symbols: &[Instrument]) -> Self {
        Self::new(symbols)
    }
}

/// Parses OKX frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
    levels: Vec<(Side, Level)>,
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

impl FrameParser {
    /// A parser for `symbols` (index in the slice = symbol index). Allocates its buffers.
    pub fn new(symbols: &[Instrument]) -> Self {
        let symbols = symbols
            .iter()
            .map(|i| SymbolEntry {
                id: i.id(),
                inst_id: i.symbol().to_string(),
                price_scale: i.price_scale(),
                qty_scale: i.qty_scale(),
            })
            .collect();
        Self {
            symbols,
            tape: TapeBuffers::lifting(INITIAL_FRAME_CAPACITY, BOOK_LISTS, 2 * 400),
            levels: Vec::with_capacity(2 * 400),
        }
    }

    /// The staged levels of the last [`Parsed::Book`], in wire order (asks, then bids).
    #[inline]
    pub fn levels(&self) -> &[(Side, Level)] {
        &self.levels
    }

    /// Parses one frame; BBO/trade records go to `out` (cleared first), stamped `local_ns`.
    pub fn parse_frame(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseFailure> {
        out.clear();
        self.levels.clear();
        if frame.trim_ascii() == b"pong" {
            return Ok(Parsed::Control);
        }
        let Self { symbols, tape, levels } = self;
        let fail = |error| ParseFailure { error, book_symbol: None };
        let result =
            match tape.parse_lifting(frame, |nodes, lifted| walk(symbols, nodes, lifted, local_ns, out, levels)) {
                None => Err(fail(ParseError::Json)),
                // A list lifted from anywhere but a book side ([`crate::kit::lift`]).
                Some((Ok(_), false)) => Err(fail(ParseError::Shape)),
                Some((result, _)) => result,
            };
        match result {
            Err(mut e) => {
                out.clear();
                levels.clear();
                if e.book_symbol.is_none() {
                    e.book_symbol = recover_book_symbol(symbols, frame);
                }
                Err(e)
            }
            ok => ok,
        }
    }
}

/// For a frame that did not parse (e.g. truncated), the `books` symbol named near its start.
#[cold]
fn recover_book_symbol(symbols: &[SymbolEntry], frame: &[u8]) -> Option<usize> {
    let head = &frame[..frame.len().min(160)];
    if !contains(head, b"\"books\"") {
        return None;
    }
    symbols.iter().position(|s| {
        let name = s.inst_id.as_bytes();
        head.windows(name.len() + 2).any(|w| w[0] == b'"' && w[name.len() + 1] == b'"' && &w[1..=name.len()] == name)
    })
}

/// An optional integer key (JSON number).
#[inline]
pub(crate) fn get_opt_i64(nodes: &[Node<'_>], obj: usize, key: &'static str) -> Result<Option<i64>, ParseError> {
    opt_i64_at(nodes, find_key(nodes, obj, key), key)
}

/// An optional integer at `at` (a [`fields`] slot).
#[inline]
fn opt_i64_at(nodes: &[Node<'_>], at: Option<usize>, key: &'static str) -> Result<Option<i64>, ParseError> {
    let Some(at) = at else { return Ok(None) };
    match nodes.get(at) {
        Some(Node::Static(StaticNode::I64(v))) => Ok(Some(*v)),
        Some(Node::Static(StaticNode::U64(v))) => i64::try_from(*v).map(Some).map_err(|_| ParseError::WrongType(key)),
        _ => Err(ParseError::WrongType(key)),
    }
}

fn walk(
    symbols: &[SymbolEntry],
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    levels: &mut Vec<(Side, Level)>,
) -> Result<Parsed, ParseFailure> {
    let fail = |error| ParseFailure { error, book_symbol: None };
    if !matches!(nodes.first(), Some(Node::Object { .. })) {
        return Err(fail(ParseError::Shape));
    }
    // One pass over the top-level keys (they are checked in the same order as before).
    let [event, arg, data, action] = fields(nodes, 0, ["event", "arg", "data", "action"]);
    if let Some(at) = event {
        return match nodes.get(at) {
            Some(Node::String("error")) => Ok(Parsed::ControlError),
            Some(Node::String(_)) => Ok(Parsed::Control),
            _ => Err(fail(ParseError::WrongType("event"))),
        };
    }
    let arg = arg.ok_or(fail(ParseError::Shape))?;
    if !matches!(nodes.get(arg), Some(Node::Object { .. })) {
        return Err(fail(ParseError::WrongType("arg")));
    }
    let [channel, inst_id] = fields(nodes, arg, ["channel", "instId"]);
    let channel = match str_at(nodes, channel, "channel").map_err(fail)? {
        "books" => Channel::Books,
        "bbo-tbt" => Channel::Bbo,
        "trades" => Channel::Trades,
        _ => return Err(fail(ParseError::UnknownStream)),
    };
    let inst_id = str_at(nodes, inst_id, "instId").map_err(fail)?;
    let symbol = symbols.iter().position(|s| s.inst_id.len() == inst_id.len() && s.inst_id == inst_id);
    let symbol = symbol.ok_or(fail(ParseError::UnknownSymbol))?;
    let entry = &symbols[symbol];
    let book_symbol = (channel == Channel::Books).then_some(symbol);
    let fail = |error| ParseFailure { error, book_symbol };
    let data = data.ok_or(fail(ParseError::MissingField("data")))?;
    let Some(Node::Array { len: items, .. }) = nodes.get(data) else {
        return Err(fail(ParseError::WrongType("data")));
    };
    let items = *items;
    match channel {
        Channel::Books => {
            let snapshot = match str_at(nodes, action, "action").map_err(fail)? {
                "snapshot" => true,
                "update" => false,
                _ => return Err(fail(ParseError::WrongType("action"))),
            };
            // `books` pushes exactly one data item per message.
            if items != 1 {
                return Err(fail(ParseError::WrongType("data")));
            }
            let obj = data + 1;
            if !matches!(nodes.get(obj), Some(Node::Object { .. })) {
                return Err(fail(ParseError::WrongType("data")));
            }
            let [ts, seq, prev_seq, checksum, asks, bids] =
                fields(nodes, obj, ["ts", "seqId", "prevSeqId", "checksum", "asks", "bids"]);
            let exchange_ns = ms_to_ns(digits_u64(str_at(nodes, ts, "ts").map_err(fail)?, "ts").map_err(fail)?);
            let seq = opt_i64_at(nodes, seq, "seqId").map_err(fail)?;
            let prev_seq = opt_i64_at(nodes, prev_seq, "prevSeqId").map_err(fail)?;
            let checksum = match opt_i64_at(nodes, checksum, "checksum").map_err(fail)? {
                None => None,
                Some(c) => Some(i32::try_from(c).map_err(|_| fail(ParseError::WrongType("checksum")))?),
            };
            for (at, key, side) in [(asks, "asks", Side::Sell), (bids, "bids", Side::Buy)] {
                let at = at.ok_or(fail(ParseError::MissingField(key)))?;
                book_levels(entry, nodes, lifted, at, key, side, levels).map_err(fail)?;
            }
            Ok(Parsed::Book { symbol, snapshot, seq, prev_seq, checksum, exchange_ns })
        }
        Channel::Bbo => {
            if items == 0 {
                return Err(fail(ParseError::WrongType("data")));
            }
            let obj = data + 1;
            if !matches!(nodes.get(obj), Some(Node::Object { .. })) {
                return Err(fail(ParseError::WrongType("data")));
            }
            let exchange_ns = ms_to_ns(digits_u64(get_str(nodes, obj, "ts").map_err(fail)?, "ts").map_err(fail)?);
            let seq = get_opt_i64(nodes, obj, "seqId").map_err(fail)?.unwrap_or(0);
            for (key, side) in [("bids", Side::Buy), ("asks", Side::Sell)] {
                let at = find_key(nodes, obj, key).ok_or(fail(ParseError::MissingField(key)))?;
                let start = levels.len();
                book_levels(entry, nodes, lifted, at, key, side, levels).map_err(fail)?;
                // An empty side (no bid or no offer) is a zero-quantity record.
                let (price, qty) = levels.get(start).map_or((0, 0), |(_, l)| (l.price, l.qty));
                let mut ev = MarketEvent::new(
                    entry.id,
                    EventKind::BestBidOffer,
                    side,
                    Price::from_units(price),
                    Qty::from_units(qty),
                );
                ev.exchange_ns = exchange_ns;
                ev.local_ns = local_ns;
                ev.seq = seq as u64;
                out.push(ev);
            }
            levels.clear();
            if let Some(last) = out.last_mut() {
                last.flags = MarketEvent::BATCH_END;
            }
            Ok(Parsed::Bbo { symbol })
        }
        Channel::Trades => {
            let mut obj = data + 1;
            for _ in 0..items {
                if !matches!(nodes.get(obj), Some(Node::Object { .. })) {
                    return Err(fail(ParseError::WrongType("data")));
                }
                let exchange_ns = ms_to_ns(digits_u64(get_str(nodes, obj, "ts").map_err(fail)?, "ts").map_err(fail)?);
                let trade_id = digits_u64(get_str(nodes, obj, "tradeId").map_err(fail)?, "tradeId").map_err(fail)?;
                let px = scaled(get_str(nodes, obj, "px").map_err(fail)?, entry.price_scale, "px").map_err(fail)?;
                let sz = scaled(get_str(nodes, obj, "sz").map_err(fail)?, entry.qty_scale, "sz").map_err(fail)?;
                // `side` is the taker's.
                let side = match get_str(nodes, obj, "side").map_err(fail)? {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => return Err(fail(ParseError::WrongType("side"))),
                };
                let mut ev =
                    MarketEvent::new(entry.id, EventKind::Trade, side, Price::from_units(px), Qty::from_units(sz));
                ev.exchange_ns = exchange_ns;
                ev.local_ns = local_ns;
                ev.seq = trade_id;
                out.push(ev);
                obj += span(nodes, obj);
            }
            match out.last_mut() {
                Some(last) => last.flags = MarketEvent::BATCH_END,
                None => return Err(fail(ParseError::WrongType("data"))),
            }
            Ok(Parsed::Trades { symbol })
        }
    }
}

/// The level lists of `books` and `bbo-tbt`, `asks` and `bids` (`[px, sz, "0", orders]`
/// string quadruples), lifted out of the frame before simd-json ([`crate::kit::lift`]).
const BOOK_LISTS: LiftSpec = LiftSpec { keys: &[b"\"asks\":", b"\"bids\":"], arity: 4 };

/// Stages the `[px, sz, "0", orders]` levels of the array at `at` — or of the lifted list whose
/// marker is there.
#[inline]
fn book_levels(
    entry: &SymbolEntry,
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    at: usize,
    key: &'static str,
    side: Side,
    levels: &mut Vec<(Side, Level)>,
) -> Result<(), ParseError> {
    let len = match nodes.get(at) {
        Some(Node::Array { len, .. }) => *len,
        Some(Node::String(mark)) => {
            for level in lifted.take_levels(mark, key)? {
                let [px, sz] = level.ok_or(ParseError::WrongType(key))?;
                levels.push((side, book_level(entry, px, sz, key)?));
            }
            return Ok(());
        }
        _ => return Err(ParseError::WrongType(key)),
    };
    let mut i = at + 1;
    for _ in 0..len {
        let Some(Node::Array { len: fields, .. }) = nodes.get(i) else { return Err(ParseError::WrongType(key)) };
        if *fields < 2 {
            return Err(ParseError::WrongType(key));
        }
        let (Some(Node::String(px)), Some(Node::String(sz))) = (nodes.get(i + 1), nodes.get(i + 2)) else {
            return Err(ParseError::WrongType(key));
        };
        levels.push((side, book_level(entry, px.as_bytes(), sz.as_bytes(), key)?));
        i += span(nodes, i);
    }
    Ok(())
}

/// One level from its price and size texts, which it keeps for the checksum.
#[inline(always)]
fn book_level(entry: &SymbolEntry, px: &[u8], sz: &[u8], key: &'static str) -> Result<Level, ParseError> {
    let price = scaled_bytes(px, entry.price_scale, key)?;
    let qty = scaled_bytes(sz, entry.qty_scale, key)?;
    Level::new(price, qty, px, sz).ok_or(ParseError::BadDecimal(key))
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
            Venue::Okx,
            &[("BTC-USD-220527", "0.0001", FINE), ("BTC-USDT", "0.0001", FINE), ("UNI-USD-SWAP", "0.0001", FINE)],
        );
        let mut plain = FrameParser::new(&symbols);
        plain.tape.without_lifting();
        assert_routes_agree("okx/books.jsonl", 290, [FrameParser::new(&symbols), plain], |parser, frame| {
            let mut out = Vec::new();
            parser.parse_frame(frame, Nanos(1), &mut out).ok().map(|parsed| (parsed, out, parser.levels().to_vec()))
        });
    }
}
