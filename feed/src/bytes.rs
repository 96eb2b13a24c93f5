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
}
