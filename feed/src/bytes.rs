//! Short byte copies inlined as a few fixed-size moves, for the per-level text handling of the
//! decoders (a `memcpy` call costs more than the copy for texts of a few bytes).
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
/// ~15 bytes between an envelope's colons, a level's 5–15-byte strings): a `memchr` call cost
/// ~50 instructions a colon in the Kraken quoting pass, this ~20.
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
}
