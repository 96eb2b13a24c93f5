//! Kraken WS v2 public frame parsing: `book` (snapshot/update), `trade`, and the control frames
//! (`heartbeat`, `status`, method replies such as subscribe acks and `pong`).
//!
//! Core thread. Kraken v2 sends prices and quantities as JSON *numbers*; simd-json would turn
//! them into `f64`. So a `book` frame is copied into the reused padded buffer with each level
//! list Kraken printed its way lifted out — its levels' number texts noted where they are in the
//! frame, the list replaced by a marker string (`lift_book_levels`) — and any other frame with
//! the number after every `"price":` and `"qty":` key wrapped in quotes (`quote_numbers`).
//! Either way the text goes straight to an integer on the instrument's grid — exact, never
//! through `f64`. The tape is built with reused `Buffers`/tape vector; book levels are staged in
//! reused vectors, each with its checksum piece (in one pass over the two texts,
//! [`rules::wire_level`]; other layouts through `qt_core::decimal` and [`rules::level`]), so the
//! decoder applies a message only once all of it parsed. After warm-up nothing allocates; bad
//! input is a `Copy` [`ParseError`], never a panic.

use super::rules::{self, Precision};
use crate::kit::bytes::{contains, copy_short, find_byte, number_end};
use crate::kit::checksum_book::Level;
use crate::kit::checksum_sync::{BookDiff, BookMessage, ChecksumCounters, ChecksumSync};
use crate::kit::depth_decoder::{DepthFailure, DepthFrame, DepthWire};
use crate::kit::direct::DiffSink;
use crate::kit::json::digits_u64;
use crate::kit::json::{TapeBuffers, fields, find_key, get_str, scaled, span, str_at};
use crate::kit::lift;
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use simd_json::{Node, StaticNode};

pub use crate::parse_error::ParseError;

/// One symbol's part of a `book` message; its levels are `levels[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookItem {
    /// Symbol index.
    pub symbol: usize,
    /// First staged level.
    pub start: usize,
    /// One past the last staged level.
    pub end: usize,
    /// `checksum`, if present.
    pub checksum: Option<u32>,
    /// `timestamp`, Unix ns (0 if absent).
    pub exchange_ns: Nanos,
}

/// One staged book level: its side and the level (units and checksum piece; a deletion has no
/// piece).
pub type StagedLevel = (Side, Level);

/// What a parsed frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Heartbeat, status, a successful method reply, a trade snapshot (history, not emitted).
    Control,
    /// A method reply with `"success":false`.
    ControlError,
    /// A `book` message; see [`FrameParser::book_items`] and [`FrameParser::levels`].
    Book {
        /// `type:"snapshot"`.
        snapshot: bool,
    },
    /// `trade` updates: records in the record vector.
    Trades {
        /// The first trade's symbol index (a frame may list several: Kraken's subscriptions do
        /// not change live, so every symbol stays subscribed and the first stands for all).
        symbol: usize,
    },
}

#[derive(Debug, Clone)]
struct SymbolEntry {
    id: InstrumentId,
    symbol: String,
    /// The instrument's price/qty decimals.
    scales: Precision,
    /// Kraken's price/qty precision (the checksum's formatting).
    precision: Precision,
}

/// Parses Kraken v2 frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
    items: Vec<BookItem>,
    levels: Vec<StagedLevel>,
    /// The lifted lists and where their levels' texts are ([`lift_book_levels`]): the shared
    /// lifting's, two texts (price, quantity) a level.
    lifted: lift::LiftedLists,
    /// Whether the last `book` frame was a snapshot.
    snapshot: bool,
    /// The subscribed depth: the levels a side each symbol's shadow book keeps.
    depth: usize,
}

/// Kraken's walk in the decoder shell ([`crate::kit::depth_decoder`]): a `book` frame holds one
/// message per symbol it names ([`DepthFrame::Diffs`]), each for that symbol's checksum sync
/// ([`super::rules::KrakenRule`]); an unreadable frame breaks every valid book it names.
impl DepthWire for FrameParser {
    type Sync = ChecksumSync<super::rules::KrakenRule>;
    type Counters = ChecksumCounters;
    const VENUE: qt_core::Venue = qt_core::Venue::Kraken;
    /// The default depth; the subscribed one is [`DepthWire::sync_capacity`].
    const SYNC_CAPACITY: usize = super::DEPTHS[0];

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
            Ok(Parsed::Trades { symbol }) => Ok(DepthFrame::Trade { symbol }),
            Ok(Parsed::Book { snapshot }) => {
                self.snapshot = snapshot;
                Ok(DepthFrame::Diffs { count: self.items.len() })
            }
            Err(error) => Err(DepthFailure { error, book: None }),
        }
    }

    #[inline]
    fn diff(&self, k: usize) -> Option<(usize, BookDiff<'_>)> {
        let item = self.items.get(k)?;
        let msg = BookMessage {
            snapshot: self.snapshot,
            seq: None,
            prev_seq: None,
            checksum: item.checksum,
            exchange_ns: item.exchange_ns,
        };
        Some((item.symbol, (msg, self.levels.get(item.start..item.end).unwrap_or(&[]))))
    }

    fn sync_capacity(&self) -> usize {
        self.depth
    }

    #[cold]
    fn names(&self, frame: &[u8], index: usize) -> bool {
        self.book_frame_names(frame, index)
    }
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

impl FrameParser {
    /// A parser for `symbols` (`symbol` = [`Instrument::symbol`], e.g. `BTC/USD`) whose Kraken
    /// precisions are `precisions` (a missing entry: the instrument's scales), for a `book`
    /// subscription of `depth` levels: staging at most that many levels a side without
    /// allocating.
    pub fn new(symbols: &[Instrument], precisions: &[Precision], depth: usize) -> Self {
        let depth = depth.max(1);
        let symbols = symbols
            .iter()
            .enumerate()
            .map(|(k, i)| {
                let scales = Precision { price: i.price_scale(), qty: i.qty_scale() };
                SymbolEntry {
                    id: i.id(),
                    symbol: i.symbol().to_string(),
                    scales,
                    precision: precisions.get(k).copied().unwrap_or(scales),
                }
            })
            .collect::<Vec<_>>();
        Self {
            items: Vec::with_capacity(symbols.len().max(1)),
            symbols,
            tape: TapeBuffers::new(INITIAL_FRAME_CAPACITY),
            levels: Vec::with_capacity(2 * depth),
            lifted: lift::LiftedLists::with_capacity(depth),
            snapshot: false,
            depth,
        }
    }

    /// The subscribed depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The per-symbol parts of the last [`Parsed::Book`].
    #[inline]
    pub fn book_items(&self) -> &[BookItem] {
        &self.items
    }

    /// The staged levels of the last [`Parsed::Book`].
    #[inline]
    pub fn levels(&self) -> &[StagedLevel] {
        &self.levels
    }

    /// For a `book` frame that did not parse: whether it names symbol `index`.
    #[cold]
    pub fn book_frame_names(&self, frame: &[u8], index: usize) -> bool {
        let Some(s) = self.symbols.get(index) else { return false };
        if !contains(frame, b"\"book\"") {
            return false;
        }
        let name = s.symbol.as_bytes();
        frame.windows(name.len() + 2).any(|w| w[0] == b'"' && w[name.len() + 1] == b'"' && &w[1..=name.len()] == name)
    }

    /// Parses one frame; trade records go to `out` (cleared first), stamped `local_ns`.
    pub fn parse_frame(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Parsed, ParseError> {
        out.clear();
        self.items.clear();
        self.levels.clear();
        let Self { symbols, tape, items, levels, lifted, .. } = self;
        let (len, lifted) = match lift_book_levels(frame, &mut tape.buf, lifted) {
            Some(len) => (len, Some(lifted.of(frame, 2))),
            None => (quote_numbers(frame, &mut tape.buf), None),
        };
        let result = tape
            .parse_prefix(len, |nodes| walk(symbols, nodes, local_ns, out, items, levels, lifted))
            .unwrap_or(Err(ParseError::Json));
        if result.is_err() {
            out.clear();
            items.clear();
            levels.clear();
        }
        result
    }
}

/// The bytes between a level's price number and its quantity number, as Kraken prints them.
const PRICE_TO_QTY: [u8; 7] = *b",\"qty\":";
/// The bytes between a level's quantity number and the next level's price number.
const QTY_TO_PRICE: [u8; 11] = *b"},{\"price\":";

/// Which key the layout of a level list puts after the last number quoted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Unknown: find the next key by scanning.
    Scan,
    /// `,"qty":` right after a price.
    Qty,
    /// `},{"price":` right after a quantity.
    Price,
}

/// Copies `frame` to the start of `buf`, wrapping the bare number after each `"price":` /
/// `"qty":` key in quotes so the tape keeps its exact text; returns the copy's length. `buf` is
/// kept at least that long plus [`simd_json::INPUT_PADDING`] (it only grows; the bytes after the
/// copy are left as they are, which simd-json's padded parse allows).
///
/// Between the numbers of a level list Kraken prints fixed bytes ([`PRICE_TO_QTY`],
/// [`QTY_TO_PRICE`]): after each number the next key is first looked for exactly there, and only
/// otherwise (the envelope, the end of a list, any other layout) found by a `:` scan
/// ([`find_byte`]) that checks the key before each colon. Where the separator is found it is
/// written as a constant together with the next opening quote, not copied. A number's end is
/// found eight bytes at a time ([`plain_number_len`]) and the number copied as one 16-byte block
/// where the frame holds that many bytes from it. The key is matched in `frame` rather than in
/// the copy: the two differ only right after a quoted number, and a number followed by the rest
/// of a key is not JSON either way. Callgrind, 20 000 messages of
/// `benches/feed_parse_kraken_firi.rs`: see BENCHMARKS.md `feed_parse`, rounds 5 and 6.
#[inline]
fn quote_numbers(frame: &[u8], buf: &mut Vec<u8>) -> usize {
    // Each quoted number follows a key of at least 6 bytes plus a digit and gains 2 bytes; a
    // number is copied as one 16-byte block, which may run up to 15 bytes past the copy's end.
    let bound = frame.len() + frame.len() / 3 + 2 + NUMBER_BLOCK + simd_json::INPUT_PADDING;
    if buf.len() < bound {
        buf.resize(bound, b' ');
    }
    let out = buf.as_mut_slice();
    let (mut w, mut copied, mut i) = (0, 0, 0);
    let mut next = Next::Scan;
    loop {
        let (key_end, is_price, fixed) = match next {
            Next::Qty if frame[i..].starts_with(&PRICE_TO_QTY) => (i + PRICE_TO_QTY.len(), false, true),
            Next::Price if frame[i..].starts_with(&QTY_TO_PRICE) => (i + QTY_TO_PRICE.len(), true, true),
            _ => match next_number_key(frame, i) {
                Some((key_end, is_price)) => (key_end, is_price, false),
                None => break,
            },
        };
        let mut start = key_end;
        while start < frame.len() && frame[start].is_ascii_whitespace() {
            start += 1;
        }
        let end = number_end(frame, start);
        i = end;
        if end == start {
            // Not a bare number (a string, say): left as it is.
            next = Next::Scan;
            continue;
        }
        next = if is_price { Next::Qty } else { Next::Price };
        if fixed && start == key_end {
            // The bytes since the last number are the separator: written as a constant with
            // the opening quote, not copied.
            if is_price {
                out[w..w + QUOTED_QTY_TO_PRICE.len()].copy_from_slice(&QUOTED_QTY_TO_PRICE);
                w += QUOTED_QTY_TO_PRICE.len();
            } else {
                out[w..w + QUOTED_PRICE_TO_QTY.len()].copy_from_slice(&QUOTED_PRICE_TO_QTY);
                w += QUOTED_PRICE_TO_QTY.len();
            }
        } else {
            copy_short(out, w, &frame[copied..start]);
            w += start - copied;
            out[w] = b'"';
            w += 1;
        }
        w = copy_number(out, w, frame, start, end);
        out[w] = b'"';
        w += 1;
        copied = end;
    }
    copy_short(out, w, &frame[copied..]);
    w + (frame.len() - copied)
}

/// Bytes a number is copied in by [`quote_numbers`] when the frame holds that many from it.
const NUMBER_BLOCK: usize = 16;
/// [`PRICE_TO_QTY`] followed by the quantity's opening quote.
const QUOTED_PRICE_TO_QTY: [u8; 8] = *b",\"qty\":\"";
/// [`QTY_TO_PRICE`] followed by the price's opening quote.
const QUOTED_QTY_TO_PRICE: [u8; 12] = *b"},{\"price\":\"";

/// What opens a book level as Kraken prints it.
const LEVEL_OPEN: [u8; 9] = *b"{\"price\":";
/// What opens a bid level list, up to its `[`.
const BIDS_OPEN: [u8; 8] = *b"\"bids\":[";
/// What opens an ask level list, up to its `[`.
const ASKS_OPEN: [u8; 8] = *b"\"asks\":[";

/// Copies a `book` frame to the start of `buf` with every level list Kraken printed its way —
/// `"bids":[{"price":P,"qty":Q},…]` (or `"asks"`), numbers bare, no spaces — replaced by a short
/// marker string (`"bids":"~0"`), noting where each level's two number texts are in `frame`
/// in the shared lifting's `lifted` (two texts a level; the walk takes each list by its marker,
/// [`lift::Lifted::take`], as the string-list venues' walks do). simd-json then builds the tape of the envelope only: the
/// levels, nine structural characters and four strings each as Kraken prints them, were most of
/// its work, and the number texts still had to be read again by the walk. The level bytes are
/// checked exactly here (the fixed separators, a run of number bytes each side) and the texts
/// go through the same [`level_of`] as any other level, so what is accepted and refused is what
/// the quoted route accepts and refuses.
///
/// Returns the copy's length, or `None` — the caller then quotes the numbers in place
/// ([`quote_numbers`]) — if the frame is not a `book` frame, holds [`lift::MARK`] or a `\`, has
/// more than [`lift::MAX_LISTS`] lists, or any `"price":`/`"qty":` key is not inside a list so
/// printed. The walk reads each marker once and refuses the frame unless it read every one, so a
/// list lifted from anywhere but a data item's `bids`/`asks` is never taken for one. Callgrind
/// and wall time against the array rewrite it replaced: BENCHMARKS.md `feed_parse`, round 8.
#[inline]
fn lift_book_levels(frame: &[u8], buf: &mut Vec<u8>, lifted: &mut lift::LiftedLists) -> Option<usize> {
    lifted.clear();
    if !frame.starts_with(b"{\"channel\":\"book\"")
        || u32::try_from(frame.len()).is_err()
        || memchr::memchr2(lift::MARK, b'\\', frame).is_some()
    {
        return None;
    }
    // A lifted list is at least `[{"price":0,"qty":0}]`, 21 bytes, and its marker at most 5: the
    // copy is never longer than the frame.
    let bound = frame.len() + simd_json::INPUT_PADDING;
    if buf.len() < bound {
        buf.resize(bound, b' ');
    }
    let out = buf.as_mut_slice();
    let (mut w, mut copied) = (0, 0);
    // Each pass: the envelope up to a list's `[`, then the list's levels.
    while let Some((key_end, is_price)) = next_number_key(frame, copied) {
        let open = key_end.checked_sub(LEVEL_OPEN.len())?;
        let key = open.checked_sub(BIDS_OPEN.len())?;
        let list_key = &frame[key..open];
        if !is_price
            || frame[open..key_end] != LEVEL_OPEN
            || (list_key != BIDS_OPEN && list_key != ASKS_OPEN)
            || lifted.list_count() == lift::MAX_LISTS
        {
            return None;
        }
        let bracket = open - 1;
        copy_short(out, w, &frame[copied..bracket]);
        w += bracket - copied;
        w = lift::write_marker(out, w, lifted.list_count());
        let first = lifted.text_count();
        let mut price_start = key_end;
        loop {
            let price_end = number_end(frame, price_start);
            if price_end == price_start || !frame[price_end..].starts_with(&PRICE_TO_QTY) {
                return None;
            }
            let qty_start = price_end + PRICE_TO_QTY.len();
            let qty_end = number_end(frame, qty_start);
            if qty_end == qty_start {
                return None;
            }
            // Below `u32::MAX`: the frame's length was checked.
            lifted.push_level([[price_start as u32, price_end as u32], [qty_start as u32, qty_end as u32]]);
            if frame[qty_end..].starts_with(&QTY_TO_PRICE) {
                price_start = qty_end + QTY_TO_PRICE.len();
            } else if frame[qty_end..].starts_with(b"}]") {
                copied = qty_end + 2;
                break;
            } else {
                return None;
            }
        }
        lifted.close_list(first);
    }
    copy_short(out, w, &frame[copied..]);
    Some(w + (frame.len() - copied))
}

/// Copies the number `frame[start..end]` to `out[w..]` (one 16-byte block where the frame holds
/// that many bytes from `start`: the bytes past the number are overwritten by what follows);
/// returns the position after it.
#[inline(always)]
fn copy_number(out: &mut [u8], w: usize, frame: &[u8], start: usize, end: usize) -> usize {
    match frame.get(start..start + NUMBER_BLOCK) {
        Some(block) if end - start <= NUMBER_BLOCK => out[w..w + NUMBER_BLOCK].copy_from_slice(block),
        _ => copy_short(out, w, &frame[start..end]),
    }
    w + (end - start)
}

/// From `from`, the end (just past the `:`) of the next `"price":` or `"qty":` key in `frame`,
/// and whether it is `"price"`.
#[inline]
fn next_number_key(frame: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut i = from;
    while let Some(colon) = find_byte(frame, i, b':') {
        i = colon + 1;
        let head = &frame[..i];
        if head.ends_with(b"\"price\":") {
            return Some((i, true));
        }
        if head.ends_with(b"\"qty\":") {
            return Some((i, false));
        }
    }
    None
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` → Unix nanoseconds (a fraction's digits past the 9th are
/// checked but do not count). The fixed-position fields are read without loops and the digit
/// checks accumulated into one flag, cheaper than a loop per field (BENCHMARKS.md `feed_parse`, "Measured design choices").
fn rfc3339_ns(text: &str) -> Option<Nanos> {
    let b = text.as_bytes();
    let head: &[u8; 19] = b.first_chunk()?;
    let (&zone, rest) = b[19..].split_last()?;
    if head[4] != b'-' || head[7] != b'-' || head[10] != b'T' || head[13] != b':' || head[16] != b':' || zone != b'Z' {
        return None;
    }
    let mut bad = false;
    let mut digit = |c: u8| {
        let d = c.wrapping_sub(b'0');
        bad |= d > 9;
        i64::from(d)
    };
    let y = digit(head[0]) * 1000 + digit(head[1]) * 100 + digit(head[2]) * 10 + digit(head[3]);
    let m = digit(head[5]) * 10 + digit(head[6]);
    let d = digit(head[8]) * 10 + digit(head[9]);
    let hh = digit(head[11]) * 10 + digit(head[12]);
    let mm = digit(head[14]) * 10 + digit(head[15]);
    let ss = digit(head[17]) * 10 + digit(head[18]);
    let mut frac_ns = 0i64;
    if let Some((&dot, frac)) = rest.split_first() {
        if dot != b'.' || frac.is_empty() {
            return None;
        }
        let kept = frac.len().min(9);
        for &c in &frac[..kept] {
            frac_ns = frac_ns * 10 + digit(c);
        }
        for &c in &frac[kept..] {
            digit(c);
        }
        frac_ns *= 10i64.pow((9 - kept) as u32);
    }
    if bad || !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns).map(Nanos)
}

/// The optional `timestamp` at `at` (a [`fields`] slot).
fn timestamp(nodes: &[Node<'_>], at: Option<usize>) -> Result<Nanos, ParseError> {
    match at {
        None => Ok(Nanos(0)),
        Some(at) => match nodes.get(at) {
            Some(Node::String(s)) => rfc3339_ns(s).ok_or(ParseError::WrongType("timestamp")),
            _ => Err(ParseError::WrongType("timestamp")),
        },
    }
}

/// A book level whose texts are not as Kraken prints them ([`rules::wire_level`] refused them):
/// each text through the general decimal parser, the checksum piece from the units where the
/// text does not give it.
#[cold]
#[inline(never)]
fn general_level(price_text: &[u8], qty_text: &[u8], entry: &SymbolEntry) -> Result<Level, ParseError> {
    let text = |t, field| std::str::from_utf8(t).map_err(|_| ParseError::BadDecimal(field));
    let price = scaled(text(price_text, "price")?, entry.scales.price, "price")?;
    let qty = scaled(text(qty_text, "qty")?, entry.scales.qty, "qty")?;
    if qty == 0 {
        return Ok(Level::without_text(price, 0));
    }
    rules::level(price, qty, price_text, qty_text, entry.scales, entry.precision).ok_or(ParseError::BadDecimal("price"))
}

/// A book level from its price and quantity texts, with its checksum piece.
#[inline(always)]
fn level_of(price_text: &[u8], qty_text: &[u8], entry: &SymbolEntry) -> Result<Level, ParseError> {
    match rules::wire_level(price_text, qty_text, entry.scales, entry.precision) {
        Some(level) => Ok(level),
        None => general_level(price_text, qty_text, entry),
    }
}

#[allow(clippy::too_many_arguments)] // reason: the walk's context and outputs, passed down one level
fn walk(
    symbols: &[SymbolEntry],
    nodes: &[Node<'_>],
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    items: &mut Vec<BookItem>,
    levels: &mut Vec<StagedLevel>,
    lifted: Option<lift::Lifted<'_>>,
) -> Result<Parsed, ParseError> {
    if !matches!(nodes.first(), Some(Node::Object { .. })) {
        return Err(ParseError::Shape);
    }
    let [method_at, channel_at, type_at, data_at] = fields(nodes, 0, ["method", "channel", "type", "data"]);
    if method_at.is_some() {
        return match find_key(nodes, 0, "success").and_then(|at| nodes.get(at)) {
            Some(Node::Static(StaticNode::Bool(false))) => Ok(Parsed::ControlError),
            _ => Ok(Parsed::Control),
        };
    }
    let channel = str_at(nodes, channel_at, "channel").map_err(|_| ParseError::Shape)?;
    let is_book = match channel {
        "book" => true,
        "trade" => false,
        "heartbeat" | "status" => return Ok(Parsed::Control),
        _ => return Err(ParseError::UnknownStream),
    };
    let snapshot = match str_at(nodes, type_at, "type")? {
        "snapshot" => true,
        "update" => false,
        _ => return Err(ParseError::WrongType("type")),
    };
    if !is_book && snapshot {
        // The last trades before subscribing: history, not live prints.
        return Ok(Parsed::Control);
    }
    let data = data_at.ok_or(ParseError::MissingField("data"))?;
    let Some(Node::Array { len: n, .. }) = nodes.get(data) else { return Err(ParseError::WrongType("data")) };
    let mut obj = data + 1;
    let mut trade_symbol = None;
    for _ in 0..*n {
        if !matches!(nodes.get(obj), Some(Node::Object { .. })) {
            return Err(ParseError::WrongType("data"));
        }
        let [symbol_at, timestamp_at, checksum_at, asks_at, bids_at] =
            fields(nodes, obj, ["symbol", "timestamp", "checksum", "asks", "bids"]);
        let name = str_at(nodes, symbol_at, "symbol")?;
        let symbol = symbols.iter().position(|s| s.symbol == name).ok_or(ParseError::UnknownSymbol)?;
        let entry = &symbols[symbol];
        let exchange_ns = timestamp(nodes, timestamp_at)?;
        if is_book {
            let checksum = match checksum_at.map(|at| nodes.get(at)) {
                None => None,
                Some(Some(Node::Static(StaticNode::U64(v)))) => {
                    Some(u32::try_from(*v).map_err(|_| ParseError::WrongType("checksum"))?)
                }
                Some(Some(Node::Static(StaticNode::I64(v)))) => {
                    Some(u32::try_from(*v).map_err(|_| ParseError::WrongType("checksum"))?)
                }
                Some(_) => return Err(ParseError::WrongType("checksum")),
            };
            let start = levels.len();
            for (key, side, at) in [("asks", Side::Sell, asks_at), ("bids", Side::Buy, bids_at)] {
                let at = at.ok_or(ParseError::MissingField(key))?;
                let len = match (nodes.get(at), &lifted) {
                    (Some(Node::Array { len, .. }), _) => *len,
                    // A list [`lift_book_levels`] took out: its levels' texts are in the frame.
                    (Some(Node::String(mark)), Some(lifted)) => {
                        let Some(texts) = lifted.take(mark) else {
                            // A marker read twice, or a string that is none of this frame's.
                            return Err(if lifted.levels(mark) > 0 {
                                ParseError::Shape
                            } else {
                                ParseError::WrongType(key)
                            });
                        };
                        for level in texts.chunks_exact(2) {
                            levels.push((side, level_of(lifted.text(level[0]), lifted.text(level[1]), entry)?));
                        }
                        continue;
                    }
                    _ => return Err(ParseError::WrongType(key)),
                };
                let mut l = at + 1;
                for _ in 0..len {
                    let (price_text, qty_text) = match nodes.get(l..l + 5) {
                        // `{"price":…,"qty":…}` as Kraken prints it: read in place.
                        Some(
                            &[
                                Node::Object { len: 2, .. },
                                Node::String("price"),
                                Node::String(price_text),
                                Node::String("qty"),
                                Node::String(qty_text),
                            ],
                        ) => (price_text, qty_text),
                        _ => {
                            if !matches!(nodes.get(l), Some(Node::Object { .. })) {
                                return Err(ParseError::WrongType(key));
                            }
                            let [price_at, qty_at] = fields(nodes, l, ["price", "qty"]);
                            (str_at(nodes, price_at, "price")?, str_at(nodes, qty_at, "qty")?)
                        }
                    };
                    levels.push((side, level_of(price_text.as_bytes(), qty_text.as_bytes(), entry)?));
                    l += span(nodes, l);
                }
            }
            items.push(BookItem { symbol, start, end: levels.len(), checksum, exchange_ns });
        } else {
            let price = scaled(get_str(nodes, obj, "price")?, entry.scales.price, "price")?;
            let qty = scaled(get_str(nodes, obj, "qty")?, entry.scales.qty, "qty")?;
            // `side` is the taker's.
            let side = match get_str(nodes, obj, "side")? {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                _ => return Err(ParseError::WrongType("side")),
            };
            let trade_id = match find_key(nodes, obj, "trade_id").map(|at| nodes.get(at)) {
                Some(Some(Node::Static(StaticNode::U64(v)))) => *v,
                Some(Some(Node::Static(StaticNode::I64(v)))) if *v >= 0 => *v as u64,
                Some(Some(Node::String(s))) => digits_u64(s, "trade_id")?,
                None => 0,
                Some(_) => return Err(ParseError::WrongType("trade_id")),
            };
            let mut ev =
                MarketEvent::new(entry.id, EventKind::Trade, side, Price::from_units(price), Qty::from_units(qty));
            ev.exchange_ns = exchange_ns;
            ev.local_ns = local_ns;
            ev.seq = trade_id;
            out.push(ev);
            trade_symbol.get_or_insert(symbol);
        }
        obj += span(nodes, obj);
    }
    if lifted.is_some_and(|lifted| !lifted.all_taken()) {
        // A list lifted from somewhere other than a data item's `bids` / `asks`.
        return Err(ParseError::Shape);
    }
    if is_book {
        if items.is_empty() {
            return Err(ParseError::WrongType("data"));
        }
        Ok(Parsed::Book { snapshot })
    } else {
        match (out.last_mut(), trade_symbol) {
            (Some(last), Some(symbol)) => {
                last.flags = MarketEvent::BATCH_END;
                Ok(Parsed::Trades { symbol })
            }
            _ => Err(ParseError::WrongType("data")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::bytes::NUMBER_BYTE;

    /// The definition: every bare number right after a `"price":` / `"qty":` key (spaces
    /// allowed before it) quoted, nothing else changed.
    fn reference_quote(frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < frame.len() {
            out.push(frame[i]);
            i += 1;
            if frame[i - 1] == b':' && (frame[..i].ends_with(b"\"price\":") || frame[..i].ends_with(b"\"qty\":")) {
                while i < frame.len() && frame[i].is_ascii_whitespace() {
                    out.push(frame[i]);
                    i += 1;
                }
                let start = i;
                while i < frame.len() && NUMBER_BYTE[usize::from(frame[i])] {
                    i += 1;
                }
                if i > start {
                    out.push(b'"');
                    out.extend_from_slice(&frame[start..i]);
                    out.push(b'"');
                }
            }
        }
        out
    }

    fn quoted(frame: &[u8], buf: &mut Vec<u8>) -> Vec<u8> {
        let len = quote_numbers(frame, buf);
        assert!(buf.len() >= len + simd_json::INPUT_PADDING);
        buf[..len].to_vec()
    }

    #[test]
    fn numbers_after_price_and_qty_are_quoted() {
        let mut buf = Vec::new();
        let got = quoted(br#"{"price":45285.2,"qty": 0.00100000,"checksum":12}"#, &mut buf);
        assert_eq!(got, br#"{"price":"45285.2","qty": "0.00100000","checksum":12}"#);
        let frame = br#"{"bids":[{"price":1.5,"qty":2},{"price":1.4,"qty":3}],"asks":[{"qty":0.1,"price":9},{"price":"x","qty":1e-3}]}"#;
        assert_eq!(quoted(frame, &mut buf), reference_quote(frame));
        assert_eq!(
            quoted(frame, &mut buf),
            br#"{"bids":[{"price":"1.5","qty":"2"},{"price":"1.4","qty":"3"}],"asks":[{"qty":"0.1","price":"9"},{"price":"x","qty":"1e-3"}]}"#
        );
    }

    proptest::proptest! {
        /// Frames stitched from level-list fragments (the fast path's layout, broken layouts,
        /// keys without numbers, truncations) quote exactly as the definition says, whatever
        /// the buffer held before.
        #[test]
        fn quoting_matches_the_definition(parts in proptest::collection::vec(0usize..16, 0..40), cut in 0usize..400) {
            const PIECES: [&str; 16] = [
                r#"{"price":"#, "65000.1", r#","qty":"#, "0.12345678", r#"},{"price":"#, r#"}],"asks":[{"price":"#,
                r#", "qty": "#, "1e-5", r#""price":"#, r#"qty":"#, ":", "\"", " ", r#"},{"qty":"#,
                "12345678901234567.5", "-1",
            ];
            let mut frame: Vec<u8> = parts.iter().flat_map(|&k| PIECES[k].bytes()).collect();
            frame.truncate(cut.min(frame.len()));
            let mut buf = vec![b'x'; 7];
            proptest::prop_assert_eq!(quoted(&frame, &mut buf), reference_quote(&frame));
            proptest::prop_assert_eq!(quoted(&frame, &mut buf), reference_quote(&frame));
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Some(Nanos(0)));
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55.440295Z"), Some(Nanos(1_696_613_755_440_295_000)));
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55"), None);
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55.4Z"), Some(Nanos(1_696_613_755_400_000_000)));
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55.1234567891Z"), Some(Nanos(1_696_613_755_123_456_789)));
        for bad in [
            "2023-10-06T17:35:55.Z",
            "2023-10-06T17:35:55,4Z",
            "2023-10-06T17:35:5x.4Z",
            "2023-10-06T17:35:55.4xZ",
            "2023-10-06T17:35:55.1234567891xZ",
            "2023-13-06T17:35:55Z",
            "2023-10-06 17:35:55Z",
            "2023-10-06T17:35:55.4",
        ] {
            assert_eq!(rfc3339_ns(bad), None, "{bad}");
        }
    }

    fn btc_usd_parser() -> FrameParser {
        let inst = crate::kit::lift::testing::instrument(qt_core::Venue::Kraken, 0, "BTC/USD", "0.1", "0.00000001");
        FrameParser::new(&[inst], &[Precision { price: 1, qty: 8 }], 64)
    }

    /// What [`FrameParser::parse_frame`] does with a frame it does not lift: numbers quoted in
    /// place, levels read as objects. The staged levels and items, or the refusal.
    fn parse_quoted(parser: &mut FrameParser, frame: &[u8]) -> Result<(Vec<StagedLevel>, Vec<BookItem>), ParseError> {
        let mut out = Vec::new();
        parser.items.clear();
        parser.levels.clear();
        let FrameParser { symbols, tape, items, levels, .. } = parser;
        let len = quote_numbers(frame, &mut tape.buf);
        tape.parse_prefix(len, |nodes| walk(symbols, nodes, Nanos(0), &mut out, items, levels, None))
            .unwrap_or(Err(ParseError::Json))?;
        Ok((parser.levels.clone(), parser.items.clone()))
    }

    /// [`FrameParser::parse_frame`]: lifted where the frame allows it.
    fn parse_lifted(parser: &mut FrameParser, frame: &[u8]) -> Result<(Vec<StagedLevel>, Vec<BookItem>), ParseError> {
        parser.parse_frame(frame, Nanos(0), &mut Vec::new())?;
        Ok((parser.levels.clone(), parser.items.clone()))
    }

    /// Each lifted list's levels as their price and quantity texts.
    type LiftedTexts = Vec<Vec<(String, String)>>;

    /// [`lift_book_levels`]'s copy and the texts of each lifted list's levels.
    fn lift(frame: &[u8]) -> Option<(String, LiftedTexts)> {
        let (mut buf, mut lists) = (Vec::new(), lift::LiftedLists::with_capacity(0));
        let len = lift_book_levels(frame, &mut buf, &mut lists)?;
        assert!(buf.len() >= len + simd_json::INPUT_PADDING);
        let lifted = lists.of(frame, 2);
        let text = |range| String::from_utf8(lifted.text(range).to_vec()).unwrap();
        let levels = (0..lists.list_count())
            .map(|k| {
                let texts = lifted.take(&format!("~{k}")).expect("each list once");
                texts.chunks_exact(2).map(|l| (text(l[0]), text(l[1]))).collect()
            })
            .collect();
        Some((String::from_utf8(buf[..len].to_vec()).unwrap(), levels))
    }

    #[test]
    fn level_lists_are_lifted_only_when_printed_exactly_so() {
        let frame = br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":65000.1,"qty":0.5},{"price":64999.9,"qty":0}],"asks":[],"checksum":7}]}"#;
        let (copy, levels) = lift(frame).expect("Kraken's layout");
        assert_eq!(
            copy,
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":"~0","asks":[],"checksum":7}]}"#
        );
        let pair = |p: &str, q: &str| (p.to_string(), q.to_string());
        assert_eq!(levels, [vec![pair("65000.1", "0.5"), pair("64999.9", "0")]]);
        // Eleven lists: the eleventh's marker has two digits.
        let many = (0..11).map(|k| format!(r#""asks":[{{"price":{k}.5,"qty":1}}]"#)).collect::<Vec<_>>().join(",");
        let frame = format!(r#"{{"channel":"book","data":[{{{many}}}]}}"#);
        let (copy, levels) = lift(frame.as_bytes()).expect("Kraken's layout");
        assert!(copy.ends_with(r#""asks":"~9","asks":"~10"}]}"#), "{copy}");
        assert_eq!(levels[10], [pair("10.5", "1")]);
        for other in [
            &br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","price":1.5,"qty":2}]}"#[..],
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"qty":2,"price":1.5}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price": 1.5,"qty":2}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.5,"qty":2,"x":1}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"1.5","qty":2}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.5,"qty":2} ],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids": [{"price":1.5,"qty":2}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","x":[{"price":1.5,"qty":2}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC~USD","bids":[{"price":1.5,"qty":2}],"asks":[]}]}"#,
            br#"{"channel":"book","type":"update","data":[{"symbol":"BTC\/USD","bids":[{"price":1.5,"qty":2}],"asks":[]}]}"#,
            br#"{"type":"update","channel":"book","data":[{"symbol":"BTC/USD","bids":[{"price":1.5,"qty":2}],"asks":[]}]}"#,
        ] {
            assert_eq!(lift(other), None, "{}", String::from_utf8_lossy(other));
        }
        // More lists than the walk can mark: not lifted.
        let many = (0..=lift::MAX_LISTS).map(|_| r#""asks":[{"price":1.5,"qty":1}]"#).collect::<Vec<_>>().join(",");
        assert_eq!(lift(format!(r#"{{"channel":"book","data":[{{{many}}}]}}"#).as_bytes()), None);
    }

    #[test]
    fn only_a_data_items_lifted_lists_are_read_as_levels() {
        let mut parser = btc_usd_parser();
        // A list lifted from a nested object: its marker is never read, the frame is refused.
        let frame = br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","x":{"bids":[{"price":1.5,"qty":2}]},"bids":[{"price":65000.1,"qty":0.5}],"asks":[],"checksum":7}]}"#;
        assert!(lift(frame).is_some());
        assert_eq!(parse_lifted(&mut parser, frame), Err(ParseError::Shape));
        assert!(parse_quoted(&mut parser, frame).is_ok(), "the quoted route ignores the unknown key");
        // A marker-like string the venue sent: the frame holds the mark, so it is not lifted,
        // and the string is no level list.
        let frame = br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":"~0","asks":[{"price":65000.2,"qty":1}],"checksum":7}]}"#;
        assert_eq!(lift(frame), None);
        assert_eq!(parse_lifted(&mut parser, frame), Err(ParseError::WrongType("bids")));
        // An array the venue sent where the lifted route would leave an array: read as before.
        let frame = br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[["65000.1","0.5"]],"asks":[{"price":65000.2,"qty":1}],"checksum":7}]}"#;
        assert!(lift(frame).is_some());
        assert_eq!(parse_lifted(&mut parser, frame), Err(ParseError::WrongType("bids")));
        assert_eq!(parse_quoted(&mut parser, frame), Err(ParseError::WrongType("bids")));
        // Both sides lifted, asks printed first: staged asks then bids, as the quoted route does.
        let frame = br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","asks":[{"price":65000.2,"qty":1.00000000}],"bids":[{"price":65000.1,"qty":0.50000000},{"price":64000.0,"qty":0.00000000}],"checksum":7}]}"#;
        let lifted = parse_lifted(&mut parser, frame).expect("lifted");
        assert_eq!(lifted, parse_quoted(&mut parser, frame).expect("quoted"));
        let sides: Vec<(Side, i64, i64)> = lifted.0.iter().map(|(s, l)| (*s, l.price, l.qty)).collect();
        assert_eq!(
            sides,
            [(Side::Sell, 650_002, 100_000_000), (Side::Buy, 650_001, 50_000_000), (Side::Buy, 640_000, 0)]
        );
    }

    proptest::proptest! {
        /// Book frames stitched from Kraken's level layout and from layouts it never prints:
        /// whatever the lifted route accepts, the quoted-in-place copy accepts with the same
        /// levels and items, and the other way round.
        #[test]
        fn lifted_levels_parse_as_the_quoted_objects_do(
            bids in proptest::collection::vec(0usize..13, 0..8),
            asks in proptest::collection::vec(0usize..13, 0..8),
            asks_first: bool,
            cut in 0usize..500,
        ) {
            const LEVELS: [&str; 13] = [
                r#"{"price":65000.1,"qty":0.5}"#,
                r#"{"price":65000.2,"qty":0.00000001}"#,
                r#"{"price":64999.9,"qty":0}"#,
                r#"{"price":65000,"qty":12}"#,
                r#"{"price":6.5e4,"qty":1}"#,
                r#"{"price":65000.15,"qty":1}"#,
                r#"{"qty":2,"price":65001.1}"#,
                r#"{"price": 65001.2,"qty":2}"#,
                r#"{"price":65001.3,"qty":2,"x":1}"#,
                r#"["65001.4","2"]"#,
                r#"{}"#,
                r#"{"price":"65001.5","qty":"2"}"#,
                r#""~0""#,
            ];
            let list = |picks: &[usize]| picks.iter().map(|&k| LEVELS[k]).collect::<Vec<_>>().join(",");
            let (bids, asks) = (format!(r#""bids":[{}]"#, list(&bids)), format!(r#""asks":[{}]"#, list(&asks)));
            let sides = if asks_first { format!("{asks},{bids}") } else { format!("{bids},{asks}") };
            let mut frame = format!(
                r#"{{"channel":"book","type":"update","data":[{{"symbol":"BTC/USD",{sides},"checksum":7,"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#
            )
            .into_bytes();
            if cut < frame.len() {
                frame.truncate(cut);
            }
            let mut parser = btc_usd_parser();
            let lifted = parse_lifted(&mut parser, &frame);
            let quoted = parse_quoted(&mut parser, &frame);
            match (&lifted, &quoted) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
                // Refused by both (the reasons may differ).
                (Err(_), Err(_)) => {}
                _ => proptest::prop_assert!(false, "lifted {:?} quoted {:?}", lifted, quoted),
            }
        }
    }
}
