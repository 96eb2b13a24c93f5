//! [`xorshift`]: the small deterministic generator the fuzz-style tests draw mutations and
//! synthetic frames from (dependency-free, the same sequence on every run).

/// A xorshift64 generator (shifts 13, 7, 17) from `seed`: each call returns the next state.
/// `seed` must not be 0 (the sequence would stay 0).
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_the_xorshift64_one() {
        let mut next = xorshift(1);
        // 1 ^= 1 << 13 = 0x2001; ^= >> 7 = 0x2041; ^= << 17 = 0x4082_2041.
        assert_eq!(next(), 0x4082_2041);
        let mut again = xorshift(1);
        assert_eq!(again(), 0x4082_2041);
        assert_ne!(next(), 0x4082_2041);
    }
}
