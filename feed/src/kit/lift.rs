//! Level lists lifted out of a frame before simd-json sees it.
//!
//! A book diff is mostly its level lists: `"b":[["65000.10","0.5"],…]` is, per level, a handful
//! of structural characters and two strings for simd-json to index, put on the tape and copy out
//! again, after which the walk reads the same two texts back off the tape. Lifting copies the
//! frame into the parse buffer with each such list — under one of the venue's list keys, laid out
//! exactly so — replaced by a short marker string (`"b":"~0"`), noting where each level's texts
//! are in the frame. simd-json then builds the tape of the envelope only, and the walk reads the
//! levels of a marker from the frame (`Lifted::take`).
//!
//! What is accepted is what the plain route accepts:
//! - A list is lifted only if it is `[` level (`,` level)* `]` with each level `[` then
//!   `arity` non-empty strings separated by `,` then `]`, no spaces; the texts then go through
//!   the same decimal parsers. Any other layout is left in place for simd-json (a list that
//!   starts like one but breaks the layout leaves the whole frame to the plain copy).
//! - A frame holding `MARK` (`~`) or a `\` anywhere is not lifted: without a backslash no string
//!   holds a quote, so a list's bytes are never inside a string, and a marker string on the tape
//!   is always one written here, never one the venue sent.
//! - The walk takes each marker once, and the frame is refused unless every lifted list was taken
//!   (`Lifted::all_taken`): a list lifted from anywhere but where the walk reads levels is never
//!   taken for a book side.
//!
//! Core thread: the vectors are allocated once and reused; nothing here panics on any input.

use crate::kit::bytes::{copy_short, find_byte};
use crate::parse_error::ParseError;
use simd_json::Node;
use std::cell::Cell;

/// First byte of a marker string.
pub(crate) const MARK: u8 = b'~';

/// Most lists lifted from one frame: the walk marks each one it takes in a `u64`.
pub(crate) const MAX_LISTS: usize = 64;

/// Writes the marker of list `k` (below [`MAX_LISTS`]), `"~k"`, at `out[w..]`; returns the
/// position after it. At most 5 bytes.
#[inline(always)]
pub(crate) fn write_marker(out: &mut [u8], mut w: usize, k: usize) -> usize {
    out[w] = b'"';
    out[w + 1] = MARK;
    w += 2;
    if k >= 10 {
        out[w] = b'0' + (k / 10 % 10) as u8;
        w += 1;
    }
    out[w] = b'0' + (k % 10) as u8;
    out[w + 1] = b'"';
    w + 2
}

/// The list a marker string names, `~k` with `k` below `lists` (as [`write_marker`] prints it).
#[inline(always)]
pub(crate) fn marker_index(mark: &str, lists: usize) -> Option<usize> {
    let digit = |b: u8| b.is_ascii_digit().then(|| usize::from(b - b'0'));
    let k = match *mark.as_bytes() {
        [MARK, d] => digit(d)?,
        [MARK, t, d] if t != b'0' => digit(t)? * 10 + digit(d)?,
        _ => return None,
    };
    (k < lists).then_some(k)
}

/// The bits of `lists` lists all taken.
#[inline(always)]
pub(crate) fn all_bits(lists: usize) -> u64 {
    match lists {
        MAX_LISTS.. => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

/// Which lists a venue's frames have lifted: those under one of `keys` (each the key's bytes
/// with quotes and colon, `b"\"b\":"`), whose levels are `arity` strings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiftSpec {
    /// The list keys.
    pub(crate) keys: &'static [&'static [u8]],
    /// Strings a level.
    pub(crate) arity: usize,
}

/// The reused vectors of [`lift_string_lists`].
#[derive(Debug)]
pub(crate) struct LiftedLists {
    /// Each lifted string's `[start, end)` in the frame, level after level.
    texts: Vec<[u32; 2]>,
    /// Each lifted list as a range of `texts`.
    lists: Vec<(u32, u32)>,
    /// Finds where a list of string arrays opens.
    opening: memchr::memmem::Finder<'static>,
}

impl LiftedLists {
    /// Vectors for frames of up to about `levels` levels (they grow if a frame has more).
    pub(crate) fn with_capacity(levels: usize) -> Self {
        Self {
            texts: Vec::with_capacity(4 * levels),
            lists: Vec::with_capacity(MAX_LISTS),
            opening: memchr::memmem::Finder::new(b"[[\""),
        }
    }

    /// Nothing lifted.
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.texts.clear();
        self.lists.clear();
    }

    /// Lists noted so far.
    #[inline(always)]
    pub(crate) fn list_count(&self) -> usize {
        self.lists.len()
    }

    /// For a venue's own pre-pass (Kraken's number objects): notes one level's texts, each a
    /// `[start, end)` range of the frame (below `u32::MAX`: the caller checked the frame's
    /// length), in the list being noted.
    #[inline(always)]
    pub(crate) fn push_level<const N: usize>(&mut self, texts: [[u32; 2]; N]) {
        self.texts.extend_from_slice(&texts);
    }

    /// For a venue's own pre-pass: ends the list whose levels were pushed since `first` (the
    /// text count when it began, [`Self::text_count`]); its marker is `"~k"`, k = the lists
    /// noted before it.
    #[inline(always)]
    pub(crate) fn close_list(&mut self, first: usize) {
        self.lists.push((first as u32, self.texts.len() as u32));
    }

    /// Texts noted so far (where the next list's levels will begin).
    #[inline(always)]
    pub(crate) fn text_count(&self) -> usize {
        self.texts.len()
    }

    /// What the walk of `frame` reads (after [`lift_string_lists`] of it, or cleared).
    #[inline]
    pub(crate) fn of<'a>(&'a self, frame: &'a [u8], arity: usize) -> Lifted<'a> {
        Lifted { frame, texts: &self.texts, lists: &self.lists, arity: arity.max(1), taken: Cell::new(0) }
    }
}

/// Copies `frame` to the start of `buf` with the level lists `spec` names lifted out (see the
/// module doc), noting them in `lifted`; returns the copy's length, or `None` if the frame is
/// not lifted (nothing written that the caller may use: it copies the frame plainly). `buf` is
/// kept at least the copy's length plus [`simd_json::INPUT_PADDING`] long.
#[inline]
pub(crate) fn lift_string_lists(
    frame: &[u8],
    buf: &mut Vec<u8>,
    spec: &LiftSpec,
    lifted: &mut LiftedLists,
) -> Option<usize> {
    lifted.clear();
    let first_open = lifted.opening.find(frame)?;
    if u32::try_from(frame.len()).is_err() || memchr::memchr2(MARK, b'\\', frame).is_some() {
        return None;
    }
    // A lifted list is at least `[["x"]]`, 7 bytes, its marker at most 5: the copy is never
    // longer than the frame.
    let bound = frame.len() + simd_json::INPUT_PADDING;
    if buf.len() < bound {
        buf.resize(bound, b' ');
    }
    let out = buf.as_mut_slice();
    let LiftedLists { texts, lists, opening } = lifted;
    let (mut w, mut copied, mut open) = (0, 0, first_open);
    loop {
        if spec.keys.iter().any(|key| frame[..open].ends_with(key)) {
            if lists.len() == MAX_LISTS {
                return None;
            }
            let first = texts.len();
            let end = scan_levels(frame, open + 1, spec.arity, texts)?;
            copy_short(out, w, &frame[copied..open]);
            w = write_marker(out, w + (open - copied), lists.len());
            // Below `u32::MAX`: the frame's length was checked.
            lists.push((first as u32, texts.len() as u32));
            copied = end;
        }
        let from = (open + 1).max(copied);
        match frame.get(from..).and_then(|rest| opening.find(rest)) {
            Some(k) => open = from + k,
            None => break,
        }
    }
    copy_short(out, w, &frame[copied..]);
    Some(w + (frame.len() - copied))
}

/// The levels of a list from its first level's `[` at `at`: each `arity` non-empty strings
/// (their ranges pushed to `texts`), levels separated by `,`, the list closed by `]`. The index
/// after the `]`, or `None` if the bytes are laid out any other way.
#[inline(always)]
fn scan_levels(frame: &[u8], mut at: usize, arity: usize, texts: &mut Vec<[u32; 2]>) -> Option<usize> {
    loop {
        if frame.get(at) != Some(&b'[') {
            return None;
        }
        at += 1;
        for e in 0..arity {
            if frame.get(at) != Some(&b'"') {
                return None;
            }
            let start = at + 1;
            let end = find_byte(frame, start, b'"')?;
            let sep = if e + 1 < arity { b',' } else { b']' };
            if end == start || frame.get(end + 1) != Some(&sep) {
                return None;
            }
            texts.push([start as u32, end as u32]);
            at = end + 2;
        }
        match frame.get(at) {
            Some(b',') => at += 1,
            Some(b']') => return Some(at + 1),
            _ => return None,
        }
    }
}

/// The levels of the list at `at`, each as its `N` texts: the lifted list its marker names
/// ([`Lifted::take_levels`]), or an array whose levels are each an array of exactly `N` strings. `WrongType(key)`
/// for anything else — at once for the list, or as a level's `None`. The level walk of the venues
/// whose levels are string arrays of one length (Binance spot and USD-M, Bybit: 2; KuCoin: 3).
///
/// An iterator rather than a callback: the caller's per-level code is then written once, inline,
/// where a callback called from both branches was compiled out of line (BENCHMARKS.md `feed_parse`, "Measured design choices").
#[inline(always)]
pub(crate) fn string_levels<'a, 'l, const N: usize>(
    nodes: &'l [Node<'a>],
    lifted: &'l Lifted<'a>,
    at: usize,
    key: &'static str,
) -> Result<StringLevels<'a, 'l, N>, ParseError> {
    match nodes.get(at) {
        Some(Node::String(mark)) => lifted.take_levels(mark, key),
        Some(Node::Array { len, count }) => {
            // Every level is exactly N + 1 nodes (`[` and its strings); sliced once here.
            let level_nodes = nodes.get(at + 1..at + 1 + *count).ok_or(ParseError::WrongType(key))?;
            if *count != (N + 1) * *len {
                return Err(ParseError::WrongType(key));
            }
            Ok(StringLevels::Tape { levels: level_nodes.chunks_exact(N + 1) })
        }
        _ => Err(ParseError::WrongType(key)),
    }
}

/// The levels [`string_levels`] yields: `Some` texts, or `None` for a level of another shape.
pub(crate) enum StringLevels<'a, 'l, const N: usize> {
    /// A lifted list's string ranges, level after level.
    Lifted { levels: std::slice::ChunksExact<'l, [u32; 2]>, lifted: &'l Lifted<'a> },
    /// An array's level nodes.
    Tape { levels: std::slice::ChunksExact<'l, Node<'a>> },
}

impl<'a, const N: usize> Iterator for StringLevels<'a, '_, N> {
    type Item = Option<[&'a [u8]; N]>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Lifted { levels, lifted } => {
                let level = levels.next()?;
                let Some(ranges) = level.first_chunk::<N>() else { return Some(None) };
                // Filled in a loop: `[T; N]::map` went through an out-of-line `try_map`
                // (BENCHMARKS.md `feed_parse`, "Measured design choices").
                let mut texts: [&'a [u8]; N] = [&[]; N];
                for (text, &range) in texts.iter_mut().zip(ranges) {
                    *text = lifted.text(range);
                }
                Some(Some(texts))
            }
            Self::Tape { levels } => {
                let level = levels.next()?;
                let Some((Node::Array { len, .. }, strings)) = level.split_first() else { return Some(None) };
                if *len != N {
                    return Some(None);
                }
                let mut texts: [&'a [u8]; N] = [&[]; N];
                for (text, node) in texts.iter_mut().zip(strings) {
                    let Node::String(s) = node else { return Some(None) };
                    *text = s.as_bytes();
                }
                Some(Some(texts))
            }
        }
    }
}

/// The lifted lists of one frame as the walk reads them.
#[derive(Debug)]
pub(crate) struct Lifted<'a> {
    frame: &'a [u8],
    texts: &'a [[u32; 2]],
    lists: &'a [(u32, u32)],
    arity: usize,
    /// One bit per list taken.
    taken: Cell<u64>,
}

impl<'a> Lifted<'a> {
    /// The frame's bytes in `range` (empty if out of it, which the lifting rules out).
    #[inline(always)]
    pub(crate) fn text(&self, [start, end]: [u32; 2]) -> &'a [u8] {
        self.frame.get(start as usize..end as usize).unwrap_or(&[])
    }

    /// The string ranges of the list `mark` names, level after level (the spec's arity a level),
    /// marking it taken; `None` if `mark` is no marker of this frame or was taken already.
    #[inline(always)]
    pub(crate) fn take(&self, mark: &str) -> Option<&'a [[u32; 2]]> {
        let k = marker_index(mark, self.lists.len())?;
        let taken = self.taken.get();
        if taken & (1 << k) != 0 {
            return None;
        }
        self.taken.set(taken | 1 << k);
        let (first, end) = self.lists[k];
        self.texts.get(first as usize..end as usize)
    }

    /// The levels of the list `mark` names, each as its first `N` texts, taking it;
    /// `WrongType(key)` if `mark` is no untaken marker of this frame.
    #[inline(always)]
    pub(crate) fn take_levels<const N: usize>(
        &self,
        mark: &str,
        key: &'static str,
    ) -> Result<StringLevels<'a, '_, N>, ParseError> {
        let texts = self.take(mark).ok_or(ParseError::WrongType(key))?;
        Ok(StringLevels::Lifted { levels: texts.chunks_exact(self.arity), lifted: self })
    }

    /// Levels of the list `mark` names (0 for anything else), without taking it.
    #[inline(always)]
    pub(crate) fn levels(&self, mark: &str) -> usize {
        marker_index(mark, self.lists.len()).map_or(0, |k| {
            let (first, end) = self.lists[k];
            (end - first) as usize / self.arity
        })
    }

    /// Whether the walk took every lifted list.
    #[inline(always)]
    pub(crate) fn all_taken(&self) -> bool {
        self.taken.get() == all_bits(self.lists.len())
    }
}

/// What the venue parsers' tests compare the lifted and the plain route on.
#[cfg(test)]
pub(crate) mod testing {
    use qt_core::{Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Venue};

    /// The first `lines` frames of a capture, each also truncated at three points and with a
    /// byte of its first level lists (and of its middle) replaced by each of a few structural
    /// bytes: the frames the lifted route must read exactly as the plain route does.
    pub(crate) fn variants(capture: &str, lines: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for line in capture.lines().take(lines) {
            let frame = line.as_bytes();
            out.push(frame.to_vec());
            for cut in [frame.len() / 3, frame.len() / 2, frame.len() - 1] {
                out.push(frame[..cut].to_vec());
            }
            let open = frame.windows(3).position(|w| w == b"[[\"").unwrap_or(frame.len() / 2);
            for at in [open, open + 1, open + 2, open + 5, open + 12, frame.len() / 2] {
                for byte in [b'"', b']', b',', b'[', b' ', b'~'] {
                    if at < frame.len() {
                        let mut changed = frame.to_vec();
                        changed[at] = byte;
                        out.push(changed);
                    }
                }
            }
        }
        out
    }

    /// Runs every one of [`variants`] of the first `lines` frames of `testdata/<capture>`
    /// through `parse` with `parsers[0]` (lifting) and `parsers[1]` (the caller stopped its
    /// lifting): both must refuse a frame (`None`) or read it alike, and at least `lines` must
    /// be read.
    pub(crate) fn assert_routes_agree<P, R: PartialEq + std::fmt::Debug>(
        capture: &str,
        lines: usize,
        mut parsers: [P; 2],
        mut parse: impl FnMut(&mut P, &[u8]) -> Option<R>,
    ) {
        let path = format!("{}/../testdata/{capture}", env!("CARGO_MANIFEST_DIR"));
        let capture = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let [lifted, plain] = &mut parsers;
        let mut accepted = 0;
        for frame in variants(&capture, lines) {
            let (by_lifting, by_plain) = (parse(lifted, &frame), parse(plain, &frame));
            assert_eq!(by_lifting, by_plain, "{}", String::from_utf8_lossy(&frame));
            accepted += usize::from(by_lifting.is_some());
        }
        assert!(accepted >= lines, "{accepted} accepted");
    }

    /// Spot instruments of `venue`, `(symbol, tick, lot)` each, numbered from 0.
    pub(crate) fn instruments(venue: Venue, grids: &[(&str, &str, &str)]) -> Vec<Instrument> {
        grids.iter().zip(0..).map(|(&(symbol, tick, lot), id)| instrument(venue, id, symbol, tick, lot)).collect()
    }

    /// A spot instrument of `venue` on the given grid.
    pub(crate) fn instrument(venue: Venue, id: u32, symbol: &str, tick: &str, lot: &str) -> Instrument {
        let spec = InstrumentSpec {
            venue,
            symbol: symbol.into(),
            base: "B".into(),
            quote: "Q".into(),
            kind: InstrumentKind::Spot,
            tick_size: tick.into(),
            lot_size: lot.into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        Instrument::from_spec(InstrumentId(id), &spec).expect("instrument")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: LiftSpec = LiftSpec { keys: &[b"\"b\":", b"\"a\":"], arity: 2 };

    /// The copy and each lifted list's levels as texts.
    fn lift(frame: &str, spec: &LiftSpec) -> Option<(String, Vec<Vec<String>>)> {
        let (mut buf, mut lists) = (Vec::new(), LiftedLists::with_capacity(4));
        let len = lift_string_lists(frame.as_bytes(), &mut buf, spec, &mut lists)?;
        assert!(buf.len() >= len + simd_json::INPUT_PADDING);
        let lifted = lists.of(frame.as_bytes(), spec.arity);
        let texts = lists
            .lists
            .iter()
            .map(|&(a, b)| {
                lists.texts[a as usize..b as usize]
                    .iter()
                    .map(|&r| String::from_utf8(lifted.text(r).to_vec()).unwrap())
                    .collect()
            })
            .collect();
        Some((String::from_utf8(buf[..len].to_vec()).unwrap(), texts))
    }

    #[test]
    fn lists_under_the_keys_are_lifted_and_nothing_else() {
        let frame = r#"{"s":"X","b":[["1.5","2"],["1.4","0"]],"x":[["9","9"]],"a":[],"c":{"a":[["7","8"]]}}"#;
        let (copy, texts) = lift(frame, &PAIRS).expect("lifted");
        assert_eq!(copy, r#"{"s":"X","b":"~0","x":[["9","9"]],"a":[],"c":{"a":"~1"}}"#);
        assert_eq!(texts, [vec!["1.5", "2", "1.4", "0"], vec!["7", "8"]]);
        let triples = LiftSpec { keys: &[b"\"asks\":"], arity: 3 };
        let (copy, texts) = lift(r#"{"asks":[["1","2","3"]]}"#, &triples).expect("lifted");
        assert_eq!((copy.as_str(), texts), (r#"{"asks":"~0"}"#, vec![vec!["1".to_string(), "2".into(), "3".into()]]));
        // Nothing to lift, a mark or a backslash anywhere, a layout other than exactly so.
        for other in [
            r#"{"b":[]}"#,
            r#"{"b":[["1","2"]],"s":"~"}"#,
            r#"{"b":[["1","2"]],"s":"\u0041"}"#,
            r#"{"b":[["1","2"] ]}"#,
            r#"{"b":[["1","2"],[ "1","2"]]}"#,
            r#"{"b":[["1","2","3"]]}"#,
            r#"{"b":[["1"]]}"#,
            r#"{"b":[["1",""]]}"#,
            r#"{"b":[["1",2]]}"#,
            r#"{"b":[["1","2"]"#,
        ] {
            let lifted = lift(other, &PAIRS);
            assert!(lifted.is_none() || other == r#"{"b":[]}"#, "{other}: {lifted:?}");
        }
        // A list of lists of lists is no level list: left in place.
        assert_eq!(lift(r#"{"b":[[["1","2"]]]}"#, &PAIRS).map(|l| l.0), Some(r#"{"b":[[["1","2"]]]}"#.into()));
        // More lists than the walk can mark.
        let many = (0..=MAX_LISTS).map(|_| r#""b":[["1","2"]]"#).collect::<Vec<_>>().join(",");
        assert_eq!(lift(&format!("{{{many}}}"), &PAIRS), None);
        let many = (0..MAX_LISTS).map(|_| r#""b":[["1","2"]]"#).collect::<Vec<_>>().join(",");
        assert!(lift(&format!("{{{many}}}"), &PAIRS).unwrap().0.ends_with(r#""b":"~62","b":"~63"}"#));
    }

    #[test]
    fn each_marker_is_taken_once_and_all_must_be() {
        let frame = br#"{"b":[["1.5","2"]],"a":[["1.6","3"],["1.7","4"]]}"#;
        let (mut buf, mut lists) = (Vec::new(), LiftedLists::with_capacity(4));
        lift_string_lists(frame, &mut buf, &PAIRS, &mut lists).expect("lifted");
        let lifted = lists.of(frame, 2);
        assert_eq!((lifted.levels("~0"), lifted.levels("~1"), lifted.levels("~2")), (1, 2, 0));
        assert!(!lifted.all_taken());
        assert_eq!(lifted.take("~1").map(|t| t.len()), Some(4));
        assert_eq!(lifted.take("~1"), None, "taken twice");
        for bad in ["~2", "~01", "~", "0", "~x", "~1x"] {
            assert_eq!(lifted.take(bad), None, "{bad}");
        }
        assert!(!lifted.all_taken());
        assert!(lifted.take("~0").is_some());
        assert!(lifted.all_taken());
    }

    #[test]
    fn markers_read_back_as_written() {
        for k in 0..MAX_LISTS {
            let mut out = [0u8; 8];
            let end = write_marker(&mut out, 1, k);
            let text = std::str::from_utf8(&out[2..end - 1]).unwrap();
            assert_eq!((out[1], out[end - 1]), (b'"', b'"'));
            assert_eq!(marker_index(text, MAX_LISTS), Some(k), "{text}");
            assert_eq!(marker_index(text, k), None, "{text}");
        }
        assert_eq!(all_bits(0), 0);
        assert_eq!(all_bits(3), 0b111);
        assert_eq!(all_bits(MAX_LISTS), u64::MAX);
    }

    proptest::proptest! {
        /// Whatever a frame stitched from level lists and other values, with a byte changed
        /// anywhere: if it is lifted, simd-json accepts the copy exactly when it accepts the
        /// frame, and the lifted texts are the strings of the lists the frame has there.
        #[test]
        fn the_copy_is_json_exactly_when_the_frame_is(
            parts in proptest::collection::vec(0usize..8, 1..8),
            flip in proptest::option::of((0usize..200, proptest::sample::select(vec![b'"', b'[', b']', b',', b' ', b'1', b'~']))),
        ) {
            const PARTS: [&str; 8] = [
                r#""b":[["1.5","2"]]"#,
                r#""a":[["1.6","3"],["1.7","0"]]"#,
                r#""b":[]"#,
                r#""s":"BTC""#,
                r#""x":[["1","2"]]"#,
                r#""c":{"a":[["9","9"]]}"#,
                r#""u":17"#,
                r#""a":[["1","2"],[3]]"#,
            ];
            let mut frame = format!("{{{}}}", parts.iter().map(|&k| PARTS[k]).collect::<Vec<_>>().join(",")).into_bytes();
            if let Some((at, byte)) = flip && at < frame.len() {
                frame[at] = byte;
            }
            let (mut buf, mut lists) = (Vec::new(), LiftedLists::with_capacity(4));
            if let Some(len) = lift_string_lists(&frame, &mut buf, &PAIRS, &mut lists) {
                let copy_ok = simd_json::to_borrowed_value(&mut buf[..len].to_vec()).is_ok();
                let frame_ok = simd_json::to_borrowed_value(&mut frame.clone()).is_ok();
                proptest::prop_assert_eq!(copy_ok, frame_ok, "{}", String::from_utf8_lossy(&frame));
                let lifted = lists.of(&frame, 2);
                for &(a, b) in &lists.lists {
                    for &r in &lists.texts[a as usize..b as usize] {
                        let text = lifted.text(r);
                        proptest::prop_assert!(!text.is_empty() && !text.contains(&b'"'));
                    }
                }
            }
        }
    }
}
