//! simd-json tape helpers shared by the venue decoders.
//!
//! All of them walk a borrowed tape (`&[Node]`) and allocate nothing: they are on the per-frame
//! hot path. Errors are the shared [`ParseError`].

use crate::kit::lift::{LiftSpec, Lifted, LiftedLists, lift_string_lists};
use crate::parse_error::{ParseError, StreamFailure};
use qt_core::decimal::parse_scaled_bytes;
use qt_core::{MarketEvent, Nanos, Price, Qty};
use simd_json::{Node, StaticNode};

/// Nodes a value starting at `i` occupies.
#[inline]
pub(crate) fn span(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes.get(i) {
        Some(Node::Object { count, .. } | Node::Array { count, .. }) => count + 1,
        _ => 1,
    }
}

/// Index of the first value of the object at `obj` whose key is `key`.
#[inline]
pub(crate) fn find_key(nodes: &[Node<'_>], obj: usize, key: &str) -> Option<usize> {
    let Some(Node::Object { len, .. }) = nodes.get(obj) else { return None };
    let mut i = obj + 1;
    for _ in 0..*len {
        let k = match nodes.get(i) {
            Some(Node::String(k)) => *k,
            _ => return None,
        };
        if k == key {
            return Some(i + 1);
        }
        i += 1 + span(nodes, i + 1);
    }
    None
}

/// One pass over the object at `obj`: for each of `keys` (distinct, non-empty), the index of its
/// first value (as [`find_key`] would return it), instead of one scan of the object per key.
///
/// A key of the object is first matched on its length and first byte — both constants once this
/// is inlined with literal `keys`, so the filter is two immediate compares per wanted key — and
/// only then compared whole; it stops at the first wanted key it equals. Callgrind on
/// `benches/feed_parse.rs` (20 000 messages), against comparing every key whole with every
/// wanted key: see BENCHMARKS.md `feed_parse`, round 4.
#[inline(always)]
pub(crate) fn fields<const N: usize>(nodes: &[Node<'_>], obj: usize, keys: [&str; N]) -> [Option<usize>; N] {
    let mut found = [None; N];
    let Some(Node::Object { len, .. }) = nodes.get(obj) else { return found };
    let mut i = obj + 1;
    for _ in 0..*len {
        let Some(Node::String(k)) = nodes.get(i) else { break };
        let k = k.as_bytes();
        if let Some(&first) = k.first() {
            for (slot, key) in found.iter_mut().zip(keys) {
                let key = key.as_bytes();
                if key.len() == k.len() && key.first() == Some(&first) && k == key {
                    if slot.is_none() {
                        *slot = Some(i + 1);
                    }
                    break;
                }
            }
        }
        i += 1 + span(nodes, i + 1);
    }
    found
}

/// The required non-negative JSON integer at `at` (a [`fields`] slot) for `key`.
#[inline]
pub(crate) fn u64_at(nodes: &[Node<'_>], at: Option<usize>, key: &'static str) -> Result<u64, ParseError> {
    match nodes.get(at.ok_or(ParseError::MissingField(key))?) {
        Some(Node::Static(StaticNode::U64(v))) => Ok(*v),
        Some(Node::Static(StaticNode::I64(v))) if *v >= 0 => Ok(*v as u64),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// The required JSON string at `at` (a [`fields`] slot) for `key`.
#[inline]
pub(crate) fn str_at<'a>(nodes: &[Node<'a>], at: Option<usize>, key: &'static str) -> Result<&'a str, ParseError> {
    match nodes.get(at.ok_or(ParseError::MissingField(key))?) {
        Some(Node::String(s)) => Ok(s),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// A required non-negative JSON integer.
#[inline]
pub(crate) fn get_u64(nodes: &[Node<'_>], obj: usize, key: &'static str) -> Result<u64, ParseError> {
    u64_at(nodes, find_key(nodes, obj, key), key)
}

/// A required JSON string.
#[inline]
pub(crate) fn get_str<'a>(nodes: &[Node<'a>], obj: usize, key: &'static str) -> Result<&'a str, ParseError> {
    str_at(nodes, find_key(nodes, obj, key), key)
}

/// A required JSON boolean.
#[inline]
pub(crate) fn get_bool(nodes: &[Node<'_>], obj: usize, key: &'static str) -> Result<bool, ParseError> {
    match nodes.get(find_key(nodes, obj, key).ok_or(ParseError::MissingField(key))?) {
        Some(Node::Static(StaticNode::Bool(b))) => Ok(*b),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// A non-negative decimal string as integer units at `scale`. Always inlined into the level
/// loops (see `qt_core::decimal::parse_scaled_bytes` for the measured effect).
#[inline(always)]
pub(crate) fn scaled(text: &str, scale: u8, key: &'static str) -> Result<i64, ParseError> {
    scaled_bytes(text.as_bytes(), scale, key)
}

/// [`scaled`] of a text's bytes (a level text lifted out of the frame, [`crate::kit::lift`]).
#[inline(always)]
pub(crate) fn scaled_bytes(text: &[u8], scale: u8, key: &'static str) -> Result<i64, ParseError> {
    match parse_scaled_bytes(text, scale) {
        Ok(units) if units >= 0 => Ok(units),
        _ => Err(ParseError::BadDecimal(key)),
    }
}

/// A non-negative decimal string as a [`Price`] at `scale`.
#[inline]
pub(crate) fn price(text: &str, scale: u8, key: &'static str) -> Result<Price, ParseError> {
    scaled(text, scale, key).map(Price::from_units)
}

/// A book level's price: a positive decimal string at `scale`. A level priced 0 is no level
/// (the book refuses it), so such a frame is refused here as a bad decimal.
#[inline]
pub(crate) fn level_price(text: &str, scale: u8, key: &'static str) -> Result<Price, ParseError> {
    level_price_bytes(text.as_bytes(), scale, key)
}

/// [`level_price`] of a text's bytes.
#[inline(always)]
pub(crate) fn level_price_bytes(text: &[u8], scale: u8, key: &'static str) -> Result<Price, ParseError> {
    match scaled_bytes(text, scale, key)? {
        0 => Err(ParseError::BadDecimal(key)),
        units => Ok(Price::from_units(units)),
    }
}

/// A non-negative decimal string as a [`Qty`] at `scale`.
#[inline]
pub(crate) fn qty(text: &str, scale: u8, key: &'static str) -> Result<Qty, ParseError> {
    scaled(text, scale, key).map(Qty::from_units)
}

/// [`qty`] of a text's bytes.
#[inline(always)]
pub(crate) fn qty_bytes(text: &[u8], scale: u8, key: &'static str) -> Result<Qty, ParseError> {
    scaled_bytes(text, scale, key).map(Qty::from_units)
}

/// Venue milliseconds → Unix nanoseconds (saturating).
#[inline]
pub(crate) fn ms_to_ns(ms: u64) -> Nanos {
    Nanos(i64::try_from(ms).unwrap_or(i64::MAX).saturating_mul(1_000_000))
}

/// The frame step of the stream parsers: `out` cleared, `frame` copied into `tape` (its level
/// lists lifted out where the tape was made [`TapeBuffers::lifting`]) and walked; a frame
/// simd-json refuses is `fail(Json)`, one whose walk left a lifted list untaken
/// `fail(Shape)`. On any refusal `out` is cleared again, so no half frame stays staged, and the
/// refusal goes through `refused`, which names the stream from the raw bytes where the walk could
/// not.
#[inline(always)]
pub(crate) fn parse_frame_with<P, F>(
    tape: &mut TapeBuffers,
    frame: &[u8],
    out: &mut Vec<MarketEvent>,
    fail: impl Fn(ParseError) -> F,
    walk: impl FnOnce(&[Node<'_>], &Lifted<'_>, &mut Vec<MarketEvent>) -> Result<P, F>,
    refused: impl FnOnce(F) -> F,
) -> Result<P, F> {
    out.clear();
    let result = match tape.parse_lifting(frame, |nodes, lifted| walk(nodes, lifted, out)) {
        None => Err(fail(ParseError::Json)),
        Some((Ok(_), false)) => Err(fail(ParseError::Shape)),
        Some((result, _)) => result,
    };
    result.map_err(|failure| {
        out.clear();
        refused(failure)
    })
}

/// [`parse_frame_with`] for the walks that name a refused frame's stream
/// ([`StreamFailure`]): a refusal the walk could not name is named from the raw bytes by
/// `recover` (cold).
#[inline(always)]
pub(crate) fn parse_named<P, K>(
    tape: &mut TapeBuffers,
    frame: &[u8],
    out: &mut Vec<MarketEvent>,
    walk: impl FnOnce(&[Node<'_>], &Lifted<'_>, &mut Vec<MarketEvent>) -> Result<P, StreamFailure<K>>,
    recover: impl FnOnce() -> Option<(usize, K)>,
) -> Result<P, StreamFailure<K>> {
    let unnamed = |error| StreamFailure { error, stream: None };
    parse_frame_with(tape, frame, out, unnamed, walk, |failure| match failure.stream {
        None => StreamFailure { stream: recover(), ..failure },
        Some(_) => failure,
    })
}

/// The reused buffers of one frame parser: the padded copy of the frame simd-json parses in place,
/// A decimal-digit string (`ts`, `tradeId`) as `u64`.
#[inline]
pub(crate) fn digits_u64(text: &str, key: &'static str) -> Result<u64, ParseError> {
    qt_core::decimal::parse_digits_u64(text.as_bytes()).ok_or(ParseError::WrongType(key))
}

/// simd-json's scratch buffers, and the tape. Allocated once; parsing reuses them.
pub(crate) struct TapeBuffers {
    /// The frame copy; a parser that rewrites the frame while copying (Kraken) fills it itself
    /// and calls [`TapeBuffers::parse_prefix`].
    pub(crate) buf: Vec<u8>,
    buffers: simd_json::Buffers,
    tape: simd_json::Tape<'static>,
    /// The level lists [`Self::parse_lifting`] lifts, if any.
    lift: Option<LiftSpec>,
    lifted: LiftedLists,
}

impl std::fmt::Debug for TapeBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapeBuffers").field("capacity", &self.buf.capacity()).finish()
    }
}

impl TapeBuffers {
    /// Buffers sized for frames of about `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut tape = simd_json::Tape::null().reset();
        tape.0.reserve(capacity / 4);
        Self {
            buf: Vec::with_capacity(capacity + simd_json::INPUT_PADDING),
            buffers: simd_json::Buffers::new(capacity),
            tape,
            lift: None,
            lifted: LiftedLists::with_capacity(0),
        }
    }

    /// [`Self::new`], lifting the level lists `spec` names out of each frame before simd-json
    /// parses it ([`crate::kit::lift`]); room for frames of about `levels` levels.
    pub(crate) fn lifting(capacity: usize, spec: LiftSpec, levels: usize) -> Self {
        Self { lift: Some(spec), lifted: LiftedLists::with_capacity(levels), ..Self::new(capacity) }
    }

    /// Stops lifting (the tests compare the two routes).
    #[cfg(test)]
    pub(crate) fn without_lifting(&mut self) {
        self.lift = None;
    }

    /// Copies `frame` — with the level lists of the tape's [`LiftSpec`] lifted out, where the
    /// frame allows it — parses it and hands the tape and the lifted lists to `walk`; `None` if
    /// it is not valid JSON, else the walk's result and whether it took every lifted list.
    #[inline]
    pub(crate) fn parse_lifting<T>(
        &mut self,
        frame: &[u8],
        walk: impl FnOnce(&[Node<'_>], &Lifted<'_>) -> T,
    ) -> Option<(T, bool)> {
        let lifted = match &self.lift {
            Some(spec) => lift_string_lists(frame, &mut self.buf, spec, &mut self.lifted),
            None => None,
        };
        let len = match lifted {
            Some(len) => len,
            None => {
                self.lifted.clear();
                self.copy_in(frame)
            }
        };
        let arity = self.lift.map_or(1, |spec| spec.arity);
        self.fill_and_walk(len + simd_json::INPUT_PADDING, len, |nodes, lists| {
            let lifted = lists.of(frame, arity);
            let result = walk(nodes, &lifted);
            (result, lifted.all_taken())
        })
    }

    /// Copies `frame` over the start of the buffer (see [`Self::parse`]); returns its length.
    #[inline]
    fn copy_in(&mut self, frame: &[u8]) -> usize {
        let len = frame.len();
        let padded = len + simd_json::INPUT_PADDING;
        if self.buf.len() < padded {
            self.buf.resize(padded, b' ');
        }
        self.buf[..len].copy_from_slice(frame);
        len
    }

    /// Copies `frame`, parses it and hands the tape to `walk`; `None` if it is not valid JSON.
    ///
    /// The frame is copied over the start of the buffer, which keeps the length of the largest
    /// frame seen plus [`simd_json::INPUT_PADDING`]: the padding after the frame is whatever an
    /// earlier frame left there, which `fill_tape_padded` allows ("padding with any content"),
    /// so it is not rewritten on every frame.
    #[inline]
    pub(crate) fn parse<T>(&mut self, frame: &[u8], walk: impl FnOnce(&[Node<'_>]) -> T) -> Option<T> {
        let len = self.copy_in(frame);
        self.fill_and_walk(len + simd_json::INPUT_PADDING, len, |nodes, _| walk(nodes))
    }

    /// Builds the tape of `buf[..len]` (`buf[len..padded]` is padding) and hands it, with the
    /// lifted lists, to `walk`.
    #[inline]
    fn fill_and_walk<T>(
        &mut self,
        padded: usize,
        len: usize,
        walk: impl FnOnce(&[Node<'_>], &LiftedLists) -> T,
    ) -> Option<T> {
        let mut t = std::mem::replace(&mut self.tape, simd_json::Tape(Vec::new())).reset::<'_>();
        let result = match simd_json::fill_tape_padded(&mut self.buf[..padded], len, &mut self.buffers, &mut t) {
            Ok(()) => Some(walk(&t.0, &self.lifted)),
            Err(_) => None,
        };
        self.tape = t.reset();
        result
    }

    /// Parses `buf[..len]`, a document the caller wrote there, having sized `buf` to at least
    /// `len +` [`simd_json::INPUT_PADDING`] (the padding may hold anything), and hands the tape
    /// to `walk`; `None` if it is not valid JSON or `buf` is too short.
    #[inline]
    pub(crate) fn parse_prefix<T>(&mut self, len: usize, walk: impl FnOnce(&[Node<'_>]) -> T) -> Option<T> {
        let padded = len.checked_add(simd_json::INPUT_PADDING)?;
        if self.buf.len() < padded {
            return None;
        }
        self.fill_and_walk(padded, len, |nodes, _| walk(nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_price_must_be_positive() {
        assert_eq!(level_price("7.5", 2, "b"), Ok(Price::from_units(750)));
        assert_eq!(level_price("0", 2, "b"), Err(ParseError::BadDecimal("b")));
        assert_eq!(level_price("0.000", 2, "b"), Err(ParseError::BadDecimal("b")));
        assert_eq!(level_price("-1", 2, "b"), Err(ParseError::BadDecimal("b")));
        // A plain price (a trade, a sequence-only KuCoin change) may still be zero.
        assert_eq!(price("0", 2, "p"), Ok(Price::ZERO));
    }
}
