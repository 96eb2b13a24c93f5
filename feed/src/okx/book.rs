//! The OKX decoder's shadow order book: one depth-limited, preallocated, sorted array per side
//! in exact integers, each level also holding the price and size text exactly as OKX sent it,
//! because OKX's checksum is a CRC32 over those strings (not over a re-formatting: `"8477"` and
//! `"8477.0"` are the same price but different checksum input).
//!
//! Also [`Crc32`], the IEEE/zlib CRC32 used by both the OKX and Kraken checksums.
//!
//! Thread and contract: owned by the core thread through its decoder. Capacity is allocated in
//! [`SideBook::with_capacity`]; applying levels never allocates, never blocks, never panics.

use std::collections::VecDeque;

/// Longest price or size text kept inline; longer text is refused by the parser.
pub const MAX_TEXT: usize = 24;

/// Decimal text as sent by the venue, inline (no heap).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text {
    len: u8,
    bytes: [u8; MAX_TEXT],
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::str::from_utf8(self.as_bytes()).unwrap_or("?"))
    }
}

impl Text {
    /// Empty text.
    pub const EMPTY: Text = Text { len: 0, bytes: [0; MAX_TEXT] };

    /// A copy of `s`, or `None` if it is longer than [`MAX_TEXT`].
    #[inline]
    pub fn new(s: &[u8]) -> Option<Self> {
        if s.len() > MAX_TEXT {
            return None;
        }
        let mut t = Self::EMPTY;
        t.bytes[..s.len()].copy_from_slice(s);
        t.len = s.len() as u8;
        Some(t)
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// One book level: exact integers on the instrument's grid plus the wire text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Price in instrument units.
    pub price: i64,
    /// Size in instrument units; zero in an update deletes the level.
    pub qty: i64,
    /// Price text as sent.
    pub px: Text,
    /// Size text as sent.
    pub sz: Text,
}

/// Levels [`SideBook`] scans one by one from the best before it binary-searches.
const TOUCH_SCAN: usize = 16;

/// One side of a book, best first (bids descending, asks ascending), at most `cap` levels.
///
/// A `VecDeque`: an insert or delete shifts the shorter half, so changes near the top of a
/// 400-level side (the common case) move a few levels, not the whole side, and dropping the
/// worst level is O(1). Measured on the OKX capture (24 levels per update, non-LTO release,
/// loaded 2-vCPU VM): decode + apply + checksum 6.6 µs per update with a `Vec`, 5.7 µs with
/// this deque (5.1 µs after the slicing-by-8 CRC).
#[derive(Debug, Clone)]
pub struct SideBook {
    levels: VecDeque<Level>,
    cap: usize,
    bids: bool,
}

impl SideBook {
    /// An empty side holding at most `cap` levels (allocated here, once).
    pub fn with_capacity(cap: usize, bids: bool) -> Self {
        Self { levels: VecDeque::with_capacity(cap + 1), cap, bids }
    }

    /// Removes every level (keeps the allocation).
    #[inline]
    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Levels, best first.
    #[inline]
    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, Level> {
        self.levels.iter()
    }

    /// The `i`-th best level.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Level> {
        self.levels.get(i)
    }

    /// Number of levels.
    #[inline]
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the side is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Index of `price` or where it goes: a scan from the best level over the top
    /// [`TOUCH_SCAN`] levels (where venue updates land), then a binary search of the whole side.
    /// The binary search over 400 levels was a 9-step dependent chain even for a change at the
    /// touch. Callgrind on the OKX stream of `benches/feed_parse.rs` (20 000 messages): search +
    /// apply 33.0 M → 28.3 M instructions; the wall-time effect is the one measured on
    /// `qt_core::Book`'s identical scan (`benches/book.rs` `top_heavy`: 52.9 → 22.2 ns a record).
    #[inline]
    fn search(&self, price: i64) -> Result<usize, usize> {
        // One compare per level: walk from the best while the level is better than `price`, over
        // the deque's contiguous slices (through the deque's iterator with `take`, `apply` took
        // 46.9 M instructions on 20 000 OKX messages; over the slices 25.8 M).
        let (front, back) = self.levels.as_slices();
        let head = &front[..front.len().min(TOUCH_SCAN)];
        let tail = &back[..back.len().min(TOUCH_SCAN - head.len())];
        let first_not_better = |levels: &[Level]| {
            if self.bids {
                levels.iter().position(|l| l.price <= price)
            } else {
                levels.iter().position(|l| l.price >= price)
            }
        };
        let stop = first_not_better(head).or_else(|| first_not_better(tail).map(|j| head.len() + j));
        match stop {
            Some(i) if self.levels.get(i).is_some_and(|l| l.price == price) => Ok(i),
            Some(i) => Err(i),
            // Worse than every level of a short side.
            None if head.len() + tail.len() == self.levels.len() => Err(self.levels.len()),
            None if self.bids => self.levels.binary_search_by(|l| price.cmp(&l.price)),
            None => self.levels.binary_search_by(|l| l.price.cmp(&price)),
        }
    }

    /// Sets the level at `level.price` (size zero deletes it; an unknown price with size zero
    /// is a no-op). A new level worse than `cap` others is dropped; a new level that pushes the
    /// side past `cap` drops the worst one (the venue sends no delete for levels falling out
    /// of its depth).
    ///
    /// By reference: the 72-byte level is copied once, into the side, not first onto the stack
    /// as an argument. Callgrind on the OKX stream of `benches/feed_parse.rs` (20 000 messages):
    /// 449.8 M → 444.2 M instructions in the decoder (22 491 → 22 211 a message; `apply`, 25.6 M
    /// out of line before, is now inlined into the decoder's loop).
    #[inline]
    pub fn apply(&mut self, level: &Level) {
        match self.search(level.price) {
            Ok(i) if level.qty == 0 => {
                self.levels.remove(i);
            }
            Ok(i) => self.levels[i] = *level,
            Err(_) if level.qty == 0 => {}
            Err(i) if i >= self.cap => {}
            Err(i) => {
                self.levels.insert(i, *level);
                if self.levels.len() > self.cap {
                    self.levels.pop_back();
                }
            }
        }
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

    /// The CRC of everything fed.
    #[inline]
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// Levels per side in OKX's checksum.
pub const CHECKSUM_DEPTH: usize = 25;

/// OKX `books` checksum: CRC32 over `bid1px:bid1sz:ask1px:ask1sz:bid2px:...` of the top
/// [`CHECKSUM_DEPTH`] levels per side (a side that runs out is skipped, the other continues),
/// using the strings as sent, as a signed 32-bit integer.
///
/// No string is built: the pieces are copied into a small stack buffer with fixed-size copies of
/// the whole inline [`Text`] (two vector moves, then the write position advances by the text's
/// length) and the buffer is fed to the CRC whenever it holds [`CRC_CHUNK`] bytes or more, so the
/// CRC runs on its carry-less-multiply path over long runs rather than its table path over
/// 5-byte pieces. Callgrind on the OKX stream of `benches/feed_parse.rs` (20 000 messages, 50
/// levels a checksum): the old version (a zeroed 2.5 kB stack string, four variable-length
/// copies a level, one CRC call) took 55.7 M instructions in the function plus 50.3 M in
/// `memset`, a share of 40 M in `memcpy` and 10.0 M in the CRC; this one 48.3 M, no `memset`,
/// 14.2 M in the CRC (`memcpy` for the whole decoder down to 14.0 M).
pub fn okx_checksum<'a>(bids: impl IntoIterator<Item = &'a Level>, asks: impl IntoIterator<Item = &'a Level>) -> i32 {
    let mut text = [0u8; CHECKSUM_BUFFER];
    let mut n = 0;
    let mut crc = Crc32::new();
    let mut bids = bids.into_iter().take(CHECKSUM_DEPTH);
    let mut asks = asks.into_iter().take(CHECKSUM_DEPTH);
    loop {
        let (b, a) = (bids.next(), asks.next());
        if b.is_none() && a.is_none() {
            break;
        }
        if let Some(l) = b {
            n = put_level(&mut text, n, l, &mut crc);
        }
        if let Some(l) = a {
            n = put_level(&mut text, n, l, &mut crc);
        }
    }
    // Every level ended with ':'; the string has none at its end (and the last level is always
    // still in the buffer: it is flushed only before the next level is written).
    crc.update(&text[..n.saturating_sub(1)]);
    crc.finish() as i32
}

/// Writes `px:sz:` of `l` at `n` in `text` (first feeding the CRC if `n` reached [`CRC_CHUNK`]),
/// returning the new write position. Always inlined, and the lengths clamped to [`MAX_TEXT`] so the
/// compiler sees every copy inside the buffer. Callgrind on the OKX stream of
/// `benches/feed_parse.rs` (20 000 messages): 444.2 M → 437.7 M instructions in the decoder
/// (22 211 → 21 887 a message; `okx_checksum`, 48.3 M out of line before, is now inlined into the
/// decoder and its part there ~41.8 M; CRC and `memcpy` unchanged).
#[inline(always)]
fn put_level(text: &mut [u8; CHECKSUM_BUFFER], mut n: usize, l: &Level, crc: &mut Crc32) -> usize {
    if n >= CRC_CHUNK {
        crc.update(&text[..n]);
        n = 0;
    }
    // n < CRC_CHUNK here, so both fixed-size copies stay inside CHECKSUM_BUFFER.
    text[n..n + MAX_TEXT].copy_from_slice(&l.px.bytes);
    n += usize::from(l.px.len).min(MAX_TEXT);
    text[n] = b':';
    n += 1;
    text[n..n + MAX_TEXT].copy_from_slice(&l.sz.bytes);
    n += usize::from(l.sz.len).min(MAX_TEXT);
    text[n] = b':';
    n + 1
}

/// Bytes gathered before they are fed to the CRC.
const CRC_CHUNK: usize = 256;

/// The checksum's stack buffer: a flush threshold plus one level (`px:sz:`, each text copied as
/// a whole [`MAX_TEXT`] block).
const CHECKSUM_BUFFER: usize = CRC_CHUNK + 2 * MAX_TEXT + 2;

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(px: &str, sz: &str) -> Level {
        Level { price: 0, qty: 1, px: Text::new(px.as_bytes()).unwrap(), sz: Text::new(sz.as_bytes()).unwrap() }
    }

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

    #[test]
    fn okx_official_checksum_examples() {
        // OKX docs: "3366.1:7:3366.8:9:3366:6:3368:8" -> -1881014294 (two bids, two asks).
        let bids = [lvl("3366.1", "7"), lvl("3366", "6")];
        let asks = [lvl("3366.8", "9"), lvl("3368", "8")];
        assert_eq!(okx_checksum(&bids, &asks), -1_881_014_294);
        // "3366.1:7:3366.8:9:3368:8:3372:8" -> 831078360 (one bid, three asks).
        let bids = [lvl("3366.1", "7")];
        let asks = [lvl("3366.8", "9"), lvl("3368", "8"), lvl("3372", "8")];
        assert_eq!(okx_checksum(&bids, &asks), 831_078_360);
        // One tick off fails.
        let asks = [lvl("3366.9", "9"), lvl("3368", "8"), lvl("3372", "8")];
        assert_ne!(okx_checksum(&bids, &asks), 831_078_360);
    }

    #[test]
    fn checksum_over_many_chunks_equals_the_joined_string() {
        // 25 + 20 levels with texts up to MAX_TEXT long: ~2 kB, several CRC chunks.
        let text = |i: usize, long: bool| {
            let t = format!("{}.{}", 60_000 + i * 7, "1234567890123456".get(..(i % 17)).unwrap_or(""));
            if long { format!("{t}{}", "0".repeat(MAX_TEXT - t.len())) } else { t }
        };
        let bids: Vec<Level> = (0..30).map(|i| lvl(&text(i, i % 3 == 0), &text(i + 100, i % 5 == 0))).collect();
        let asks: Vec<Level> = (0..20).map(|i| lvl(&text(i + 200, i % 2 == 0), &text(i + 300, false))).collect();
        let mut parts = Vec::new();
        for i in 0..CHECKSUM_DEPTH {
            for side in [&bids, &asks] {
                if let Some(l) = side.get(i) {
                    parts.push(format!("{:?}:{:?}", l.px, l.sz));
                }
            }
        }
        let joined = parts.join(":");
        assert!(joined.len() > 3 * CRC_CHUNK, "{}", joined.len());
        assert_eq!(okx_checksum(&bids, &asks), crc32fast::hash(joined.as_bytes()) as i32);
        assert_eq!(
            okx_checksum(&bids[..1], &asks[..0]),
            crc32fast::hash(format!("{:?}:{:?}", bids[0].px, bids[0].sz).as_bytes()) as i32
        );
        assert_eq!(okx_checksum(&bids[..0], &asks[..0]), crc32fast::hash(b"") as i32);
    }

    #[test]
    fn side_keeps_order_and_capacity() {
        let mut s = SideBook::with_capacity(3, true);
        for p in [5, 9, 7, 1, 8] {
            s.apply(&Level { price: p, qty: 1, px: Text::EMPTY, sz: Text::EMPTY });
        }
        let prices: Vec<i64> = s.iter().map(|l| l.price).collect();
        assert_eq!(prices, [9, 8, 7]);
        s.apply(&Level { price: 8, qty: 0, px: Text::EMPTY, sz: Text::EMPTY });
        assert_eq!(s.len(), 2);
    }
}
