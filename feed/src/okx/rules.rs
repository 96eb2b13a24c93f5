//! OKX's rule: the `books` checksum — CRC32 over the top [`CHECKSUM_DEPTH`] levels' wire
//! strings, bids and asks interleaved — over the shared shadow book
//! ([`crate::kit::checksum_book`]), and [`OkxRule`], what the shared checksum sync
//! ([`crate::kit::checksum_sync`]) needs to know of OKX.
//!
//! Thread and contract: core thread; no allocation, no blocking, no panics.

use crate::kit::checksum_book::SideBook;
pub use crate::kit::checksum_book::{Level, PieceCrc};
use crate::kit::checksum_sync::ChecksumRule;

/// OKX's rule for the shared checksum sync: its checksum; a `checksum` of 0 is "not provided"
/// (announced for production from 2026-06-23); `books` deletes what it drops itself (400 levels
/// in the snapshot, no subscribed depth: the bound is ours).
#[derive(Debug, Clone, Copy)]
pub struct OkxRule;

impl ChecksumRule for OkxRule {
    const ZERO_IS_ABSENT: bool = true;
    const DELETES_TRIMMED: bool = false;
    /// `seqId`/`prevSeqId` on every `books` message.
    const SEQUENCED: bool = true;

    #[inline(always)]
    fn checksum(crc: &mut PieceCrc, bids: &SideBook, asks: &SideBook) -> u32 {
        okx_checksum_with(crc, bids.iter(), asks.iter()) as u32
    }
}

/// Levels per side in OKX's checksum.
pub const CHECKSUM_DEPTH: usize = 25;

/// OKX `books` checksum: CRC32 over `bid1px:bid1sz:ask1px:ask1sz:bid2px:...` of the top
/// [`CHECKSUM_DEPTH`] levels per side (a side that runs out is skipped, the other continues),
/// using the strings as sent, as a signed 32-bit integer.
///
/// No string is built: the pieces are copied into a small stack buffer with one fixed-size copy of
/// each level's pre-joined `px:sz:` block (vector moves, then the write position advances by the
/// text's length) and the buffer is fed to the CRC whenever it holds `CRC_CHUNK` (1 KiB) bytes or more, so the
/// CRC runs on its carry-less-multiply path over long runs rather than its table path over
/// 5-byte pieces, and nothing is zeroed per checksum (the old version built a zeroed 2.5 kB
/// stack string with four variable-length copies a level: BENCHMARKS.md `feed_parse`, "Measured design choices").
pub fn okx_checksum<'a>(bids: impl IntoIterator<Item = &'a Level>, asks: impl IntoIterator<Item = &'a Level>) -> i32 {
    okx_checksum_with(&mut PieceCrc::new(), bids, asks)
}

/// [`okx_checksum`] gathered in the caller's reused `crc` (reset first): the decoder keeps one
/// rather than setting up a fresh buffer for every message.
#[inline]
pub fn okx_checksum_with<'a>(
    crc: &mut PieceCrc,
    bids: impl IntoIterator<Item = &'a Level>,
    asks: impl IntoIterator<Item = &'a Level>,
) -> i32 {
    crc.reset();
    let mut bids = bids.into_iter().take(CHECKSUM_DEPTH);
    let mut asks = asks.into_iter().take(CHECKSUM_DEPTH);
    loop {
        let (b, a) = (bids.next(), asks.next());
        if b.is_none() && a.is_none() {
            break;
        }
        if let Some(l) = b {
            crc.push(l);
        }
        if let Some(l) = a {
            crc.push(l);
        }
    }
    // Every level ended with ':'; the string has none at its end.
    crc.finish(1) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::checksum_book::{CRC_CHUNK, MAX_TEXT};

    fn lvl(px: &str, sz: &str) -> Level {
        Level::new(0, 1, px.as_bytes(), sz.as_bytes()).unwrap()
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
        // 25 + 20 levels, most texts MAX_TEXT long: over 2 kB, more than two CRC chunks.
        let text = |i: usize, long: bool| {
            let t = format!("{}.{}", 60_000 + i * 7, "1234567890123456".get(..(i % 17)).unwrap_or(""));
            if long { format!("{t}{}", "0".repeat(MAX_TEXT - t.len())) } else { t }
        };
        let bids: Vec<Level> = (0..30).map(|i| lvl(&text(i, i % 7 != 0), &text(i + 100, i % 5 != 0))).collect();
        let asks: Vec<Level> = (0..20).map(|i| lvl(&text(i + 200, true), &text(i + 300, i % 3 != 0))).collect();
        let mut parts = Vec::new();
        for i in 0..CHECKSUM_DEPTH {
            for side in [&bids, &asks] {
                if let Some(l) = side.get(i) {
                    parts.push(format!("{}:{}", String::from_utf8_lossy(l.px()), String::from_utf8_lossy(l.sz())));
                }
            }
        }
        let joined = parts.join(":");
        assert!(joined.len() > 2 * CRC_CHUNK, "{}", joined.len());
        let want = crc32fast::hash(joined.as_bytes()) as i32;
        assert_eq!(okx_checksum(&bids, &asks), want);
        // A reused buffer: what it held before does not count.
        let mut crc = PieceCrc::new();
        assert_ne!(okx_checksum_with(&mut crc, &asks, &bids), want);
        assert_eq!(okx_checksum_with(&mut crc, &bids, &asks), want);
        assert_eq!(
            okx_checksum(&bids[..1], &asks[..0]),
            crc32fast::hash(
                format!("{}:{}", String::from_utf8_lossy(bids[0].px()), String::from_utf8_lossy(bids[0].sz()))
                    .as_bytes()
            ) as i32
        );
        assert_eq!(okx_checksum(&bids[..0], &asks[..0]), crc32fast::hash(b"") as i32);
    }
}
