//! Kraken WS v2 public frame parsing: `book` (snapshot/update), `trade`, and the control frames
//! (`heartbeat`, `status`, method replies such as subscribe acks and `pong`).
//!
//! Core thread. Kraken v2 sends prices and quantities as JSON *numbers*; simd-json would turn
//! them into `f64`. So the frame is copied into the reused padded buffer with the number after
//! every `"price":` and `"qty":` key wrapped in quotes, and that text goes straight to an
//! integer on the instrument's grid (`qt_core::decimal`) — exact, never through `f64`. The tape
//! is built with reused `Buffers`/tape vector; book levels are staged in reused vectors so the
//! decoder applies a message only once all of it parsed. After warm-up nothing allocates; bad
//! input is a `Copy` [`ParseError`], never a panic.

use crate::json::{TapeBuffers, fields, find_key, get_str, scaled, span, str_at};
use crate::okx::parse::{contains, digits_u64};
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

/// One staged book level: side, price units, quantity units.
pub type StagedLevel = (Side, i64, i64);

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
    Trades,
}

#[derive(Debug, Clone)]
struct SymbolEntry {
    id: InstrumentId,
    symbol: String,
    price_scale: u8,
    qty_scale: u8,
}

/// Parses Kraken v2 frames; owns every buffer it reuses. Core thread.
pub struct FrameParser {
    symbols: Vec<SymbolEntry>,
    tape: TapeBuffers,
    items: Vec<BookItem>,
    levels: Vec<StagedLevel>,
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser").field("symbols", &self.symbols.len()).finish()
    }
}

const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

impl FrameParser {
    /// A parser for `symbols` (`symbol` = [`Instrument::symbol`], e.g. `BTC/USD`).
    pub fn new(symbols: &[Instrument], max_levels: usize) -> Self {
        let symbols = symbols
            .iter()
            .map(|i| SymbolEntry {
                id: i.id(),
                symbol: i.symbol().to_string(),
                price_scale: i.price_scale(),
                qty_scale: i.qty_scale(),
            })
            .collect::<Vec<_>>();
        Self {
            items: Vec::with_capacity(symbols.len().max(1)),
            symbols,
            tape: TapeBuffers::new(INITIAL_FRAME_CAPACITY),
            levels: Vec::with_capacity(2 * max_levels),
        }
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
        let Self { symbols, tape, items, levels } = self;
        quote_numbers(frame, &mut tape.buf);
        let result = tape
            .parse_in_place(|nodes| walk(symbols, nodes, local_ns, out, items, levels))
            .unwrap_or(Err(ParseError::Json));
        if result.is_err() {
            out.clear();
            items.clear();
            levels.clear();
        }
        result
    }
}

/// Copies `frame` into `buf`, wrapping the bare number after each `"price":` / `"qty":` key in
/// quotes so the tape keeps its exact text.
///
/// Jumps from `:` to `:` and copies the text between the numbers it quotes in whole slices
/// (a byte-by-byte copy with a key check per `:` was 8 500 instructions a message on
/// `benches/feed_parse_kraken_firi.rs`). The key is matched in `frame` rather than in the copy:
/// the two differ only right after a quoted number, and a number followed by the rest of a key
/// is not JSON either way.
#[inline]
fn quote_numbers(frame: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    let mut copied = 0;
    let mut i = 0;
    while let Some(colon) = frame[i..].iter().position(|&b| b == b':') {
        i += colon + 1;
        let head = &frame[..i];
        if !(head.ends_with(b"\"price\":") || head.ends_with(b"\"qty\":")) {
            continue;
        }
        while i < frame.len() && frame[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < frame.len() && matches!(frame[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            i += 1;
        }
        if i > start {
            buf.extend_from_slice(&frame[copied..start]);
            buf.push(b'"');
            buf.extend_from_slice(&frame[start..i]);
            buf.push(b'"');
            copied = i;
        }
    }
    buf.extend_from_slice(&frame[copied..]);
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` → Unix nanoseconds.
fn rfc3339_ns(text: &str) -> Option<Nanos> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut frac_ns = 0i64;
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let mut scale = 100_000_000i64;
        while i < b.len() && b[i].is_ascii_digit() {
            frac_ns += i64::from(b[i] - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    if i + 1 != b.len() || b[i] != b'Z' {
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

fn timestamp(nodes: &[Node<'_>], obj: usize) -> Result<Nanos, ParseError> {
    match find_key(nodes, obj, "timestamp") {
        None => Ok(Nanos(0)),
        Some(at) => match nodes.get(at) {
            Some(Node::String(s)) => rfc3339_ns(s).ok_or(ParseError::WrongType("timestamp")),
            _ => Err(ParseError::WrongType("timestamp")),
        },
    }
}

fn walk(
    symbols: &[SymbolEntry],
    nodes: &[Node<'_>],
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    items: &mut Vec<BookItem>,
    levels: &mut Vec<StagedLevel>,
) -> Result<Parsed, ParseError> {
    if !matches!(nodes.first(), Some(Node::Object { .. })) {
        return Err(ParseError::Shape);
    }
    if find_key(nodes, 0, "method").is_some() {
        return match find_key(nodes, 0, "success").and_then(|at| nodes.get(at)) {
            Some(Node::Static(StaticNode::Bool(false))) => Ok(Parsed::ControlError),
            _ => Ok(Parsed::Control),
        };
    }
    let channel = get_str(nodes, 0, "channel").map_err(|_| ParseError::Shape)?;
    let is_book = match channel {
        "book" => true,
        "trade" => false,
        "heartbeat" | "status" => return Ok(Parsed::Control),
        _ => return Err(ParseError::UnknownStream),
    };
    let snapshot = match get_str(nodes, 0, "type")? {
        "snapshot" => true,
        "update" => false,
        _ => return Err(ParseError::WrongType("type")),
    };
    if !is_book && snapshot {
        // The last trades before subscribing: history, not live prints.
        return Ok(Parsed::Control);
    }
    let data = find_key(nodes, 0, "data").ok_or(ParseError::MissingField("data"))?;
    let Some(Node::Array { len: n, .. }) = nodes.get(data) else { return Err(ParseError::WrongType("data")) };
    let mut obj = data + 1;
    for _ in 0..*n {
        if !matches!(nodes.get(obj), Some(Node::Object { .. })) {
            return Err(ParseError::WrongType("data"));
        }
        let name = get_str(nodes, obj, "symbol")?;
        let symbol = symbols.iter().position(|s| s.symbol == name).ok_or(ParseError::UnknownSymbol)?;
        let entry = &symbols[symbol];
        let exchange_ns = timestamp(nodes, obj)?;
        if is_book {
            let checksum = match find_key(nodes, obj, "checksum").map(|at| nodes.get(at)) {
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
            for (key, side) in [("asks", Side::Sell), ("bids", Side::Buy)] {
                let at = find_key(nodes, obj, key).ok_or(ParseError::MissingField(key))?;
                let Some(Node::Array { len, .. }) = nodes.get(at) else { return Err(ParseError::WrongType(key)) };
                let mut l = at + 1;
                for _ in 0..*len {
                    if !matches!(nodes.get(l), Some(Node::Object { .. })) {
                        return Err(ParseError::WrongType(key));
                    }
                    let [price_at, qty_at] = fields(nodes, l, ["price", "qty"]);
                    let price = scaled(str_at(nodes, price_at, "price")?, entry.price_scale, "price")?;
                    let qty = scaled(str_at(nodes, qty_at, "qty")?, entry.qty_scale, "qty")?;
                    levels.push((side, price, qty));
                    l += span(nodes, l);
                }
            }
            items.push(BookItem { symbol, start, end: levels.len(), checksum, exchange_ns });
        } else {
            let price = scaled(get_str(nodes, obj, "price")?, entry.price_scale, "price")?;
            let qty = scaled(get_str(nodes, obj, "qty")?, entry.qty_scale, "qty")?;
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
        }
        obj += span(nodes, obj);
    }
    if is_book {
        if items.is_empty() {
            return Err(ParseError::WrongType("data"));
        }
        Ok(Parsed::Book { snapshot })
    } else {
        match out.last_mut() {
            Some(last) => last.flags = MarketEvent::BATCH_END,
            None => return Err(ParseError::WrongType("data")),
        }
        Ok(Parsed::Trades)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_after_price_and_qty_are_quoted() {
        let mut buf = Vec::new();
        quote_numbers(br#"{"price":45285.2,"qty": 0.00100000,"checksum":12}"#, &mut buf);
        assert_eq!(buf, br#"{"price":"45285.2","qty": "0.00100000","checksum":12}"#);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Some(Nanos(0)));
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55.440295Z"), Some(Nanos(1_696_613_755_440_295_000)));
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55"), None);
    }
}
