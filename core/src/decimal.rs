//! Exact decimal text ⇄ scaled integer conversion: the only place a venue's decimal string
//! becomes a number and a number becomes the string a venue expects.
//!
//! A value at scale `s` is the integer `units` meaning `units × 10^-s`. Parsing is one pass over
//! the bytes with no intermediate `f64` or `String`; it accepts `26123.4`, `0.00001000`, `-1.5`,
//! `+2`, `.5`, `3.`, and exponent forms such as `1e-5` or `2.5E+3`, and fails — never rounds —
//! when the text has more significant decimals than the scale holds or does not fit in `i64`.
//! Allocation-free, no syscalls, safe to call on the core thread; errors are `Copy` and carry a
//! truncated copy of the offending text so they can name it without allocating.

use std::fmt;

/// The largest scale (digits after the point) any value in the system uses.
pub const MAX_SCALE: u8 = 18;

/// Why a decimal string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalErrorKind {
    /// Empty text.
    Empty,
    /// A byte that is not part of a decimal number.
    InvalidCharacter,
    /// Has more significant decimals than the scale allows (it would have to be rounded).
    TooPrecise,
    /// Does not fit in the integer type at this scale.
    Overflow,
    /// A negative value where only non-negative ones are allowed.
    Negative,
    /// A scale above [`MAX_SCALE`].
    BadScale,
}

/// A refused decimal string: the reason, the scale asked for, and (a prefix of) the text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DecimalError {
    kind: DecimalErrorKind,
    scale: u8,
    len: u8,
    text: [u8; Self::TEXT_CAP],
}

impl DecimalError {
    const TEXT_CAP: usize = 40;

    #[cold]
    pub(crate) fn new(kind: DecimalErrorKind, text: &[u8], scale: u8) -> Self {
        let len = text.len().min(Self::TEXT_CAP);
        let mut buf = [0u8; Self::TEXT_CAP];
        buf[..len].copy_from_slice(&text[..len]);
        Self { kind, scale, len: len as u8, text: buf }
    }

    /// Why the text was refused.
    pub fn kind(&self) -> DecimalErrorKind {
        self.kind
    }

    /// The offending text (at most its first 40 bytes, lossily decoded).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text[..self.len as usize]).into_owned()
    }
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = String::from_utf8_lossy(&self.text[..self.len as usize]);
        let ellipsis = if self.len as usize == Self::TEXT_CAP { "…" } else { "" };
        let why = match self.kind {
            DecimalErrorKind::Empty => "empty text is not a decimal number".to_string(),
            DecimalErrorKind::InvalidCharacter => "not a decimal number".to_string(),
            DecimalErrorKind::TooPrecise => {
                format!("has more than {} significant decimals; refusing to round", self.scale)
            }
            DecimalErrorKind::Overflow => {
                format!("is too large to hold at {} decimals", self.scale)
            }
            DecimalErrorKind::Negative => "must not be negative".to_string(),
            DecimalErrorKind::BadScale => {
                format!("scale {} is above the maximum {}", self.scale, MAX_SCALE)
            }
        };
        write!(f, "decimal \"{shown}{ellipsis}\" {why}")
    }
}

impl fmt::Debug for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for DecimalError {}

/// `10^n` for `n` in `0..=38` (the range of `i128`).
#[inline]
pub(crate) const fn pow10_i128(n: u32) -> i128 {
    let mut v: i128 = 1;
    let mut i = 0;
    while i < n {
        v *= 10;
        i += 1;
    }
    v
}

/// `10^n` as `i64` for `n` in `0..=18`.
#[inline]
pub const fn pow10(n: u8) -> i64 {
    const TABLE: [i64; 19] = {
        let mut t = [1i64; 19];
        let mut i = 1;
        while i < 19 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    TABLE[n as usize]
}

/// Parses `text` into units of `10^-scale`, exactly.
#[inline]
pub fn parse_scaled(text: &str, scale: u8) -> Result<i64, DecimalError> {
    parse_scaled_bytes(text.as_bytes(), scale)
}

/// [`parse_scaled`] over raw bytes (as they sit in a receive buffer).
///
/// Plain decimals that fit (what venues send on every level) take [`parse_plain`]; anything else
/// (exponents, more than 19 digits, every error) goes through the general `i128` parser, so the
/// result and the error are exactly those of [`parse_scaled_i128`].
#[inline]
pub fn parse_scaled_bytes(bytes: &[u8], scale: u8) -> Result<i64, DecimalError> {
    match parse_plain(bytes, scale) {
        Some(units) => Ok(units),
        None => parse_scaled_general(bytes, scale),
    }
}

#[inline(never)]
fn parse_scaled_general(bytes: &[u8], scale: u8) -> Result<i64, DecimalError> {
    let wide = parse_scaled_i128(bytes, scale)?;
    i64::try_from(wide).map_err(|_| DecimalError::new(DecimalErrorKind::Overflow, bytes, scale))
}

/// `10^n` as `u64` for `n` in `0..=19`.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Eight ASCII `'0'`s as one little-endian word.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Index (0..=8) of the first byte of `chunk` (first text byte lowest) that is not an ASCII
/// digit; 8 if all are.
#[inline]
fn first_non_digit(chunk: u64) -> usize {
    let x = chunk ^ ZEROS;
    // A byte is a digit iff x < 10: adding 0x76 sets its top bit when x >= 10 (no carry out of a
    // byte below 0x80), and x's own top bit flags x >= 0x80. Only bytes after the first flagged
    // one can be disturbed by a carry, and they do not matter.
    let flagged = (x.wrapping_add(0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080;
    (flagged.trailing_zeros() / 8) as usize
}

/// The value of eight ASCII digits (first text byte lowest = most significant digit): three
/// multiplies instead of eight dependent multiply-adds.
#[inline]
fn eight_digits(chunk: u64) -> u64 {
    let v = chunk.wrapping_sub(ZEROS);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = (v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)));
    v >> 32
}

/// `bytes[start..start + k]` (`k` in `1..=8`) as one word with `'0'` filling the 8 − k most
/// significant digit positions, loaded as 8 bytes inside `bytes` (forwards or ending at the
/// run's end); `None` if `bytes` is shorter than 8.
#[inline]
fn digit_word(bytes: &[u8], start: usize, k: usize) -> Option<u64> {
    let fill = 8 * (8 - k as u32);
    if let Some(raw) = bytes.get(start..start + 8) {
        let raw = u64::from_le_bytes(raw.try_into().ok()?);
        // Move the k bytes up to the top; the low bytes become '0'.
        Some(raw.checked_shl(fill).unwrap_or(0) | ZEROS.checked_shr(8 * k as u32).unwrap_or(0))
    } else {
        let end = start + k;
        let raw = u64::from_le_bytes(bytes.get(end.checked_sub(8)?..end)?.try_into().ok()?);
        // The low 8 − k bytes precede the run: replace them with '0'.
        let low = u64::MAX.checked_shr(8 * k as u32).unwrap_or(0);
        Some((raw & !low) | (ZEROS & low))
    }
}

/// The value of the `n` digits at `bytes[start..]` (`n <= 16`), or `None` if one is not a digit
/// or `bytes` is too short to load words from.
#[inline]
fn digits_value(bytes: &[u8], start: usize, n: usize) -> Option<u64> {
    let word = |at: usize, k: usize| -> Option<u64> {
        let w = digit_word(bytes, at, k)?;
        (first_non_digit(w) == 8).then(|| eight_digits(w))
    };
    match n {
        0 => Some(0),
        1..=8 => word(start, n),
        9..=16 => Some(word(start, n - 8)? * 100_000_000 + word(start + n - 8, 8)?),
        _ => None,
    }
}

/// [`parse_plain`] for texts of 8 bytes or more, eight digits at a time (SWAR): the integer
/// digits, the decimals kept at `scale`, and the check that the rest are `'0'` are each one or
/// two word operations. `None`: not handled here (the caller tries the next path).
///
/// Measured with `benches/feed_parse.rs` (callgrind, per Binance message of ~16 decimal
/// strings): the byte-at-a-time fast path took 2 840 instructions per message in
/// `json::scaled`, this one — see BENCHMARKS.md `feed_parse`.
#[inline]
fn parse_plain_swar(bytes: &[u8], scale: u8) -> Option<i64> {
    let negative = bytes.first() == Some(&b'-');
    let o = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let head = u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?);
    let int_len = first_non_digit(head);
    let len = bytes.len();
    // 8 or more integer digits: leave it to the byte loop.
    if int_len == 8 {
        return None;
    }
    let (frac_start, frac_len) = match bytes.get(o + int_len) {
        None => (len, 0),
        Some(b'.') => (o + int_len + 1, len - (o + int_len + 1)),
        Some(_) => return None,
    };
    let kept = frac_len.min(usize::from(scale));
    if int_len + frac_len == 0 || int_len + usize::from(scale) > 19 || kept > 8 {
        return None;
    }
    let rest = frac_len - kept;
    if rest > 0 {
        // Decimals beyond the scale must all be '0' (else the general parser decides).
        let zeros = match rest {
            1..=8 => digit_word(bytes, frac_start + kept, rest)? == ZEROS,
            9..=16 => {
                digit_word(bytes, frac_start + kept, rest - 8)? == ZEROS && digit_word(bytes, len - 8, 8)? == ZEROS
            }
            _ => return None,
        };
        if !zeros {
            return None;
        }
    }
    let int = digits_value(bytes, o, int_len)?;
    let frac = digits_value(bytes, frac_start, kept)?;
    // int < 10^int_len and int_len + scale <= 19: below 10^19 < 2^64, no overflow.
    let units = (int * POW10_U64[kept] + frac) * POW10_U64[usize::from(scale) - kept];
    if units > i64::MAX as u64 {
        return None;
    }
    Some(if negative { -(units as i64) } else { units as i64 })
}

/// The fast path of [`parse_scaled_bytes`]: `[+-]digits[.digits]` with at most 19 digits once
/// scaled, no exponent, no significant decimal beyond `scale`. Accumulates in `u64` with plain
/// (wrapping) arithmetic and checks the digit count once at the end instead of a checked 128-bit
/// multiply per digit; decimals beyond `scale` are only compared with `'0'`. `None` means "not
/// this form": the caller reruns the general parser, which also produces every error.
///
/// Measured (`benches/decimal.rs`, same run, loaded 2-vCPU VM): `"26123.40000000"` at 2 dp
/// 32.2 → see BENCHMARKS.md `decimal` for the current figures.
#[inline]
fn parse_plain(bytes: &[u8], scale: u8) -> Option<i64> {
    if scale > MAX_SCALE {
        return None;
    }
    if let Some(units) = parse_plain_swar(bytes, scale) {
        return Some(units);
    }
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut acc: u64 = 0;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let int_digits = i;
    let mut kept = 0;
    let mut frac_digits = 0;
    if i < digits.len() {
        if digits[i] != b'.' {
            return None;
        }
        let frac = &digits[i + 1..];
        kept = frac.len().min(usize::from(scale));
        for &b in &frac[..kept] {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
        }
        // Beyond the scale only zeros are allowed (anything else: the general parser decides).
        if frac[kept..].iter().any(|&b| b != b'0') {
            return None;
        }
        frac_digits = frac.len();
    }
    // At most 19 digits after scaling: below 10^19 < 2^64, so nothing above wrapped.
    if int_digits + frac_digits == 0 || int_digits + usize::from(scale) > 19 {
        return None;
    }
    let units = acc * POW10_U64[usize::from(scale) - kept];
    if units > i64::MAX as u64 {
        return None;
    }
    Some(if negative { -(units as i64) } else { units as i64 })
}

/// [`parse_scaled`] into an `i128` (for notionals at 18 decimals).
pub fn parse_scaled_i128(bytes: &[u8], scale: u8) -> Result<i128, DecimalError> {
    let err = |kind| DecimalError::new(kind, bytes, scale);
    if scale > MAX_SCALE {
        return Err(err(DecimalErrorKind::BadScale));
    }
    if bytes.is_empty() {
        return Err(err(DecimalErrorKind::Empty));
    }
    let mut i = 0;
    let negative = match bytes[0] {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    // value = mantissa × 10^(trailing_zeros + exponent − frac_digits); mantissa has no trailing
    // zeros, so a negative final shift means decimals would be lost.
    let mut mantissa: u128 = 0;
    let mut pending_zeros: u32 = 0;
    let mut frac_digits: i64 = 0;
    let mut digits = 0usize;
    let mut seen_point = false;
    let mut overflow = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if seen_point {
                    frac_digits += 1;
                }
                if b == b'0' {
                    pending_zeros += 1;
                } else if !overflow {
                    let scaled = if pending_zeros > 38 {
                        None
                    } else {
                        mantissa.checked_mul(pow10_i128(pending_zeros + 1) as u128)
                    };
                    match scaled.and_then(|m| m.checked_add(u128::from(b - b'0'))) {
                        Some(m) => mantissa = m,
                        None => overflow = true,
                    }
                    pending_zeros = 0;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return Err(err(DecimalErrorKind::InvalidCharacter)),
        }
        i += 1;
    }
    if digits == 0 {
        return Err(err(DecimalErrorKind::InvalidCharacter));
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() {
        // bytes[i] is 'e' or 'E'.
        i += 1;
        let mut exp_negative = false;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            exp_negative = bytes[i] == b'-';
            i += 1;
        }
        if i == bytes.len() {
            return Err(err(DecimalErrorKind::InvalidCharacter));
        }
        while i < bytes.len() {
            let b = bytes[i];
            if !b.is_ascii_digit() {
                return Err(err(DecimalErrorKind::InvalidCharacter));
            }
            exponent = (exponent * 10 + i64::from(b - b'0')).min(100_000);
            i += 1;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if overflow {
        return Err(err(DecimalErrorKind::Overflow));
    }
    if mantissa == 0 {
        return Ok(0);
    }
    let shift = i64::from(pending_zeros) + exponent - frac_digits + i64::from(scale);
    if shift < 0 {
        return Err(err(DecimalErrorKind::TooPrecise));
    }
    if shift > 38 {
        return Err(err(DecimalErrorKind::Overflow));
    }
    let magnitude =
        mantissa.checked_mul(pow10_i128(shift as u32) as u128).ok_or_else(|| err(DecimalErrorKind::Overflow))?;
    let limit = if negative { i128::MAX as u128 + 1 } else { i128::MAX as u128 };
    if magnitude > limit {
        return Err(err(DecimalErrorKind::Overflow));
    }
    Ok(if negative { (magnitude as i128).wrapping_neg() } else { magnitude as i128 })
}

/// How a scaled value is written back as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalStyle {
    /// Exactly `scale` decimals: `26123.40` at scale 2. What most venues document.
    Fixed,
    /// Trailing zeros and a bare point removed: `26123.4`, `5`.
    Trimmed,
}

/// A fixed-capacity buffer holding a formatted decimal; no allocation.
#[derive(Clone, Copy)]
pub struct DecimalText {
    buf: [u8; 48],
    len: u8,
}

impl DecimalText {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, '-' and '.' are written by `format_scaled`.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for DecimalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for DecimalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for DecimalText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Formats `units × 10^-scale` (`scale ≤ 18`, clamped) as exact decimal text.
pub fn format_scaled(units: i128, scale: u8, style: DecimalStyle) -> DecimalText {
    let scale = scale.min(MAX_SCALE) as usize;
    // Digits are produced least significant first into `rev`, then copied in order.
    let mut rev = [0u8; 48];
    let mut n = 0;
    let negative = units < 0;
    let mut magnitude = units.unsigned_abs();
    let mut written_frac = 0;
    let mut trimming = style == DecimalStyle::Trimmed;
    while written_frac < scale {
        let d = (magnitude % 10) as u8;
        magnitude /= 10;
        written_frac += 1;
        if trimming && d == 0 {
            continue;
        }
        trimming = false;
        rev[n] = b'0' + d;
        n += 1;
    }
    if n > 0 {
        rev[n] = b'.';
        n += 1;
    }
    loop {
        rev[n] = b'0' + (magnitude % 10) as u8;
        n += 1;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        rev[n] = b'-';
        n += 1;
    }
    let mut buf = [0u8; 48];
    for (dst, src) in buf.iter_mut().zip(rev[..n].iter().rev()) {
        *dst = *src;
    }
    DecimalText { buf, len: n as u8 }
}

/// Number of decimals a decimal string carries once trailing zeros are ignored
/// (`"0.01000000"` → 2, `"1e-5"` → 5, `"10"` → 0). Used to derive an instrument's scale from its
/// tick and lot sizes.
pub fn significant_decimals(text: &str) -> Result<u8, DecimalError> {
    for scale in 0..=MAX_SCALE {
        match parse_scaled(text, scale) {
            Ok(_) => return Ok(scale),
            Err(e) if e.kind() == DecimalErrorKind::TooPrecise => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DecimalError::new(DecimalErrorKind::TooPrecise, text.as_bytes(), MAX_SCALE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_venue_forms_exactly() {
        assert_eq!(parse_scaled("26123.4", 2), Ok(2_612_340));
        assert_eq!(parse_scaled("0.00001000", 8), Ok(1000));
        assert_eq!(parse_scaled("0.00001000", 5), Ok(1));
        assert_eq!(parse_scaled("1e-5", 8), Ok(1000));
        assert_eq!(parse_scaled("1E-5", 5), Ok(1));
        assert_eq!(parse_scaled("2.5E+3", 0), Ok(2500));
        assert_eq!(parse_scaled("-1.5", 1), Ok(-15));
        assert_eq!(parse_scaled("+2", 3), Ok(2000));
        assert_eq!(parse_scaled(".5", 1), Ok(5));
        assert_eq!(parse_scaled("3.", 0), Ok(3));
        assert_eq!(parse_scaled("0", 18), Ok(0));
        assert_eq!(parse_scaled("0.000000000000000000000", 0), Ok(0));
        assert_eq!(parse_scaled("-0.0", 4), Ok(0));
        assert_eq!(parse_scaled("100000000000000000000000e-20", 0), Ok(1000));
    }

    #[test]
    fn refuses_rounding_and_names_the_text() {
        let e = parse_scaled("26123.405", 2).unwrap_err();
        assert_eq!(e.kind(), DecimalErrorKind::TooPrecise);
        assert_eq!(e.text(), "26123.405");
        assert!(e.to_string().contains("\"26123.405\""), "{e}");
        assert_eq!(parse_scaled("1e-9", 8).unwrap_err().kind(), DecimalErrorKind::TooPrecise);
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "-", "+", ".", "1.2.3", "12a", "1e", "1e+", "0x10", " 1", "1 ", "--1", "1e5.5", "NaN", "inf"] {
            let r = parse_scaled(bad, 4);
            assert!(r.is_err(), "{bad:?} parsed as {r:?}");
        }
    }

    #[test]
    fn eight_at_a_time_path_on_venue_forms() {
        // (text, scale, units): Binance's 8-decimal padding, OKX's short forms, signs, long runs.
        let cases: [(&str, u8, i64); 10] = [
            ("64999.99000000", 2, 6_499_999),
            ("0.01234000", 5, 1234),
            ("0.00000000", 5, 0),
            ("1234567.12345678", 8, 123_456_712_345_678),
            ("-12.50000000", 1, -125),
            ("+0.00100000", 3, 1),
            ("0.0123456789012345", 16, 123_456_789_012_345),
            ("65000.1", 1, 650_001),
            (".50000000", 1, 5),
            ("30.000000000000000000", 0, 30),
        ];
        for (text, scale, units) in cases {
            assert_eq!(parse_scaled(text, scale), Ok(units), "{text}");
        }
        assert_eq!(parse_scaled("64999.99000001", 2).unwrap_err().kind(), DecimalErrorKind::TooPrecise);
        assert_eq!(parse_scaled("64999.9900000x", 2).unwrap_err().kind(), DecimalErrorKind::InvalidCharacter);
        assert_eq!(parse_scaled("6499x.99000000", 2).unwrap_err().kind(), DecimalErrorKind::InvalidCharacter);
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(parse_scaled("9223372036854775807", 0), Ok(i64::MAX));
        assert_eq!(parse_scaled("-9223372036854775808", 0), Ok(i64::MIN));
        assert_eq!(parse_scaled("9223372036854775808", 0).unwrap_err().kind(), DecimalErrorKind::Overflow);
        assert_eq!(parse_scaled("92233720368.54775808", 8).unwrap_err().kind(), DecimalErrorKind::Overflow);
        assert_eq!(parse_scaled("1e400", 0).unwrap_err().kind(), DecimalErrorKind::Overflow);
        assert_eq!(
            parse_scaled("123456789012345678901234567890123456789012345", 0).unwrap_err().kind(),
            DecimalErrorKind::Overflow
        );
        assert_eq!(parse_scaled("1", 19).unwrap_err().kind(), DecimalErrorKind::BadScale);
    }

    #[test]
    fn formats_fixed_and_trimmed() {
        assert_eq!(format_scaled(2_612_340, 2, DecimalStyle::Fixed).as_str(), "26123.40");
        assert_eq!(format_scaled(2_612_340, 2, DecimalStyle::Trimmed).as_str(), "26123.4");
        assert_eq!(format_scaled(1000, 8, DecimalStyle::Fixed).as_str(), "0.00001000");
        assert_eq!(format_scaled(1000, 8, DecimalStyle::Trimmed).as_str(), "0.00001");
        assert_eq!(format_scaled(-15, 1, DecimalStyle::Fixed).as_str(), "-1.5");
        assert_eq!(format_scaled(500, 2, DecimalStyle::Trimmed).as_str(), "5");
        assert_eq!(format_scaled(0, 3, DecimalStyle::Fixed).as_str(), "0.000");
        assert_eq!(format_scaled(0, 3, DecimalStyle::Trimmed).as_str(), "0");
        assert_eq!(format_scaled(i64::MIN as i128, 0, DecimalStyle::Fixed).as_str(), "-9223372036854775808");
        assert_eq!(
            format_scaled(i128::MIN, 18, DecimalStyle::Trimmed).as_str(),
            "-170141183460469231731.687303715884105728"
        );
    }

    #[test]
    fn significant_decimals_of_tick_sizes() {
        assert_eq!(significant_decimals("0.01000000"), Ok(2));
        assert_eq!(significant_decimals("1e-5"), Ok(5));
        assert_eq!(significant_decimals("10"), Ok(0));
        assert_eq!(significant_decimals("0.5"), Ok(1));
    }

    proptest! {
        #[test]
        fn round_trip_value_text_value(units in any::<i64>(), scale in 0u8..=18) {
            for style in [DecimalStyle::Fixed, DecimalStyle::Trimmed] {
                let text = format_scaled(units as i128, scale, style);
                prop_assert_eq!(parse_scaled(text.as_str(), scale), Ok(units), "{}", text);
            }
        }

        #[test]
        fn round_trip_text_value_text(int in "(0|[1-9][0-9]{0,8})", frac in "[0-9]{0,8}", neg in any::<bool>()) {
            // A canonical fixed-style decimal with exactly `frac.len()` decimals survives text → value → text.
            let text = if frac.is_empty() { int.clone() } else { format!("{int}.{frac}") };
            let text = if neg && text.bytes().any(|b| b != b'0' && b != b'.') { format!("-{text}") } else { text };
            let scale = frac.len() as u8;
            let units = parse_scaled(&text, scale).unwrap();
            let back = format_scaled(units as i128, scale, DecimalStyle::Fixed);
            prop_assert_eq!(back.as_str(), text.as_str());
        }

        #[test]
        fn exact_against_integer_reference(a in -10_000_000i64..10_000_000, scale in 0u8..=10, extra in 0u8..=8) {
            // Text with `scale` decimals parses at any larger scale to the value times a power of ten,
            // and at a smaller scale only when the dropped digits are zeros.
            let text = format_scaled(a as i128, scale, DecimalStyle::Fixed);
            let bigger = scale + extra;
            prop_assert_eq!(parse_scaled(text.as_str(), bigger), Ok(a * pow10(extra)));
            if scale > 0 {
                let smaller = parse_scaled(text.as_str(), scale - 1);
                if a % 10 == 0 {
                    prop_assert_eq!(smaller, Ok(a / 10));
                } else {
                    prop_assert_eq!(smaller.unwrap_err().kind(), DecimalErrorKind::TooPrecise);
                }
            }
        }

        #[test]
        fn exponent_form_equals_plain_form(m in 1i64..1_000_000, e in -6i32..6) {
            let text = format!("{m}e{e}");
            let plain = parse_scaled(&text, 6).unwrap();
            let expect = (m as i128) * pow10_i128((6 + e) as u32);
            prop_assert_eq!(plain as i128, expect);
        }

        #[test]
        fn fast_path_equals_general_parser(text in "[+-]?[0-9]{0,21}(\\.[0-9]{0,21})?([eE][+-]?[0-9]{1,2})?", scale in 0u8..=19) {
            let general = parse_scaled_i128(text.as_bytes(), scale)
                .and_then(|v| i64::try_from(v).map_err(|_| DecimalError::new(DecimalErrorKind::Overflow, text.as_bytes(), scale)));
            prop_assert_eq!(parse_scaled(&text, scale), general, "{}", text);
            if let Some(fast) = parse_plain(text.as_bytes(), scale) {
                prop_assert_eq!(Ok(fast), general, "{}", text);
            }
            if scale <= MAX_SCALE && let Some(swar) = parse_plain_swar(text.as_bytes(), scale) {
                prop_assert_eq!(Ok(swar), general, "{}", text);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64), scale in 0u8..=20) {
            let _ = parse_scaled_bytes(&bytes, scale);
        }
    }
}
