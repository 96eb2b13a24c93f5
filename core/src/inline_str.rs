//! [`InlineStr`]: short text held inline in a `Copy` record (no allocation), truncated on a char
//! boundary. Control commands and answers ([`crate::InlineText`]) and log-record fields
//! ([`crate::log_ring`]) carry text this way through the core's rings.
//!
//! Any thread; a write is a bounded copy, never an allocation.

/// Up to `N` bytes of UTF-8 text inline (`N` < 256), truncated on a char boundary.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InlineStr<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> InlineStr<N> {
    /// The length fits the `u8` count.
    const FITS: () = assert!(N < 256, "InlineStr holds fewer than 256 bytes");

    /// Empty text.
    pub const EMPTY: Self = {
        let () = Self::FITS;
        Self { bytes: [0; N], len: 0 }
    };

    /// `text`, truncated to fit.
    pub fn new(text: &str) -> Self {
        let mut t = Self::EMPTY;
        let _ = std::fmt::Write::write_str(&mut t, text);
        t
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl<const N: usize> Default for InlineStr<N> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<const N: usize> std::fmt::Write for InlineStr<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = N - usize::from(self.len);
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        let at = usize::from(self.len);
        self.bytes[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
        // at + n ≤ N < 256 (Self::FITS).
        self.len = (at + n) as u8;
        Ok(())
    }
}

impl<const N: usize> std::fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<const N: usize> std::fmt::Display for InlineStr<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_a_char_boundary() {
        let t = InlineStr::<4>::new("abé€");
        assert_eq!(t.as_str(), "abé");
        assert_eq!(InlineStr::<8>::new("short").as_str(), "short");
        let mut w = InlineStr::<3>::EMPTY;
        std::fmt::Write::write_str(&mut w, "ab").unwrap();
        std::fmt::Write::write_str(&mut w, "cd").unwrap();
        assert_eq!(w.as_str(), "abc");
    }
}
