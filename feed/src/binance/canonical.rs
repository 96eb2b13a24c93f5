//! The canonical depth frame, read without a JSON parser: Binance spot sends every
//! `<sym>@depth@100ms` frame of the combined stream in one layout,
//!
//! ```text
//! {"stream":"<name>","data":{"e":"depthUpdate","E":<ms>,"s":"<SYM>","U":<first>,"u":<last>,
//!  "b":[["<price>","<qty>"],…],"a":[["<price>","<qty>"],…]}}
//! ```
//!
//! (one line, no spaces), and for such a frame [`depth_frame`] reads it in one pass over its
//! bytes: the literals are compared, the numbers and decimal strings go through the same
//! parsers as the general path's. Anything else — another stream, a key added, moved or
//! missing, a space, an escape, a number or decimal the parsers refuse — returns `None` before
//! a single record has gone out, and the caller parses the frame the general way
//! ([`super::wire::FrameParser`]: simd-json over the lifted envelope), which accepts every
//! valid layout and names every error. So the fast path never decides an error and never
//! accepts what the general path refuses: it only answers the common case sooner
//! (BENCHMARKS.md, "tick→order, step by step").
//!
//! Core thread; the level buffer is allocated once (grown by the largest frame) and reused.

use super::wire::{Parsed, SymbolEntry};
use crate::kit::bytes::find_byte;
use crate::kit::direct::DiffSink;
use crate::kit::json::{level_price_bytes, ms_to_ns, qty_bytes};
use qt_core::decimal::{leading_digits, parse_fixed8};
use qt_core::{EventKind, MarketEvent, Nanos, Price, Qty, Side};

/// A frame's levels as read: bids first, then asks.
#[derive(Debug, Default)]
pub(crate) struct Levels {
    levels: Vec<(Price, Qty)>,
    bids: usize,
}

impl Levels {
    /// Room for `n` levels before the first growth.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self { levels: Vec::with_capacity(n), bids: 0 }
    }
}

/// A cursor over a frame: every step either matches and advances or says no.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn literal(&mut self, text: &[u8]) -> Option<()> {
        let end = self.at.checked_add(text.len())?;
        (self.bytes.get(self.at..end)? == text).then(|| self.at = end)
    }

    /// The bytes up to the next `"` (which is consumed). Escapes are not looked for: a body
    /// is only ever compared with a stream name or a symbol, or parsed as a decimal, and none
    /// of those holds or accepts a backslash — so a string with an escape in it (an escaped
    /// quote ends its body early) is refused, and the frame goes the general way. Eight bytes a
    /// step ([`find_byte`]): the strings are short, where a `memchr` call costs more.
    #[inline(always)]
    fn string_body(&mut self) -> Option<&'a [u8]> {
        let end = find_byte(self.bytes, self.at, b'"')?;
        let body = &self.bytes[self.at..end];
        self.at = end + 1;
        Some(body)
    }

    /// A JSON unsigned integer as simd-json reads it: digits, no leading zero, fits a `u64`.
    #[inline(always)]
    fn unsigned(&mut self) -> Option<u64> {
        let rest = self.bytes.get(self.at..)?;
        // Up to 15 digits without a scan ([`leading_digits`]); longer runs, or the frame's last
        // bytes, the byte scan.
        let (value, len) = match leading_digits(rest) {
            Some(read) => read,
            None => {
                let len = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
                (qt_core::decimal::parse_digits_u64(&rest[..len])?, len)
            }
        };
        if len > 1 && rest[0] == b'0' {
            return None;
        }
        self.at += len;
        Some(value)
    }

    /// A decimal string in Binance's fixed layout (`<1–7 digits>.<8 digits>"`,
    /// [`parse_fixed8`]) as units at `scale`, the closing quote consumed; `None` (nothing
    /// consumed) for any other string, which the caller reads the general way. Digits and a
    /// dot only: it never takes a backslash.
    #[inline(always)]
    fn fixed8_string(&mut self, scale: u8) -> Option<i64> {
        let rest = self.bytes.get(self.at..)?;
        let (units, len) = parse_fixed8(rest, scale)?;
        if *rest.get(len)? != b'"' {
            return None;
        }
        self.at += len + 1;
        // At most 7 + 8 digits: far below `i64::MAX`.
        Some(units as i64)
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// `[` levels `]` where a level is `["<price>","<qty>"]`, appended to `out`.
    #[inline(always)]
    fn levels(&mut self, scales: (u8, u8), key: &'static str, out: &mut Vec<(Price, Qty)>) -> Option<()> {
        self.literal(b"[")?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.literal(b"[\"")?;
            let price = match self.fixed8_string(scales.0) {
                Some(0) => return None,
                Some(units) => Price::from_units(units),
                None => level_price_bytes(self.string_body()?, scales.0, key).ok()?,
            };
            self.literal(b",\"")?;
            let qty = match self.fixed8_string(scales.1) {
                Some(units) => Qty::from_units(units),
                None => qty_bytes(self.string_body()?, scales.1, key).ok()?,
            };
            self.literal(b"]")?;
            out.push((price, qty));
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Reads `frame` if it is a canonical depth frame of one of `symbols`; its records go to `sink`
/// when the sink takes the diff directly (the last flagged `BATCH_END`), else to `out` (cleared
/// first). `None`: not canonical, or anything the general path must judge — nothing was
/// emitted and `out` holds nothing of this frame.
#[inline]
pub(crate) fn depth_frame(
    symbols: &[SymbolEntry],
    levels: &mut Levels,
    frame: &[u8],
    local_ns: Nanos,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<(u64, u64)>,
) -> Option<Parsed> {
    let mut c = Cursor { bytes: frame, at: 0 };
    c.literal(b"{\"stream\":\"")?;
    let name = c.string_body()?;
    let symbol = symbols.iter().position(|s| s.depth_stream().as_bytes() == name)?;
    let entry = &symbols[symbol];
    c.literal(b",\"data\":{\"e\":\"depthUpdate\",\"E\":")?;
    let event_ms = c.unsigned()?;
    c.literal(b",\"s\":\"")?;
    if c.string_body()? != entry.symbol.as_bytes() {
        return None;
    }
    c.literal(b",\"U\":")?;
    let first = c.unsigned()?;
    c.literal(b",\"u\":")?;
    let last = c.unsigned()?;
    if first > last {
        return None;
    }
    let scales = (entry.price_scale, entry.qty_scale);
    levels.levels.clear();
    c.literal(b",\"b\":")?;
    c.levels(scales, "b", &mut levels.levels)?;
    levels.bids = levels.levels.len();
    c.literal(b",\"a\":")?;
    c.levels(scales, "a", &mut levels.levels)?;
    c.literal(b"}}")?;
    if c.at != frame.len() {
        return None;
    }

    out.clear();
    let mut template = MarketEvent::new(entry.id, EventKind::BookDelta, Side::Buy, Price::ZERO, Qty::ZERO);
    template.exchange_ns = ms_to_ns(event_ms);
    template.local_ns = local_ns;
    template.seq = last;
    template.prev_seq = first;
    let direct = sink.direct(symbol, (first, last));
    let total = levels.levels.len();
    for (k, &(price, qty)) in levels.levels.iter().enumerate() {
        let mut ev = template;
        ev.side = if k < levels.bids { Side::Buy } else { Side::Sell };
        ev.price = price;
        ev.qty = qty;
        if direct {
            if k + 1 == total {
                ev.flags |= MarketEvent::BATCH_END;
            }
            sink.emit(&ev);
        } else {
            out.push(ev);
        }
    }
    Some(if direct { Parsed::DepthEmitted { symbol, first, last } } else { Parsed::Depth { symbol, first, last } })
}

#[cfg(test)]
mod tests {
    use super::super::wire::FrameParser;
    use crate::kit::direct::DiffSink;
    use crate::kit::lift::testing::{instruments, variants};
    use qt_core::{MarketEvent, Nanos, Venue};

    /// Takes every diff directly (or none) and keeps what it was given.
    struct Keep {
        direct: bool,
        emitted: Vec<MarketEvent>,
    }

    impl DiffSink<(u64, u64)> for Keep {
        fn direct(&mut self, _: usize, _: (u64, u64)) -> bool {
            self.direct
        }
        fn emit(&mut self, ev: &MarketEvent) {
            self.emitted.push(*ev);
        }
    }

    /// The captured symbols on the finest grid (8 decimals: every captured decimal fits), and
    /// on coarser ones (NKNUSDT's real tick 0.0001 and lot 1: decimals beyond the scale, zero
    /// or not, on the fast path's shifted form).
    const GRIDS: [[(&str, &str, &str); 4]; 2] = [
        [
            ("NKNUSDT", "0.00000001", "0.00000001"),
            ("BLZETH", "0.00000001", "0.00000001"),
            ("LRCBTC", "0.00000001", "0.00000001"),
            ("RUNEEUR", "0.00000001", "0.00000001"),
        ],
        [
            ("NKNUSDT", "0.0001", "1"),
            ("BLZETH", "0.000001", "0.1"),
            ("LRCBTC", "0.0000001", "0.01"),
            ("RUNEEUR", "0.01", "1"),
        ],
    ];

    fn parsers(grid: &[(&str, &str, &str)]) -> [FrameParser; 2] {
        let symbols = instruments(Venue::Binance, grid);
        let fast = FrameParser::new(&symbols);
        let mut general = FrameParser::new(&symbols);
        general.set_canonical_path(false);
        [fast, general]
    }

    /// Everything a parse tells: the result (or the error), the staged and the emitted records.
    fn read(parser: &mut FrameParser, frame: &[u8], direct: bool) -> String {
        let mut out = Vec::new();
        let mut sink = Keep { direct, emitted: Vec::new() };
        let result = parser.parse_frame_into(frame, Nanos(7), &mut out, &mut sink);
        format!("{result:?} staged {out:?} emitted {:?}", sink.emitted)
    }

    /// The captured frames and their alterations: every byte of the first frames replaced by a
    /// few bytes that break the layout or the numbers, and the lift tests' variants of all 177.
    fn frames() -> Vec<Vec<u8>> {
        let capture = include_str!("../../../testdata/binance_spot/depth.jsonl");
        let mut frames = variants(capture, 177);
        for line in capture.lines().take(12) {
            let frame = line.as_bytes();
            for at in 0..frame.len() {
                for byte in [b' ', b'0', b'9', b'\\', b'x', b'"', b'-', b'.', b'}'] {
                    let mut changed = frame.to_vec();
                    changed[at] = byte;
                    frames.push(changed);
                }
            }
            frames.push([frame, b" "].concat());
            frames.push([b" ", frame].concat());
        }
        frames
    }

    #[test]
    fn the_fast_path_reads_every_frame_exactly_as_the_general_path() {
        for grid in &GRIDS {
            fast_equals_general(grid);
        }
    }

    fn fast_equals_general(grid: &[(&str, &str, &str)]) {
        let [mut fast, mut general] = parsers(grid);
        let mut taken = 0;
        let mut canonical_levels = super::Levels::default();
        for frame in frames() {
            for direct in [true, false] {
                assert_eq!(
                    read(&mut fast, &frame, direct),
                    read(&mut general, &frame, direct),
                    "{}",
                    String::from_utf8_lossy(&frame)
                );
            }
            let mut sink = Keep { direct: true, emitted: Vec::new() };
            let symbols = &fast.symbols_for_tests();
            taken += usize::from(
                super::depth_frame(symbols, &mut canonical_levels, &frame, Nanos(7), &mut Vec::new(), &mut sink)
                    .is_some(),
            );
        }
        // Unaltered captured frames (and alterations that stay valid, e.g. a digit for a digit)
        // went the fast way — every one on the finest grid: the comparison really exercised it.
        assert!(taken >= if grid == GRIDS[0] { 177 } else { 20 }, "fast path taken {taken} times");
    }

    #[test]
    fn frames_outside_the_canonical_layout_still_parse_the_general_way() {
        let [mut fast, _] = parsers(&GRIDS[0]);
        let spaced = br#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1, "s":"NKNUSDT","U":2,"u":3,"b":[["0.1","2"]],"a":[]}}"#;
        let reordered = br#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","u":3,"U":2,"b":[["0.1","2"]],"a":[]}}"#;
        for frame in [&spaced[..], &reordered[..]] {
            let symbols = fast.symbols_for_tests();
            let mut sink = Keep { direct: true, emitted: Vec::new() };
            assert!(
                super::depth_frame(
                    &symbols,
                    &mut super::Levels::default(),
                    frame,
                    Nanos(7),
                    &mut Vec::new(),
                    &mut sink
                )
                .is_none()
            );
            assert!(read(&mut fast, frame, true).starts_with("Ok(DepthEmitted"), "{}", read(&mut fast, frame, true));
        }
    }
}
