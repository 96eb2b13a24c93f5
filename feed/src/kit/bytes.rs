//! The byte helpers of the decoders' per-frame text handling, word at a time where it pays: short
//! copies inlined as a few fixed-size moves ([`copy_short`]: a `memcpy` call costs more than the
//! copy for texts of a few bytes), the search for one byte ([`find_byte`]), the end of a bare JSON
//! number ([`number_end`], eight bytes at a time by [`plain_number_len`]) and a substring test
//! ([`contains`]). Every word-at-a-time helper is proptested here against a naive byte loop.
//!
//! Core thread; no allocation, no panics beyond slice bounds the callers guarantee.

/// Copies `src` to `dst[at..at + src.len()]`. Up to 32 bytes this is two overlapping fixed-size
/// moves (the way a `memcpy` handles short lengths) instead of a call; longer texts take
/// `copy_from_slice`. Panics only if `dst` is too short, which callers rule out.
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [u8], at: usize, src: &[u8]) {
    let n = src.len();
    if n > 32 {
        dst[at..at + n].copy_from_slice(src);
    } else if n >= 16 {
        dst[at..at + 16].copy_from_slice(&src[..16]);
        dst[at + n - 16..at + n].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[at..at + 8].copy_from_slice(&src[..8]);
        dst[at + n - 8..at + n].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[at..at + 4].copy_from_slice(&src[..4]);
        dst[at + n - 4..at + n].copy_from_slice(&src[n - 4..]);
    } else if n > 0 {
        dst[at] = src[0];
        dst[at + n / 2] = src[n / 2];
        dst[at + n - 1] = src[n - 1];
    }
}

/// The index of the first `byte` in `hay` at or after `from`, eight bytes at a time: a byte of
/// `x = word ^ [byte; 8]` is zero exactly where the word holds `byte`, and the lowest byte whose
/// top bit `(x - 0x01…) & !x & 0x80…` sets is the first zero byte (a borrow only runs upwards,
/// so it can only mark bytes above a real zero). Made for the short gaps of a venue frame (the
/// ~15 bytes between an envelope's colons, a level's 5–15-byte strings): a `memchr` call costs
/// more than twice as much per short gap (BENCHMARKS.md `feed_parse`, "Measured design choices").
#[inline(always)]
pub(crate) fn find_byte(hay: &[u8], from: usize, byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let wanted = u64::from_ne_bytes([byte; 8]);
    let mut i = from;
    while let Some(word) = hay.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let x = u64::from_le_bytes(*word) ^ wanted;
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay.get(i..)?.iter().position(|&b| b == byte).map(|k| i + k)
}

/// Bytes that may belong to a JSON number.
pub(crate) const NUMBER_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = matches!(i as u8, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E');
        i += 1;
    }
    t
};

/// The end of the run of [`NUMBER_BYTE`]s starting at `start`: up to 16 bytes of digits and `.`
/// at once ([`plain_number_len`]); a byte-by-byte scan for anything else (an exponent, a sign,
/// a longer number, the end of the frame).
#[inline(always)]
pub(crate) fn number_end(frame: &[u8], start: usize) -> usize {
    if let Some(words) = frame.get(start..).and_then(|rest| rest.first_chunk::<16>()) {
        let (lo, hi) = words.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().unwrap_or([0; 8]));
        let hi = u64::from_le_bytes(hi.try_into().unwrap_or([0; 8]));
        let mut n = plain_number_len(lo);
        if n == 8 {
            n += plain_number_len(hi);
        }
        if n < 16 && !NUMBER_BYTE[usize::from(words[n])] {
            return start + n;
        }
    }
    let mut end = start;
    while end < frame.len() && NUMBER_BYTE[usize::from(frame[end])] {
        end += 1;
    }
    end
}

/// How many of the eight bytes of `x` (little-endian, first byte lowest) from the first are
/// ASCII digits or `.`, by bit arithmetic on all eight at once: per byte, with the top bit
/// cleared first so no sum carries into the next byte, `y + 0x50` has its top bit set iff
/// `y >= '0'`, `y + 0x46` iff `y > '9'`, and `(y ^ '.') + 0x7f` iff `y != '.'`.
#[inline(always)]
pub(crate) fn plain_number_len(x: u64) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let y = x & LOW7;
    let at_least_0 = y.wrapping_add(0x5050_5050_5050_5050);
    let above_9 = y.wrapping_add(0x4646_4646_4646_4646);
    let not_dot = (y ^ 0x2e2e_2e2e_2e2e_2e2e).wrapping_add(LOW7);
    let plain = ((at_least_0 & !above_9) | !not_dot) & !x & HIGH;
    ((!plain & HIGH).trailing_zeros() / 8) as usize
}

/// Whether `needle` occurs in `hay` (an empty needle occurs everywhere). For short cold checks
/// (a frame head naming its channel); not a hot-path search.
#[inline]
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_exactly() {
        let src: Vec<u8> = (1..=80).collect();
        for len in 0..=src.len() {
            for at in [0, 3] {
                let mut dst = vec![0u8; 90];
                copy_short(&mut dst, at, &src[..len]);
                assert_eq!(&dst[at..at + len], &src[..len], "len {len} at {at}");
                assert!(dst[..at].iter().chain(&dst[at + len..]).all(|&b| b == 0), "len {len} at {at}: outside");
            }
        }
    }

    proptest::proptest! {
        /// The word-at-a-time search finds what a byte scan finds, from any start, with the byte
        /// (and bytes that differ from it in one bit) anywhere, including a word's edges.
        #[test]
        fn find_byte_matches_a_byte_scan(
            bytes in proptest::collection::vec(proptest::sample::select(vec![b':', b';', b'8', b'z', 0xba, 0, b'"', b'#']), 0..40),
            from in 0usize..44,
            byte in proptest::sample::select(vec![b':', b'"']),
        ) {
            let want = bytes.get(from..).and_then(|rest| rest.iter().position(|&b| b == byte)).map(|k| from + k);
            proptest::prop_assert_eq!(find_byte(&bytes, from, byte), want);
        }
    }

    #[test]
    fn plain_number_len_counts_leading_digits_and_dots() {
        for bytes in [&b"65000.1,\"qty\""[..], b"0.123456", b"12345678", b"", b"1e5", b".-", b"9:", b"/0", b"\xb0123"] {
            let mut word = [b','; 8];
            word[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
            let want = word.iter().take_while(|&&b| b.is_ascii_digit() || b == b'.').count();
            assert_eq!(plain_number_len(u64::from_le_bytes(word)), want, "{:?}", String::from_utf8_lossy(&word));
        }
        for b in 0..=255u8 {
            let want = usize::from(b.is_ascii_digit() || b == b'.');
            assert_eq!(plain_number_len(u64::from(b) | (u64::from(b',') << 8)), want, "byte {b}");
        }
    }

    /// Bytes near the edges of what [`plain_number_len`] and [`NUMBER_BYTE`] accept.
    fn edge_bytes() -> Vec<u8> {
        vec![b'0', b'9', b'.', b'/', b':', b'-', b'+', b'e', b'E', b',', b'"', b'}', 0x2e | 0x80, 0xb0, 0xb9, 0, b' ']
    }

    proptest::proptest! {
        /// Eight bytes at a time counts what a byte loop counts, for any word.
        #[test]
        fn plain_number_len_matches_a_byte_loop(word in proptest::collection::vec(proptest::sample::select(edge_bytes()), 8)) {
            let word: [u8; 8] = word.try_into().unwrap();
            let want = word.iter().take_while(|&&b| b.is_ascii_digit() || b == b'.').count();
            proptest::prop_assert_eq!(plain_number_len(u64::from_le_bytes(word)), want);
        }

        /// The end of a number found sixteen bytes at a time is where a byte loop stops, from
        /// any start, near the end of the slice or not.
        #[test]
        fn number_end_matches_a_byte_loop(
            bytes in proptest::collection::vec(proptest::sample::select(edge_bytes()), 0..40),
            start in 0usize..42,
        ) {
            let start = start.min(bytes.len());
            let want = start + bytes[start..].iter().take_while(|&&b| NUMBER_BYTE[usize::from(b)]).count();
            proptest::prop_assert_eq!(number_end(&bytes, start), want);
        }

        /// The fixed-size moves copy exactly `src` and touch nothing else, at any offset.
        #[test]
        fn copy_short_matches_copy_from_slice(
            src in proptest::collection::vec(proptest::num::u8::ANY, 0..70),
            at in 0usize..9,
        ) {
            let mut dst = vec![0xa5u8; at + src.len() + 9];
            let mut want = dst.clone();
            want[at..at + src.len()].copy_from_slice(&src);
            copy_short(&mut dst, at, &src);
            proptest::prop_assert_eq!(dst, want);
        }

        /// The substring test agrees with a search over every start.
        #[test]
        fn contains_matches_a_naive_search(
            hay in proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', b'"']), 0..20),
            needle in proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', b'"']), 0..4),
        ) {
            let want = (0..=hay.len()).any(|i| hay[i..].starts_with(&needle));
            proptest::prop_assert_eq!(contains(&hay, &needle), want);
        }
    }
}
