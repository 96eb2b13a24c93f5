//! The checksum venues' shadow order book (OKX, Kraken): one depth-limited, preallocated, sorted
//! array per side in exact integers, each level also holding its piece of the venue's checksum
//! input — for OKX the price and size text exactly as sent, because OKX's checksum is a CRC32
//! over those strings (not over a re-formatting: `"8477"` and `"8477.0"` are the same price but
//! different checksum input); for Kraken the digits its checksum formats.
//!
//! Also [`Crc32`] and [`PieceCrc`], the IEEE/zlib CRC32 both checksums use, gathered from the
//! levels' pieces. Each venue's checksum rule (which levels, in which order) is its own
//! (`crate::okx::rules`, `crate::kraken::rules`).
//!
//! A message is applied whole and then trimmed to the depth ([`SideBook::apply`] per level,
//! [`SideBook::trim`] at its end), never trimmed per level: see [`SideBook`].
//!
//! Thread and contract: owned by the core thread through its decoder. Storage is allocated in
//! [`SideBook::with_depth`]; applying and trimming never allocate, never block, never panic.

use crate::kit::bytes::copy_short;
use qt_core::book::touch_search;

/// Longest price or size text kept inline; longer text is refused by the parser.
pub const MAX_TEXT: usize = 24;

/// Capacity of a level's checksum text `px:sz:`.
const LEVEL_TEXT: usize = 2 * MAX_TEXT + 2;

/// Capacity of a level's checksum piece ([`Level::from_piece`]).
pub const PIECE_CAPACITY: usize = LEVEL_TEXT;

/// Bytes gathered before they are fed to the CRC.
pub(crate) const CRC_CHUNK: usize = 1024;

/// One book level: exact integers on the instrument's grid plus the wire text, kept pre-joined
/// as the level's piece of OKX's checksum input, `px:sz:`.
///
/// Pre-joined because the checksum reads the top 25 levels per side on every message while a
/// message changes ~10: the checksum copies one fixed block a level instead of two texts and two
/// colons. Callgrind on `benches/feed_parse.rs`'s OKX stream: see BENCHMARKS.md `feed_parse`,
/// round 4.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Price in instrument units.
    pub price: i64,
    /// Size in instrument units; zero in an update deletes the level.
    pub qty: i64,
    /// `px:sz:` as sent; the rest of the block is zero.
    text: [u8; LEVEL_TEXT],
    /// Bytes of `text` in use (0 for a level without text).
    text_len: u8,
    /// Bytes of the price text.
    px_len: u8,
}

impl std::fmt::Debug for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Level")
            .field("price", &self.price)
            .field("qty", &self.qty)
            .field("px", &String::from_utf8_lossy(self.px()))
            .field("sz", &String::from_utf8_lossy(self.sz()))
            .field("piece", &String::from_utf8_lossy(self.piece()))
            .finish()
    }
}

impl Level {
    /// A level with its wire text (`px`, `sz` exactly as the venue sent them), or `None` if
    /// either is longer than [`MAX_TEXT`].
    #[inline(always)]
    pub fn new(price: i64, qty: i64, px: &[u8], sz: &[u8]) -> Option<Self> {
        if px.len() > MAX_TEXT || sz.len() > MAX_TEXT {
            return None;
        }
        let mut text = [0u8; LEVEL_TEXT];
        copy_short(&mut text, 0, px);
        text[px.len()] = b':';
        copy_short(&mut text, px.len() + 1, sz);
        let len = px.len() + 1 + sz.len();
        text[len] = b':';
        Some(Self { price, qty, text, text_len: (len + 1) as u8, px_len: px.len() as u8 })
    }

    /// A level whose checksum piece is `piece[..len]` (`len` is clamped to the capacity), a
    /// venue-specific text rather than OKX's `px:sz:` (Kraken: the price's then the quantity's
    /// checksum digits); [`Self::px`] and [`Self::sz`] are empty for it.
    #[inline(always)]
    pub fn from_piece(price: i64, qty: i64, piece: [u8; PIECE_CAPACITY], len: usize) -> Self {
        Self { price, qty, text: piece, text_len: len.min(PIECE_CAPACITY) as u8, px_len: 0 }
    }

    /// The level's piece of its venue's checksum input (`px:sz:` for OKX).
    #[inline]
    pub fn piece(&self) -> &[u8] {
        &self.text[..usize::from(self.text_len)]
    }

    /// A level without wire text (a venue whose checksum is computed from the integers).
    #[inline]
    pub const fn without_text(price: i64, qty: i64) -> Self {
        Self { price, qty, text: [0; LEVEL_TEXT], text_len: 0, px_len: 0 }
    }

    /// The price text as sent.
    #[inline]
    pub fn px(&self) -> &[u8] {
        &self.text[..usize::from(self.px_len)]
    }

    /// The size text as sent.
    #[inline]
    pub fn sz(&self) -> &[u8] {
        if self.px_len == 0 {
            // No wire text (an OKX price is never empty), or a venue piece.
            return &[];
        }
        let end = usize::from(self.text_len).saturating_sub(1);
        self.text.get(usize::from(self.px_len) + 1..end).unwrap_or(&[])
    }
}

/// One side of a book of `depth` levels, iterated best first.
///
/// **A message is applied whole, then trimmed** ([`Self::apply`] for each of its levels, then
/// [`Self::trim`] once): `apply` never drops a level, so the side may hold more than `depth`
/// levels in between, and `trim` then drops the worst beyond `depth`. Trimming after each level
/// instead loses levels: an update that inserts one level and then deletes another (legal, and
/// how Kraken sends it) would drop the worst level at the insert, and the delete would leave the
/// side a level short of the venue's — Kraken's rule is "apply the whole message, truncate to
/// the subscribed depth, then verify the checksum" (docs.kraken.com "book checksum v2"), and OKX
/// (no subscribed depth; `depth` is our bound on the shadow book) is served the same way.
///
/// Stored in one preallocated array of [`SLOTS_PER_LEVEL`]` × depth` slots with the live levels
/// in `lo..hi`, the best at `hi - 1` (bids ascending, asks descending in memory): an insert or
/// delete near the top — where venue updates land — shifts only the few levels above it, and
/// trimming is `lo += excess`, no move at all. When an insert finds no free slot above `hi`,
/// the live range is first moved down to slot 0 (at most once per `2 × depth` inserts). So a
/// message that adds up to `2 × depth` levels to a side — far more than a venue update does —
/// is applied exactly without allocating; only if one message brings more while every slot is
/// taken is the worst level dropped at once (which still ends right unless the same message
/// then deletes more than `2 × depth` levels above it).
///
/// Replaced a `VecDeque` (best at the front, shifting the shorter half): its `insert`/`remove`
/// went through `wrap_copy` and a `memcpy` call on every shift (BENCHMARKS.md `feed_parse`, "Measured design choices";
/// round 4).
#[derive(Debug, Clone)]
pub struct SideBook {
    slots: Vec<Level>,
    lo: usize,
    hi: usize,
    depth: usize,
    bids: bool,
}

/// Slots a [`SideBook`] preallocates per level of its depth: `depth` kept after a message, room
/// for `2 × depth` more that one message may add before it is trimmed.
pub const SLOTS_PER_LEVEL: usize = 3;

/// Levels best first: the live slots in reverse.
pub type Levels<'a> = std::iter::Rev<std::slice::Iter<'a, Level>>;

impl SideBook {
    /// An empty side keeping `depth` levels after each message (its storage allocated here,
    /// once).
    pub fn with_depth(depth: usize, bids: bool) -> Self {
        let depth = depth.max(1);
        Self { slots: vec![Level::without_text(0, 0); SLOTS_PER_LEVEL * depth], lo: 0, hi: 0, depth, bids }
    }

    /// The levels kept after [`Self::trim`].
    #[inline]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Removes every level (keeps the allocation).
    #[inline]
    pub fn clear(&mut self) {
        self.lo = 0;
        self.hi = 0;
    }

    #[inline]
    fn live(&self) -> &[Level] {
        &self.slots[self.lo..self.hi]
    }

    /// Levels, best first.
    #[inline]
    pub fn iter(&self) -> Levels<'_> {
        self.live().iter().rev()
    }

    /// The `i`-th best level.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Level> {
        let live = self.live();
        live.len().checked_sub(i + 1).map(|j| &live[j])
    }

    /// Number of levels (more than the depth only between a message's levels and its
    /// [`Self::trim`]).
    #[inline]
    pub fn len(&self) -> usize {
        self.hi - self.lo
    }

    /// Whether the side is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.hi == self.lo
    }

    /// Slot of `price` (`Ok`) or the slot it would be inserted at, pushing the levels from there
    /// up (`Err`, in `lo..=hi`): the engine book's search ([`touch_search`]: the best level, the
    /// 16 at the touch without a branch, then a binary search of the rest). Callgrind and wall
    /// time against the step-down scan over 32 levels it replaced: BENCHMARKS.md `feed_parse`,
    /// round 7.
    #[inline]
    fn search(&self, price: i64) -> Result<usize, usize> {
        let live = &self.slots[self.lo..self.hi];
        let found = if self.bids {
            touch_search(live, price, |l| l.price, |l| l.price > price)
        } else {
            touch_search(live, price, |l| l.price, |l| l.price < price)
        };
        found.map(|j| self.lo + j).map_err(|j| self.lo + j)
    }

    /// Sets the level at `level.price` (size zero deletes it; an unknown price with size zero
    /// is a no-op). Nothing is dropped for depth here: the message's last level is followed by
    /// [`Self::trim`] (see the type's doc).
    ///
    /// By reference: the 72-byte level is copied once, into the side, not first onto the stack
    /// as an argument.
    #[inline]
    pub fn apply(&mut self, level: &Level) {
        match self.search(level.price) {
            Ok(i) if level.qty == 0 => {
                self.slots.copy_within(i + 1..self.hi, i);
                self.hi -= 1;
            }
            Ok(i) => self.slots[i] = *level,
            Err(_) if level.qty == 0 => {}
            Err(i) => {
                let mut i = i;
                if self.hi == self.slots.len() {
                    match self.make_room(i) {
                        Some(moved) => i = moved,
                        None => return,
                    }
                }
                self.slots.copy_within(i..self.hi, i + 1);
                self.slots[i] = *level;
                self.hi += 1;
            }
        }
    }

    /// Frees the slot above `hi` for an insert at `i`: moves the live range down to slot 0 and
    /// returns where `i` went; if every slot holds a level (one message added more than
    /// `2 × depth`), drops the worst first, or returns `None` when the new level at `i` would
    /// itself be the worst.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, i: usize) -> Option<usize> {
        if self.lo == 0 {
            if i == 0 {
                return None;
            }
            self.lo = 1;
        }
        let shift = self.lo;
        self.slots.copy_within(self.lo..self.hi, 0);
        self.lo = 0;
        self.hi -= shift;
        Some(i - shift)
    }

    /// Ends a message: drops the levels beyond the depth (the venue sends no delete for levels
    /// falling out of it) and returns them, worst first. O(1): the range's start moves up; the
    /// returned levels stay readable in their slots until the side next changes.
    #[inline]
    pub fn trim(&mut self) -> &[Level] {
        let excess = self.len().saturating_sub(self.depth);
        let from = self.lo;
        self.lo += excess;
        &self.slots[from..self.lo]
    }

    /// The last `n` levels [`Self::trim`] dropped (`n` at most the length of what it returned),
    /// worst first, read again from their slots: valid until the side next changes.
    #[inline]
    pub fn trimmed(&self, n: usize) -> &[Level] {
        &self.slots[self.lo.saturating_sub(n)..self.lo]
    }
}

/// IEEE 802.3 / zlib CRC32 (the checksum OKX and Kraken specify), computed by `crc32fast`
/// (hardware-accelerated where the CPU has it).
#[derive(Debug, Clone)]
pub struct Crc32(crc32fast::Hasher);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A fresh CRC.
    #[inline]
    pub fn new() -> Self {
        Self(crc32fast::Hasher::new())
    }

    /// Feeds `bytes`.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Back to a fresh CRC (keeping the CPU feature detection `new` does).
    #[inline]
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// The CRC of everything fed.
    #[inline]
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// The CRC32 of the levels' checksum pieces ([`Level::piece`]) joined in the order pushed,
/// gathered in a small stack buffer that is fed to the CRC whenever it holds `CRC_CHUNK` bytes
/// or more (one fixed-size copy of each level's whole piece block, then the write position
/// advances by the piece's length). Shared by the OKX and Kraken checksums.
#[derive(Debug, Clone)]
pub struct PieceCrc {
    text: [u8; CHECKSUM_BUFFER],
    n: usize,
    crc: Crc32,
}

impl Default for PieceCrc {
    fn default() -> Self {
        Self::new()
    }
}

impl PieceCrc {
    /// Nothing pushed yet.
    #[inline(always)]
    pub fn new() -> Self {
        Self { text: [0; CHECKSUM_BUFFER], n: 0, crc: Crc32::new() }
    }

    /// Back to nothing pushed (the buffer's old bytes stay; only what is pushed is read).
    #[inline(always)]
    pub fn reset(&mut self) {
        self.n = 0;
        self.crc.reset();
    }

    /// Appends `l`'s piece (first feeding the CRC if the buffer reached `CRC_CHUNK`). Always
    /// inlined, and the length clamped to the block size so the compiler sees every copy inside
    /// the buffer; an out-of-line version cost more (BENCHMARKS.md `feed_parse`, "Measured design choices").
    #[inline(always)]
    pub fn push(&mut self, l: &Level) {
        if self.n >= CRC_CHUNK {
            self.crc.update(&self.text[..self.n]);
            self.n = 0;
        }
        // n < CRC_CHUNK here, so the fixed-size copy stays inside CHECKSUM_BUFFER.
        let n = self.n;
        self.text[n..n + LEVEL_TEXT].copy_from_slice(&l.text);
        self.n = n + usize::from(l.text_len).min(LEVEL_TEXT);
    }

    /// The CRC of everything pushed, without its last `trim` bytes (OKX's trailing `:`). The
    /// last piece is always still in the buffer: it is flushed only before the next one.
    ///
    /// Takes `&mut self` rather than `self`: moving the ~330-byte value into the call was a
    /// `memcpy` per checksum (BENCHMARKS.md `feed_parse`, "Measured design choices").
    #[inline(always)]
    pub fn finish(&mut self, trim: usize) -> u32 {
        self.crc.update(&self.text[..self.n.saturating_sub(trim)]);
        self.crc.clone().finish()
    }
}

/// The checksum's stack buffer: a flush threshold plus one level's whole `px:sz:` block.
const CHECKSUM_BUFFER: usize = CRC_CHUNK + LEVEL_TEXT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }

    #[test]
    fn crc32_fed_in_pieces_equals_one_shot() {
        let data: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in 0..data.len() {
            let mut c = Crc32::new();
            c.update(&data[..len / 3]);
            c.update(&data[len / 3..len]);
            assert_eq!(c.finish(), crc32fast::hash(&data[..len]), "len {len}");
        }
    }

    fn prices(s: &SideBook) -> Vec<i64> {
        s.iter().map(|l| l.price).collect()
    }

    #[test]
    fn side_keeps_order_and_is_trimmed_to_its_depth_per_message() {
        let mut s = SideBook::with_depth(3, true);
        for p in [5, 9, 7, 1, 8] {
            s.apply(&Level::without_text(p, 1));
        }
        // Within the message nothing is dropped.
        assert_eq!(prices(&s), [9, 8, 7, 5, 1]);
        let dropped: Vec<i64> = s.trim().iter().map(|l| l.price).collect();
        assert_eq!(dropped, [1, 5], "worst first");
        assert_eq!(prices(&s), [9, 8, 7]);
        let again: Vec<i64> = s.trimmed(dropped.len()).iter().map(|l| l.price).collect();
        assert_eq!(again, dropped, "readable again until the side changes");
        assert_eq!(s.trimmed(1).iter().map(|l| l.price).collect::<Vec<_>>(), [5]);
        assert!(s.trim().is_empty());
        s.apply(&Level::without_text(8, 0));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn insert_then_delete_keeps_the_level_the_insert_pushed_past_the_depth() {
        for bids in [true, false] {
            let side = |p: i64| if bids { p } else { -p };
            let mut s = SideBook::with_depth(3, bids);
            for p in [9, 8, 7] {
                s.apply(&Level::without_text(side(p), 1));
            }
            s.trim();
            // Insert a better level, then delete the middle one: 7 stays (as in delete-first).
            s.apply(&Level::without_text(side(10), 1));
            s.apply(&Level::without_text(side(8), 0));
            assert!(s.trim().is_empty());
            assert_eq!(prices(&s), [10, 9, 7].map(side));
            // A level worse than all, then a delete above it: it stays too.
            s.apply(&Level::without_text(side(6), 1));
            s.apply(&Level::without_text(side(9), 0));
            assert!(s.trim().is_empty());
            assert_eq!(prices(&s), [10, 7, 6].map(side));
        }
    }

    #[test]
    fn a_message_adding_twice_the_depth_fits_and_beyond_drops_the_worst() {
        let mut s = SideBook::with_depth(2, false);
        // Fill the slots from the top so the live range reaches the end, then trim (lo moves up).
        for p in 1..=6 {
            s.apply(&Level::without_text(p, 1));
        }
        assert_eq!(s.len(), 6, "2 + 2 × 2 levels without a drop");
        assert_eq!(s.trim().len(), 4);
        // The range is moved down for the next inserts: 4 more fit.
        for p in [0, -1, 7, 8] {
            s.apply(&Level::without_text(p, 1));
        }
        assert_eq!(prices(&s), [-1, 0, 1, 2, 7, 8]);
        // Every slot taken: a level worse than all is not kept, a better one drops the worst.
        s.apply(&Level::without_text(9, 1));
        s.apply(&Level::without_text(-2, 1));
        assert_eq!(prices(&s), [-2, -1, 0, 1, 2, 7]);
        let dropped: Vec<i64> = s.trim().iter().map(|l| l.price).collect();
        assert_eq!(dropped, [7, 2, 1, 0]);
        assert_eq!(prices(&s), [-2, -1]);
    }
}
