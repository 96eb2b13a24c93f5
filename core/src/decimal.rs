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
/// Always inlined (as are [`parse_plain`] and the feed's `json::scaled`): out of line, the call,
/// its saved registers and the `Result` returned through memory were a sizeable share of a venue
/// string's cost (BENCHMARKS.md, `decimal`).
#[inline(always)]
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
pub const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The fast path of [`parse_scaled_bytes`]: `[+-]digits[.digits]` with at most 19 digits once
/// scaled, no exponent, no significant decimal beyond `scale`. Accumulates in `u64` with plain
/// (wrapping) arithmetic and checks the digit count once at the end instead of a checked 128-bit
/// multiply per digit; decimals beyond `scale` are only compared with `'0'`. `None` means "not
/// this form": the caller reruns the general parser, which also produces every error.
///
/// This `u64` path costs a fraction of the `i128` parser's instructions per venue string
/// (BENCHMARKS.md, `decimal`). An eight-digits-at-a-time (SWAR) variant of the whole loop
/// was tried and dropped: more instructions, and no faster. Texts of at most eight bytes after
/// the sign take one word first ([`short_plain`]); the loop is for the longer ones.
#[inline(always)]
fn parse_plain(bytes: &[u8], scale: u8) -> Option<i64> {
    if scale > MAX_SCALE {
        return None;
    }
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if let Some(units) = short_plain(digits, scale) {
        return Some(if negative { -(units as i64) } else { units as i64 });
    }
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
        if let Some((value, swar_kept)) = eight_fraction_digits(frac, scale) {
            // Zero-padded fractions (Binance's fixed 8 decimals) in one 8-byte step.
            if frac[8..].iter().any(|&b| b != b'0') {
                return None;
            }
            let acc = acc.wrapping_mul(POW10_U64[swar_kept]).wrapping_add(value);
            return finish_plain(negative, acc, int_digits, frac.len(), swar_kept, scale);
        }
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
    finish_plain(negative, acc, int_digits, frac_digits, kept, scale)
}

/// [`parse_plain`] of a text of at most eight bytes (after the sign) in one word: the `.` found
/// and squeezed out by bit arithmetic, the digits checked and converted at once
/// ([`eight_digits_value`]), decimals beyond `scale` checked to be '0's and shifted out. `None`
/// for anything else (the byte loop then decides), so the result is always the loop's.
#[inline(always)]
fn short_plain(digits: &[u8], scale: u8) -> Option<u64> {
    let n = digits.len();
    if n == 0 || n > 8 {
        return None;
    }
    // The n bytes, little-endian, zero above: two overlapping loads for 4..=8 bytes.
    let word = if n >= 4 {
        let lo = u32::from_le_bytes(digits[..4].try_into().ok()?);
        let hi = u32::from_le_bytes(digits[n - 4..].try_into().ok()?);
        u64::from(lo) | (u64::from(hi) << (8 * (n - 4)))
    } else {
        digits.iter().rev().fold(0u64, |w, &b| (w << 8) | u64::from(b))
    };
    // The first `.` (the padding is 0, never a dot).
    let p = first_dot(word);
    let (squeezed, int_digits, count) = if p == 8 {
        (word, n, n)
    } else {
        // Bytes below the dot stay, those above move down one.
        let low = (1u64 << (8 * p)) - 1;
        ((word & low) | ((word >> 8) & !low), p, n - 1)
    };
    let (frac_digits, scale) = (count - int_digits, usize::from(scale));
    if count == 0 || int_digits + scale > 19 {
        return None;
    }
    // The `count` digits at the end of eight, led by '0's.
    let mut aligned = if count == 8 { squeezed } else { led_by_zeros(squeezed, count) };
    if !all_digits_word(aligned) {
        return None;
    }
    let kept = frac_digits.min(scale);
    if kept < frac_digits {
        // Decimals beyond the scale (the last digits: the word's high bytes) must be '0's;
        // dropped by shifting them out and leading with '0's again.
        let extra = 8 * (frac_digits - kept);
        if aligned >> (64 - extra) != ZEROS >> (64 - extra) {
            return None;
        }
        aligned = (aligned << extra) | (ZEROS >> (64 - extra));
    }
    let units = eight_digits_value(aligned) * POW10_U64[scale - kept];
    (units <= i64::MAX as u64).then_some(units)
}

/// The end of [`parse_plain`]: the digit-count check, the scaling and the sign.
#[inline(always)]
fn finish_plain(
    negative: bool,
    acc: u64,
    int_digits: usize,
    frac_digits: usize,
    kept: usize,
    scale: u8,
) -> Option<i64> {
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

/// ASCII `'0'` in every byte of a word.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The first eight bytes of a fraction of at least eight bytes at a `scale` of at most 8, read
/// as one little-endian word: `(value of the first scale digits, scale)` if all eight are digits
/// and those beyond `scale` are `'0'`; `None` otherwise (the byte loop then decides). Bytes after
/// the eighth are the caller's. The digit test and the conversion are the standard SWAR ones (a
/// byte is a digit iff its high nibble is 3 and adding 6 keeps it so; three multiply-shift steps
/// fold 8 digits into 4, 2, 1 numbers).
///
/// It replaces the per-digit and trailing-zero loops for Binance's zero-padded 8-decimal
/// fractions (BENCHMARKS.md, `decimal`). OKX's shortest-form strings rarely have 8 decimals and
/// keep the loop.
#[inline(always)]
fn eight_fraction_digits(frac: &[u8], scale: u8) -> Option<(u64, usize)> {
    let keep = usize::from(scale);
    if keep > 8 {
        return None;
    }
    let word = u64::from_le_bytes(frac.get(..8)?.try_into().ok()?);
    if !all_digits_word(word) {
        return None;
    }
    if keep == 8 {
        return Some((eight_digits_value(word), 8));
    }
    // Bytes `keep..8` are the word's high bytes: all '0', or not this form.
    if word >> (8 * keep) != ZEROS >> (8 * keep) {
        return None;
    }
    if keep == 0 {
        return Some((0, 0));
    }
    // Move the kept digits to the end of the eight and lead with '0's: their value, unscaled.
    Some((eight_digits_value(led_by_zeros(word, keep)), keep))
}

/// A decimal of fixed layout at the start of `bytes`: one to seven digits, a `.`, exactly eight
/// digits (how Binance spot writes every price and quantity: `"30000.12000000"`), read as units
/// of `10^-scale`: `(units, length read)`. `None` for anything else — another layout, a sign,
/// a non-digit, a scale above 8, a decimal beyond `scale` that is not `'0'` — and the caller
/// parses the text the general way ([`parse_scaled_bytes`]), so a text this accepts has exactly
/// the value that one gives. Bytes after the eighth decimal are the caller's (a closing quote).
///
/// Two word loads and no loop: the `.` is found in the first eight bytes by bit arithmetic
/// ([`first_dot`]), the integer digits are moved to the end of a word led by `'0'`s and go through
/// the SWAR digit test and conversion ([`all_digits_word`], [`eight_digits_value`]), and the
/// eight decimals through the zero-padded fraction's one-word read ([`eight_fraction_digits`]).
#[inline(always)]
pub fn parse_fixed8(bytes: &[u8], scale: u8) -> Option<(u64, usize)> {
    let head = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let dot = first_dot(head);
    if dot == 0 || dot >= 8 {
        return None;
    }
    // The `dot` integer digits at the end of a word, led by '0's.
    let int_word = led_by_zeros(head, dot);
    if !all_digits_word(int_word) {
        return None;
    }
    // The eight decimals: the zero-padded fraction's one-word read (a scale above 8: `None`).
    let (frac, keep) = eight_fraction_digits(bytes.get(dot + 1..)?, scale)?;
    Some((eight_digits_value(int_word) * POW10_U64[keep] + frac, dot + 9))
}

/// The digits leading `bytes` (`[0-9]+`, at most 15) as a `u64`, and how many there are: two
/// word loads and no loop (the first non-digit is found by bit arithmetic, [`digit_run`]).
/// `None` when no digit leads, when the first 16 bytes are all digits, or when fewer than 16
/// bytes are readable — the caller then scans the general way ([`parse_digits_u64`]), which gives
/// the same value for a run this reads. Venue update ids and millisecond times (10 to 13
/// digits) inside a frame take this.
#[inline(always)]
pub fn leading_digits(bytes: &[u8]) -> Option<(u64, usize)> {
    let lo = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let hi = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
    let n = digit_run(lo);
    if n < 8 {
        return (n > 0).then(|| (last_digits_value(lo, n), n));
    }
    let m = digit_run(hi);
    if m == 8 {
        return None;
    }
    let tail = if m == 0 { 0 } else { last_digits_value(hi, m) };
    Some((eight_digits_value(lo) * POW10_U64[m] + tail, 8 + m))
}

/// How many of a word's bytes, from its first (lowest), are ASCII digits before the first that
/// is not (8: all of them). Bytes after the first non-digit do not matter: the `+ 6` of the digit
/// test carries only out of a non-digit byte, into a later one.
#[inline(always)]
fn digit_run(word: u64) -> usize {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = non_digit_bytes(word);
    // The high bit of every non-zero byte of `x` (exact: no carry leaves a byte).
    let non_digits = (((x & LOW7) + LOW7) | x) & !LOW7;
    (non_digits.trailing_zeros() / 8) as usize
}

/// The value of a word's first `n` bytes (`1..=7`, all digits): moved to the end of a word led
/// by `'0'`s.
#[inline(always)]
fn last_digits_value(word: u64, n: usize) -> u64 {
    eight_digits_value(led_by_zeros(word, n))
}

/// A word's first `n` bytes (`1..=7`) moved to its end and led by `8 - n` `'0'`s: as eight
/// digits, the same number.
#[inline(always)]
fn led_by_zeros(word: u64, n: usize) -> u64 {
    (word << (8 * (8 - n))) | (ZEROS >> (8 * n))
}

/// The index of a word's first `.` byte (8: none). The lowest zero byte of `word ^ '.'…` by the
/// standard bit trick, which is exact for the lowest one.
#[inline(always)]
fn first_dot(word: u64) -> usize {
    const DOTS: u64 = 0x2e2e_2e2e_2e2e_2e2e;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = word ^ DOTS;
    ((x.wrapping_sub(ONES) & !x & HIGH).trailing_zeros() / 8) as usize
}

/// Zero in every byte of `word` that is an ASCII digit, non-zero elsewhere: a digit's high
/// nibble is 3 and stays 3 once 6 is added. The `+ 6` carries only out of a non-digit byte.
#[inline(always)]
fn non_digit_bytes(word: u64) -> u64 {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let t = (word & HIGH_NIBBLES) | ((word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) >> 4);
    t ^ 0x3333_3333_3333_3333
}

/// Whether all eight bytes of `word` are ASCII digits.
#[inline(always)]
fn all_digits_word(word: u64) -> bool {
    non_digit_bytes(word) == 0
}

/// The value of eight ASCII digits (the first most significant), or `None` if one is not a
/// digit: one word test and three multiply-shift steps instead of a loop over the bytes.
#[inline(always)]
pub fn eight_digits(bytes: &[u8; 8]) -> Option<u64> {
    let word = u64::from_le_bytes(*bytes);
    all_digits_word(word).then(|| eight_digits_value(word))
}

/// `[0-9]+` as a `u64` (sequence numbers, ids, timestamps sent as digit strings), or `None` if
/// empty, not all digits, or above `u64::MAX`. Up to 19 digits cannot overflow: they are read
/// eight at a time ([`eight_digits`]) and the rest one by one; a 20-digit text takes the checked
/// byte loop. KuCoin sends a 13-digit sequence with every level change, where the checked
/// per-digit loop was a visible share of a message (BENCHMARKS.md, `decimal`).
#[inline]
pub fn parse_digits_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    if bytes.len() > 19 {
        return parse_digits_u64_checked(bytes);
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut acc: u64 = 0;
    for chunk in &mut chunks {
        let eight: &[u8; 8] = chunk.try_into().ok()?;
        acc = acc * 100_000_000 + eight_digits(eight)?;
    }
    for &b in chunks.remainder() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc * 10 + u64::from(d);
    }
    Some(acc)
}

#[cold]
fn parse_digits_u64_checked(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() { acc.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None }
    })
}

/// The value of eight ASCII digits loaded little-endian (first digit most significant).
#[inline(always)]
fn eight_digits_value(word: u64) -> u64 {
    let v = (word & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32
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
    fn digit_strings_to_u64() {
        assert_eq!(parse_digits_u64(b"0"), Some(0));
        assert_eq!(parse_digits_u64(b"14701689783"), Some(14_701_689_783));
        assert_eq!(parse_digits_u64(b"12345678"), Some(12_345_678));
        assert_eq!(parse_digits_u64(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
        assert_eq!(parse_digits_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_digits_u64(b"000000000000000000001"), Some(1));
        for bad in [&b""[..], b"18446744073709551616", b"1a", b"-1", b" 1", b"1234567a", b"12345678/", b"1.0"] {
            assert_eq!(parse_digits_u64(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    proptest! {
        /// Any byte string: the same answer as `str::parse` restricted to ASCII digits.
        #[test]
        fn digit_strings_agree_with_std(bytes in proptest::collection::vec(prop_oneof![8 => b'0'..=b'9', 1 => any::<u8>()], 0..24)) {
            let expected = if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(&bytes).unwrap().parse::<u64>().ok()
            } else {
                None
            };
            prop_assert_eq!(parse_digits_u64(&bytes), expected);
        }
    }

    #[test]
    fn eight_digits_reads_exactly_eight_ascii_digits() {
        for v in [0u64, 1, 9, 10, 12_345_678, 99_999_999, 10_000_000, 45_285_201] {
            let text = format!("{v:08}");
            assert_eq!(eight_digits(text.as_bytes().try_into().unwrap()), Some(v), "{text}");
        }
        for at in 0..8 {
            for bad in [b'/', b':', b'.', b'-', b' ', b'a', 0x30 | 0x80, 0xb9, 0] {
                let mut word = *b"12345678";
                word[at] = bad;
                assert_eq!(eight_digits(&word), None, "{word:?}");
            }
        }
    }

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
    fn fast_path_on_venue_forms() {
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
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64), scale in 0u8..=20) {
            let _ = parse_scaled_bytes(&bytes, scale);
        }
    }

    /// The public parser and the fast path (when it accepts) agree with the general `i128` parser.
    fn fast_equals_general(text: &str, scale: u8) -> Result<(), proptest::test_runner::TestCaseError> {
        let general = parse_scaled_i128(text.as_bytes(), scale).and_then(|v| {
            i64::try_from(v).map_err(|_| DecimalError::new(DecimalErrorKind::Overflow, text.as_bytes(), scale))
        });
        prop_assert_eq!(parse_scaled(text, scale), general, "{}", text);
        if let Some(fast) = parse_plain(text.as_bytes(), scale) {
            prop_assert_eq!(Ok(fast), general, "{}", text);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn zero_padded_fractions_equal_general_parser(text in "[+-]?[0-9]{0,12}\\.[0-9]{0,9}0{0,10}[0-9a./]{0,2}", scale in 0u8..=10) {
            fast_equals_general(&text, scale)?;
        }

        #[test]
        fn fast_path_equals_general_parser(text in "[+-]?[0-9]{0,21}(\\.[0-9]{0,21})?([eE][+-]?[0-9]{1,2})?", scale in 0u8..=19) {
            fast_equals_general(&text, scale)?;
        }

        /// Texts of up to nine bytes (the one-word path takes eight after a sign): digits,
        /// dots anywhere, bytes next to the digits in ASCII, signs.
        #[test]
        fn short_texts_equal_general_parser(text in "[+-]?[0-9./:]{0,8}", scale in 0u8..=19) {
            fast_equals_general(&text, scale)?;
        }

        /// The fixed layout (1–7 digits, `.`, 8 digits) and texts near it — other lengths, other
        /// bytes, a quote after — read exactly as the general parser reads the same text.
        #[test]
        fn fixed8_equals_general_parser(
            text in "[+-]?[0-9/:]{0,8}\\.?[0-9/:.]{0,9}\"?[0-9]{0,3}",
            scale in 0u8..=10,
        ) {
            fixed8_equals_general(&text, scale)?;
        }

        #[test]
        fn fixed8_reads_the_fixed_layout(int in "[0-9]{1,7}", frac in "[0-9]{0,8}", scale in 0u8..=8) {
            let text = format!("{int}.{frac:0<8}\"");
            fixed8_equals_general(&text, scale)?;
            // Every such text with nothing significant beyond the scale is read this way.
            let beyond_zero = text[int.len() + 1 + usize::from(scale)..int.len() + 9].bytes().all(|b| b == b'0');
            prop_assert_eq!(parse_fixed8(text.as_bytes(), scale).is_some(), beyond_zero);
        }
    }

    /// What [`parse_fixed8`] accepts the general parser reads to the same value, from the same
    /// bytes.
    fn fixed8_equals_general(text: &str, scale: u8) -> Result<(), TestCaseError> {
        if let Some((units, len)) = parse_fixed8(text.as_bytes(), scale) {
            let general = parse_scaled_bytes(&text.as_bytes()[..len], scale);
            prop_assert_eq!(Ok(units as i64), general, "{:?} at scale {}", text, scale);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Digits, then anything: the run and its value are the byte scan's.
        #[test]
        fn leading_digits_equal_the_scan(text in "[0-9]{0,18}[^0-9]{0,1}[ -~]{0,18}") {
            let bytes = text.as_bytes();
            let run = bytes.iter().position(|b| !b.is_ascii_digit()).unwrap_or(bytes.len());
            match leading_digits(bytes) {
                Some((value, len)) => {
                    prop_assert_eq!(len, run);
                    prop_assert_eq!(Some(value), parse_digits_u64(&bytes[..run]));
                }
                None => prop_assert!(run == 0 || run >= 16 || bytes.len() < 16, "{:?}", text),
            }
        }
    }

    #[test]
    fn leading_digits_examples() {
        assert_eq!(leading_digits(b"1700000000123,\"s\":\"BTC"), Some((1_700_000_000_123, 13)));
        assert_eq!(leading_digits(b"7,\"u\":12345678901234"), Some((7, 1)));
        assert_eq!(leading_digits(b"12345678,\"u\":123456789"), Some((12_345_678, 8)));
        assert_eq!(leading_digits(b"123456789012345,\"b\""), Some((123_456_789_012_345, 15)));
        assert_eq!(leading_digits(b"1234567890123456,\"b\""), None);
        assert_eq!(leading_digits(b",123456789012345678"), None);
        assert_eq!(leading_digits(b"123"), None);
        // A byte just past '9' or before '0', and bytes that carry when 6 is added.
        assert_eq!(leading_digits(b"12:45678901234567"), Some((12, 2)));
        assert_eq!(leading_digits(b"12/45678901234567"), Some((12, 2)));
        assert_eq!(leading_digits(&[b'1', 0xFF, b'2', b'3', 0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Some((1, 1)));
    }

    #[test]
    fn fixed8_examples() {
        assert_eq!(parse_fixed8(b"30000.12000000\"", 2), Some((3_000_012, 14)));
        assert_eq!(parse_fixed8(b"0.00123400\"", 6), Some((1_234, 10)));
        assert_eq!(parse_fixed8(b"1234567.12345678", 8), Some((123_456_712_345_678, 16)));
        assert_eq!(parse_fixed8(b"0.00000000", 0), Some((0, 10)));
        // Beyond the scale, not zero; eight integer digits; seven decimals; a sign; scale 9.
        assert_eq!(parse_fixed8(b"0.00123400", 5), None);
        assert_eq!(parse_fixed8(b"12345678.00000000", 2), None);
        assert_eq!(parse_fixed8(b"1.0000000\"", 2), None);
        assert_eq!(parse_fixed8(b"-1.00000000", 2), None);
        assert_eq!(parse_fixed8(b"1.00000000", 9), None);
        assert_eq!(parse_fixed8(b".00000000", 2), None);
    }
}
