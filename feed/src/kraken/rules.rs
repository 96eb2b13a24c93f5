//! Kraken's rule: the WS v2 book checksum over the decoder's shadow book, each level's checksum
//! piece, and [`KrakenRule`], what the shared checksum sync ([`crate::kit::checksum_sync`]) needs
//! to know of Kraken.
//!
//! The shadow book itself is [`crate::kit::checksum_book::SideBook`] (sorted, preallocated,
//! depth = the subscribed depth). **Kraken's rule is applied per message**: every level of the message is
//! applied (`SideBook::apply`, which never drops a level), *then* the side is truncated to the
//! subscribed depth (`SideBook::trim`), *then* the checksum below is verified. Truncating after
//! each level instead would lose the level an insert pushes out when a later delete in the same
//! message brings it back into the depth, and the next checksum would fail (issue #14).
//!
//! Each level carries its piece of the checksum input, built once when the level
//! arrives — together with its units from the wire texts ([`wire_level`]), or from the units
//! ([`level`]) when the texts are not printed Kraken's way: the checksum reads the top 10 levels
//! a side on every message while a message changes ~10 levels, so formatting 40 numbers a
//! message was most of its cost.
//!
//! Checksum (docs.kraken.com "book checksum v2"): the top 10 asks (low → high) then the top 10
//! bids (high → low); for each level the price then the quantity, each formatted with the pair's
//! precision, `.` removed and leading zeros stripped — i.e. the decimal digits of the integer
//! `value × 10^precision` — concatenated; CRC32 (IEEE), compared as unsigned 32-bit.
//!
//! Thread and contract: core thread; no allocation, no blocking, no panics.

use crate::kit::bytes::copy_short;
use crate::kit::checksum_book::{Level, PIECE_CAPACITY, PieceCrc, SideBook};
use crate::kit::checksum_sync::ChecksumRule;
use qt_core::decimal::{POW10_U64, eight_digits};

/// Kraken's rule for the shared checksum sync: its checksum (compared as unsigned; 0 is a value,
/// a missing `checksum` is "not provided"); Kraken sends no delete for a level falling out of the
/// subscribed depth, so the sync emits one for each level its trim drops.
#[derive(Debug, Clone, Copy)]
pub struct KrakenRule;

impl ChecksumRule for KrakenRule {
    const ZERO_IS_ABSENT: bool = false;
    const DELETES_TRIMMED: bool = true;
    /// No sequence numbers: the checksum is the only loss detector.
    const SEQUENCED: bool = false;

    #[inline(always)]
    fn checksum(crc: &mut PieceCrc, bids: &SideBook, asks: &SideBook) -> u32 {
        kraken_checksum_with(crc, bids.iter(), asks.iter())
    }
}

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

/// Most checksum digits of one number; a longer one is refused (no Kraken pair comes near it).
pub const MAX_NUMBER_DIGITS: usize = 24;

/// A book level of `price`/`qty` units (held at `scales`) whose wire texts were `price_text` /
/// `qty_text`, with its checksum piece: the checksum digits at `precision` of the price, then of
/// the quantity. `None` if a number has more than [`MAX_NUMBER_DIGITS`] digits.
#[inline(always)]
pub fn level(
    price: i64,
    qty: i64,
    price_text: &[u8],
    qty_text: &[u8],
    scales: Precision,
    precision: Precision,
) -> Option<Level> {
    let mut piece = [0u8; PIECE_CAPACITY];
    let mut n = 0;
    if !put_number(&mut piece, &mut n, price_text, price, scales.price, precision.price)
        || !put_number(&mut piece, &mut n, qty_text, qty, scales.qty, precision.qty)
    {
        return None;
    }
    Some(Level::from_piece(price, qty, piece, n))
}

/// The level of the wire texts `price_text` / `qty_text` in one pass over their bytes, when both
/// are printed the way Kraken prints them — plain digits with exactly `precision` decimals, at
/// most [`PLAIN_DIGITS`] digits — and the instrument's `scales` are at least that fine: the units
/// and the checksum piece together, as `scaled` followed by [`level`] would give them (a zero
/// quantity: a deletion, without piece). `None` for anything else: the caller then takes that
/// general route, which also names what is wrong.
///
/// Replaced `parse_scaled` of each text followed by [`level`]'s second pass over the same bytes
/// (digit checks, leading-zero search, two copies a number). Callgrind, 20 000 messages of
/// `benches/feed_parse_kraken_firi.rs`: see BENCHMARKS.md `feed_parse`, round 6.
#[inline(always)]
pub fn wire_level(price_text: &[u8], qty_text: &[u8], scales: Precision, precision: Precision) -> Option<Level> {
    let mut piece = [0u8; PIECE_CAPACITY];
    let mut n = 0;
    let price = plain_number(&mut piece, &mut n, price_text, scales.price, precision.price)?;
    let qty = plain_number(&mut piece, &mut n, qty_text, scales.qty, precision.qty)?;
    if qty == 0 {
        return Some(Level::without_text(price, 0));
    }
    Some(Level::from_piece(price, qty, piece, n))
}

/// Most digits [`wire_level`] takes in one number: any 19 digits fit a `u64`.
pub const PLAIN_DIGITS: usize = 19;

/// One number of [`wire_level`]: `text` must be digits, a `.`, then exactly `precision` digits
/// (no `.` for precision 0), at most [`PLAIN_DIGITS`] digits, the integer part without leading
/// zeros (a lone `0` allowed), with `scale >= precision`. Returns its units at `scale` and
/// appends its checksum digits (all of them without the `.`, leading zeros dropped) to `piece`
/// at `n` (at most [`PLAIN_DIGITS`] on entry).
///
/// The digits are accumulated ([`accumulate`]) flagging rather than branching on a non-digit;
/// the kept digits are then copied as blocks (only a `0.…` number has leading zeros to drop, in
/// its fraction).
#[inline(always)]
fn plain_number(piece: &mut [u8; PIECE_CAPACITY], n: &mut usize, text: &[u8], scale: u8, precision: u8) -> Option<i64> {
    let p = usize::from(precision);
    if text.len() > PLAIN_DIGITS + usize::from(p > 0) || scale < precision {
        return None;
    }
    let (int, frac): (&[u8], &[u8]) = if p == 0 {
        (text, &[])
    } else {
        let (int, dot_frac) = text.split_at_checked(text.len().checked_sub(p + 1)?)?;
        match dot_frac.split_first() {
            Some((b'.', frac)) => (int, frac),
            _ => return None,
        }
    };
    let &first = int.first()?;
    let mut bad = false;
    let acc = accumulate(accumulate(0, int, &mut bad), frac, &mut bad);
    if bad {
        return None;
    }
    let units = i64::try_from(acc.checked_mul(*POW10_U64.get(usize::from(scale - precision))?)?).ok()?;
    // At most PLAIN_DIGITS on entry (the caller's contract), made visible to the bounds checks.
    let at = (*n).min(PLAIN_DIGITS);
    let kept = if first != b'0' {
        copy_short(piece, at, int);
        copy_short(piece, at + int.len(), frac);
        int.len() + frac.len()
    } else if int.len() == 1 {
        // `0.000123`: the integer `0` and the fraction's leading zeros are dropped.
        let zeros = frac.iter().position(|&b| b != b'0').unwrap_or(frac.len());
        copy_short(piece, at, &frac[zeros..]);
        frac.len() - zeros
    } else {
        // Leading zeros in the integer part: not how Kraken prints.
        return None;
    };
    *n = at + kept;
    Some(units)
}

/// `acc` followed by the decimal digits `digits` (wrapping; the caller bounds their count). Four
/// to eight digits are placed at the end of a word of `'0'`s and converted at once
/// ([`eight_digits`]), longer runs eight at a time, three or fewer one at a time. A non-digit
/// sets `bad`.
#[inline(always)]
fn accumulate(acc: u64, digits: &[u8], bad: &mut bool) -> u64 {
    let len = digits.len();
    if (4..=8).contains(&len) {
        let mut word = [b'0'; 8];
        copy_short(&mut word, 8 - len, digits);
        return match eight_digits(&word) {
            Some(v) => acc.wrapping_mul(POW10_U64[len]).wrapping_add(v),
            None => {
                *bad = true;
                0
            }
        };
    }
    let (eights, rest) = digits.as_chunks::<8>();
    let mut acc = acc;
    for eight in eights {
        match eight_digits(eight) {
            Some(v) => acc = acc.wrapping_mul(100_000_000).wrapping_add(v),
            None => *bad = true,
        }
    }
    for &b in rest {
        let d = b.wrapping_sub(b'0');
        *bad |= d > 9;
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
    }
    acc
}

/// Appends the checksum digits of one number to `piece` at `n` (which is at most
/// [`MAX_NUMBER_DIGITS`]): the number's wire `text`, whose value is `units` at `scale` decimals,
/// expressed at `precision` decimals without the `.` and leading zeros.
///
/// The usual case — `text` is a plain decimal printed with exactly `precision` decimals, as Kraken
/// prints them — copies the text's digits; anything else (another number of decimals, an
/// exponent, precision 0) formats `units`. Both give the same digits for the same value.
#[inline(always)]
fn put_number(
    piece: &mut [u8; PIECE_CAPACITY],
    n: &mut usize,
    text: &[u8],
    units: i64,
    scale: u8,
    precision: u8,
) -> bool {
    let p = usize::from(precision);
    if let Some(dot) = text.len().checked_sub(p + 1) {
        let (int, frac) = (&text[..dot], &text[dot + 1..]);
        if p > 0 && text[dot] == b'.' && text.len() <= MAX_NUMBER_DIGITS && all_digits(int) && all_digits(frac) {
            match int.iter().position(|&b| b != b'0') {
                Some(z) => {
                    copy_short(piece, *n, &int[z..]);
                    *n += int.len() - z;
                    copy_short(piece, *n, frac);
                    *n += frac.len();
                }
                None => {
                    let z = frac.iter().position(|&b| b != b'0').unwrap_or(frac.len());
                    copy_short(piece, *n, &frac[z..]);
                    *n += frac.len() - z;
                }
            }
            return true;
        }
    }
    put_digits(piece, n, units, scale, precision)
}

/// Whether every byte of `text` is an ASCII digit: one accumulated test a byte, no early exit
/// (the texts are a few bytes; an iterator chain over both halves cost more: BENCHMARKS.md `feed_parse`, "Measured design choices").
#[inline(always)]
fn all_digits(text: &[u8]) -> bool {
    text.iter().fold(true, |ok, &b| ok & b.is_ascii_digit())
}

/// Digits of the largest `u128`.
const U128_DIGITS: usize = 39;

/// Appends to `piece` at `n` the decimal digits of `units` (held at `scale` decimals)
/// re-expressed at `precision` decimals, without leading zeros; `false` if they are more than
/// [`MAX_NUMBER_DIGITS`]. A value finer than `precision` is truncated; the checksum then fails,
/// which is the right outcome.
fn put_digits(piece: &mut [u8; PIECE_CAPACITY], n: &mut usize, units: i64, scale: u8, precision: u8) -> bool {
    let mut v = i128::from(units).unsigned_abs();
    if precision >= scale {
        v = v.saturating_mul(10u128.saturating_pow(u32::from(precision - scale)));
    } else {
        v /= 10u128.saturating_pow(u32::from(scale - precision));
    }
    let mut digits = [0u8; U128_DIGITS];
    let mut d = digits.len();
    while v > 0 {
        d -= 1;
        digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let len = digits.len() - d;
    if len > MAX_NUMBER_DIGITS {
        return false;
    }
    copy_short(piece, *n, &digits[d..]);
    *n += len;
    true
}

/// The Kraken v2 checksum of a book whose levels carry their checksum pieces ([`level`]).
#[inline]
pub fn kraken_checksum<'a>(
    bids: impl IntoIterator<Item = &'a Level>,
    asks: impl IntoIterator<Item = &'a Level>,
) -> u32 {
    kraken_checksum_with(&mut PieceCrc::new(), bids, asks)
}

/// [`kraken_checksum`] gathered in the caller's reused `crc` (reset first): the decoder keeps
/// one rather than zeroing a fresh buffer for every message.
#[inline]
pub fn kraken_checksum_with<'a>(
    crc: &mut PieceCrc,
    bids: impl IntoIterator<Item = &'a Level>,
    asks: impl IntoIterator<Item = &'a Level>,
) -> u32 {
    crc.reset();
    for l in asks.into_iter().take(CHECKSUM_DEPTH).chain(bids.into_iter().take(CHECKSUM_DEPTH)) {
        crc.push(l);
    }
    crc.finish(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC_USD: Precision = Precision { price: 1, qty: 8 };

    fn digits(text: &str, units: i64, scale: u8, precision: u8) -> String {
        let mut piece = [0u8; PIECE_CAPACITY];
        let mut n = 0;
        assert!(put_number(&mut piece, &mut n, text.as_bytes(), units, scale, precision), "{text}");
        String::from_utf8(piece[..n].to_vec()).unwrap()
    }

    #[test]
    fn doc_fragment_45285_2() {
        // Doc step: price "45285.2", qty "0.00100000" -> "452852100000".
        let want = crc32fast::hash(b"452852100000");
        let l = level(452_852, 100_000, b"45285.2", b"0.00100000", BTC_USD, BTC_USD).unwrap();
        assert_eq!(l.piece(), b"452852100000");
        assert_eq!(kraken_checksum(&[], &[l]), want);
        // Held at finer scales, formatted at Kraken's precision: same string.
        let fine = Precision { price: 3, qty: 9 };
        let l = level(45_285_200, 1_000_000, b"45285.200", b"0.001000000", fine, BTC_USD).unwrap();
        assert_eq!(kraken_checksum(&[], &[l]), want);
        // A trimmed wire text ("0.001") gives the digits at Kraken's precision all the same.
        let l = level(452_852, 100_000, b"45285.2", b"0.001", BTC_USD, BTC_USD).unwrap();
        assert_eq!(kraken_checksum(&[], &[l]), want);
        // One tick off fails.
        let l = level(452_853, 100_000, b"45285.3", b"0.00100000", BTC_USD, BTC_USD).unwrap();
        assert_ne!(kraken_checksum(&[], &[l]), want);
    }

    /// The general route of a level: each text through `parse_scaled`, then [`level`].
    fn general(pt: &str, qt: &str, scales: Precision, precision: Precision) -> Option<Level> {
        let price = qt_core::decimal::parse_scaled(pt, scales.price).ok().filter(|&v| v >= 0)?;
        let qty = qt_core::decimal::parse_scaled(qt, scales.qty).ok().filter(|&v| v >= 0)?;
        if qty == 0 {
            return Some(Level::without_text(price, 0));
        }
        level(price, qty, pt.as_bytes(), qt.as_bytes(), scales, precision)
    }

    #[test]
    fn wire_level_reads_kraken_texts_like_the_general_route() {
        let fine = Precision { price: 3, qty: 9 };
        for (pt, qt, scales) in [
            ("45285.2", "0.00100000", BTC_USD),
            ("45285.2", "0.00100000", fine),
            ("0.1", "12.00000000", BTC_USD),
            ("65000.0", "0.00000001", BTC_USD),
            ("65000.0", "0.00000000", BTC_USD),
            ("1234567.8", "123456789.12345678", BTC_USD),
        ] {
            let got = wire_level(pt.as_bytes(), qt.as_bytes(), scales, BTC_USD);
            assert!(got.is_some(), "{pt} {qt}: Kraken's own layout takes the fast route");
            assert_eq!(got, general(pt, qt, scales, BTC_USD), "{pt} {qt}");
        }
        assert_eq!(wire_level(b"45285.2", b"0.001", BTC_USD, BTC_USD).map(|l| l.qty), None, "other decimals");
        assert_eq!(wire_level(b"045285.2", b"0.00100000", BTC_USD, BTC_USD), None, "a leading zero");
        assert_eq!(wire_level(b"-45285.2", b"0.00100000", BTC_USD, BTC_USD), None, "a sign");
        assert_eq!(wire_level(b"4528x.2", b"0.00100000", BTC_USD, BTC_USD), None, "a letter");
        assert_eq!(wire_level(b"45285.2", b"0.0010000x", BTC_USD, BTC_USD), None, "a letter in eight");
        assert_eq!(wire_level(b"45285.2", b"1e-3", BTC_USD, BTC_USD), None, "an exponent");
        assert_eq!(wire_level(b"12345678901234567890.1", b"1.00000000", BTC_USD, BTC_USD), None, "20 digits");
        let coarse = Precision { price: 0, qty: 8 };
        assert_eq!(wire_level(b"45285.2", b"0.00100000", coarse, BTC_USD), None, "scale below precision");
        let integers = Precision { price: 0, qty: 0 };
        let l = wire_level(b"45285", b"7", integers, integers).unwrap();
        assert_eq!((l.price, l.qty, l.piece()), (45_285, 7, &b"452857"[..]));
    }

    proptest::proptest! {
        /// Whenever the fast route takes a pair of texts it gives exactly the general route's
        /// level (units and checksum piece); and it takes every pair printed with the precision
        /// that the general route takes.
        #[test]
        fn wire_level_agrees_with_the_general_route(
            pt in "[0-9.e-]{0,21}",
            qt in "[0-9.]{0,21}",
            price in 0u64..10_000_000_000,
            qty in 0u64..100_000_000_000_000_000,
            precision in (0u8..4, 0u8..10),
            finer in (0u8..3, 0u8..3),
        ) {
            let precision = Precision { price: precision.0, qty: precision.1 };
            let scales = Precision { price: precision.price + finer.0, qty: precision.qty + finer.1 };
            if let Some(got) = wire_level(pt.as_bytes(), qt.as_bytes(), scales, precision) {
                proptest::prop_assert_eq!(Some(got), general(&pt, &qt, scales, precision), "{} {}", pt, qt);
            }
            let print = |v: u64, p: u8| {
                let p = usize::from(p);
                let digits = format!("{v:0>width$}", width = p + 1);
                let (int, frac) = digits.split_at(digits.len() - p);
                if p == 0 { int.to_string() } else { format!("{int}.{frac}") }
            };
            let (pt, qt) = (print(price, precision.price), print(qty, precision.qty));
            // Equal also when the general route takes them: the fast route then does too
            // (both refuse units beyond `i64`).
            let got = wire_level(pt.as_bytes(), qt.as_bytes(), scales, precision);
            proptest::prop_assert_eq!(got, general(&pt, &qt, scales, precision), "{} {}", pt, qt);
        }
    }

    #[test]
    fn text_and_integer_routes_give_the_same_digits() {
        // (text, units at `scale`, scale, precision)
        let cases: &[(&str, i64, u8, u8)] = &[
            ("0.00100000", 100_000, 8, 8),
            ("0.001", 100_000, 8, 8),
            ("0.00000000", 0, 8, 8),
            ("65000.1", 650_001, 1, 1),
            ("65000.10", 650_001, 1, 1),
            ("0065000.1", 650_001, 1, 1),
            ("65000", 650_000, 1, 1),
            ("1.5e3", 15_000, 1, 1),
            ("12.30", 1_230, 2, 2),
            ("7", 7, 0, 0),
            ("0.5", 5, 1, 1),
            ("10.0", 1_000, 2, 1),
        ];
        for &(text, units, scale, precision) in cases {
            let mut want = [0u8; PIECE_CAPACITY];
            let mut n = 0;
            assert!(put_digits(&mut want, &mut n, units, scale, precision));
            let want = String::from_utf8(want[..n].to_vec()).unwrap();
            assert_eq!(digits(text, units, scale, precision), want, "{text}");
            let plain = want.trim_start_matches('0');
            assert_eq!(want, plain, "{text}: no leading zeros");
        }
        assert_eq!(digits("0.00100000", 100_000, 8, 8), "100000");
        assert_eq!(digits("65000.1", 650_001, 1, 1), "650001");
        assert_eq!(digits("0.00000000", 0, 8, 8), "");
    }

    #[test]
    fn integer_route_matches_the_decimal_text() {
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, 650_001, i64::MAX, i64::MAX / 7];
        values.extend((0..18).map(|e| 10i64.pow(e)).flat_map(|p| [p - 1, p, p + 1]));
        for v in values {
            let mut piece = [0u8; PIECE_CAPACITY];
            let mut n = 3;
            assert!(put_digits(&mut piece, &mut n, v, 2, 2));
            let want = if v == 0 { String::new() } else { v.to_string() };
            assert_eq!(&piece[3..n], want.as_bytes(), "{v}");
        }
        // Too many digits at the requested precision: refused, not truncated.
        let mut piece = [0u8; PIECE_CAPACITY];
        let mut n = 0;
        assert!(!put_digits(&mut piece, &mut n, i64::MAX, 0, 8));
        assert!(
            level(i64::MAX, 1, b"x", b"1", Precision { price: 0, qty: 0 }, Precision { price: 8, qty: 0 }).is_none()
        );
    }
}
