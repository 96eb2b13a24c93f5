//! The Kraken WS v2 book checksum over the decoder's shadow book.
//!
//! The shadow book itself is [`crate::okx::book::SideBook`] (sorted, preallocated, capacity =
//! the subscribed depth, so "truncate to the subscribed depth after each update" is what its
//! `apply` does); Kraken levels carry no wire text, because Kraken's checksum formats every
//! price and quantity with the pair's fixed precision, which integers reproduce exactly.
//!
//! Checksum (docs.kraken.com "book checksum v2"): the top 10 asks (low → high) then the top 10
//! bids (high → low); for each level the price then the quantity, each formatted with the pair's
//! precision, `.` removed and leading zeros stripped — i.e. the decimal digits of the integer
//! `value × 10^precision` — concatenated; CRC32 (IEEE), compared as unsigned 32-bit.
//!
//! Thread and contract: core thread; no allocation, no blocking, no panics.

use crate::okx::book::{Crc32, Level};

/// Levels per side in Kraken's checksum.
pub const CHECKSUM_DEPTH: usize = 10;

/// How Kraken formats one pair's numbers (its `price_precision` / `qty_precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Precision {
    /// Decimals of a price.
    pub price: u8,
    /// Decimals of a quantity.
    pub qty: u8,
}

/// Appends to `text` at `n` the decimal digits of `units` (held at `scale` decimals)
/// re-expressed at `precision` decimals, without leading zeros. A value finer than `precision`
/// is truncated; the checksum then fails, which is the right outcome.
#[inline(always)]
fn put_digits(text: &mut [u8; CHECKSUM_TEXT], n: &mut usize, units: i64, scale: u8, precision: u8) {
    if precision == scale {
        // The usual case (the instrument's grid is Kraken's precision): no rescaling.
        put_u64(text, n, units.unsigned_abs());
        return;
    }
    let mut v = i128::from(units).unsigned_abs();
    if precision >= scale {
        v = v.saturating_mul(10u128.saturating_pow(u32::from(precision - scale)));
    } else {
        v /= 10u128.saturating_pow(u32::from(scale - precision));
    }
    if let Ok(w) = u64::try_from(v) {
        put_u64(text, n, w);
        return;
    }
    let mut digits = [0u8; MAX_DIGITS];
    let mut d = MAX_DIGITS;
    while v > 0 {
        d -= 1;
        digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let len = MAX_DIGITS - d;
    text[*n..*n + len].copy_from_slice(&digits[d..]);
    *n += len;
}

/// `"00" "01" … "99"`: two digits per table read.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends the decimal digits of `v` (none for 0) to `text` at `n`, written in place from the
/// last digit, two at a time. Callgrind, 20 000 messages of `benches/feed_parse_kraken_firi.rs`
/// (40 numbers a message): the old loop in `u128` (a library call per `% 10`) into a side buffer
/// then copied was 254.4 M instructions, the same loop in `u64` 136.3 M.
#[inline(always)]
fn put_u64(text: &mut [u8; CHECKSUM_TEXT], n: &mut usize, mut v: u64) {
    let Some(last) = v.checked_ilog10() else { return };
    let len = last as usize + 1;
    let out = &mut text[*n..*n + len];
    let mut i = len;
    while v >= 100 {
        let r = 2 * (v % 100) as usize;
        v /= 100;
        i -= 2;
        out[i..i + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    }
    if v >= 10 {
        let r = 2 * v as usize;
        out[..2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    } else {
        out[0] = b'0' + v as u8;
    }
    *n += len;
}

/// Digits of the largest `u128`.
const MAX_DIGITS: usize = 39;
/// Longest checksum string: 2 × 10 levels of two numbers.
const CHECKSUM_TEXT: usize = 2 * CHECKSUM_DEPTH * 2 * MAX_DIGITS;

/// The Kraken v2 checksum of a book whose prices/quantities are held at `scales`
/// (`price`, `qty` decimals) and which Kraken formats at `precision`. The string is assembled
/// on the stack and CRC'd in one pass.
pub fn kraken_checksum<'a>(
    bids: impl IntoIterator<Item = &'a Level>,
    asks: impl IntoIterator<Item = &'a Level>,
    scales: Precision,
    precision: Precision,
) -> u32 {
    let mut text = [0u8; CHECKSUM_TEXT];
    let mut n = 0;
    for l in asks.into_iter().take(CHECKSUM_DEPTH).chain(bids.into_iter().take(CHECKSUM_DEPTH)) {
        put_digits(&mut text, &mut n, l.price, scales.price, precision.price);
        put_digits(&mut text, &mut n, l.qty, scales.qty, precision.qty);
    }
    let mut crc = Crc32::new();
    crc.update(&text[..n]);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_fragment_45285_2() {
        // Doc step: price "45285.2", qty "0.00100000" -> "452852100000".
        let l = Level::without_text(452_852, 100_000);
        let p = Precision { price: 1, qty: 8 };
        let want = crc32fast::hash(b"452852100000");
        assert_eq!(kraken_checksum(&[], &[l], p, p), want);
        // Held at finer scales, formatted at Kraken's precision: same string.
        let fine = Level::without_text(45_285_200, 1_000_000);
        assert_eq!(kraken_checksum(&[], &[fine], Precision { price: 3, qty: 9 }, p), want);
    }

    #[test]
    fn digits_match_the_decimal_text() {
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, 650_001, u64::MAX, u64::MAX / 7];
        values.extend((0..19).map(|e| 10u64.pow(e)).flat_map(|p| [p - 1, p, p + 1]));
        for v in values {
            let mut text = [0u8; CHECKSUM_TEXT];
            let mut n = 3;
            put_u64(&mut text, &mut n, v);
            let want = if v == 0 { String::new() } else { v.to_string() };
            assert_eq!(&text[3..n], want.as_bytes(), "{v}");
        }
    }
}
