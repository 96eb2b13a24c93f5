//! The keyed MACs the venues sign with — HMAC-SHA256 (hex or base64) and HMAC-SHA512 (base64) —
//! computed over a request's parts in order, so the string to sign need not be assembled to
//! be signed.
//!
//! The key schedule is computed once per account ([`HmacSha256::new`]); signing clones it (a
//! copy, no allocation) and appends the encoded signature to a caller's buffer, which
//! allocates only if the buffer lacks the capacity.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};
use std::fmt;

const PARTS_CAPACITY: usize = 10;

/// Up to [`Parts::CAPACITY`] byte slices signed as if concatenated: what a venue's string to
/// sign is made of (`timestamp`, `method`, `path`, `?`, `query`, `body`, …).
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    items: [&'a [u8]; PARTS_CAPACITY],
    len: usize,
}

impl<'a> Parts<'a> {
    /// The most parts a venue's string to sign has (Firi's has eight).
    pub const CAPACITY: usize = PARTS_CAPACITY;

    /// No parts.
    pub fn new() -> Self {
        Self { items: [&[]; Self::CAPACITY], len: 0 }
    }

    /// Appends `part`. Every venue's string has fewer than [`Self::CAPACITY`] parts; a push
    /// beyond it is ignored, and the tests of each venue would catch the wrong signature.
    pub fn push(&mut self, part: &'a [u8]) -> &mut Self {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = part;
            self.len += 1;
        }
        self
    }

    /// Appends `part` (text).
    pub fn push_str(&mut self, part: &'a str) -> &mut Self {
        self.push(part.as_bytes())
    }

    /// The parts in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.items.iter().take(self.len).copied()
    }

    /// The parts concatenated, as text (every part comes from text, so this is lossless).
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(self.iter().map(<[u8]>::len).sum());
        for p in self.iter() {
            bytes.extend_from_slice(p);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Default for Parts<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Parts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Parts").field(&self.to_text()).finish()
    }
}

/// HMAC-SHA256 keyed once.
#[derive(Clone)]
pub struct HmacSha256 {
    mac: Hmac<Sha256>,
}

impl HmacSha256 {
    /// Keys the MAC with `key` (any length; HMAC hashes a long key).
    pub fn new(key: &[u8]) -> Self {
        Self { mac: keyed(key) }
    }

    /// The raw 32-byte MAC of `parts`.
    pub fn digest(&self, parts: &Parts<'_>) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for p in parts.iter() {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Appends the lower-case hex MAC of `parts` to `out` (64 characters).
    pub fn hex_into(&self, parts: &Parts<'_>, out: &mut String) {
        push_hex(out, &self.digest(parts));
    }

    /// Appends the standard base64 (padded) MAC of `parts` to `out` (44 characters).
    pub fn base64_into(&self, parts: &Parts<'_>, out: &mut String) {
        base64::engine::general_purpose::STANDARD.encode_string(self.digest(parts), out);
    }
}

impl fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key schedule is as good as the key: never printed.
        f.write_str("HmacSha256(..)")
    }
}

/// HMAC-SHA512 keyed once (Kraken).
#[derive(Clone)]
pub struct HmacSha512 {
    mac: Hmac<Sha512>,
}

impl HmacSha512 {
    /// Keys the MAC with `key`.
    pub fn new(key: &[u8]) -> Self {
        Self { mac: keyed(key) }
    }

    /// Appends the standard base64 (padded) MAC of `parts` to `out` (88 characters).
    pub fn base64_into(&self, parts: &Parts<'_>, out: &mut String) {
        let mut mac = self.mac.clone();
        for p in parts.iter() {
            mac.update(p);
        }
        base64::engine::general_purpose::STANDARD.encode_string(mac.finalize().into_bytes(), out);
    }
}

impl fmt::Debug for HmacSha512 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSha512(..)")
    }
}

/// A keyed HMAC. HMAC takes a key of any length (a long one is hashed first), so keying cannot
/// fail; the `Err` arm (unreachable for HMAC) falls back to the empty key rather than panic,
/// which yields signatures every venue refuses.
fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => <M as hmac::digest::KeyInit>::new(&Default::default()),
    }
}

/// SHA-256 of `parts` (Kraken hashes `nonce + postdata` before the MAC).
pub fn sha256(parts: &Parts<'_>) -> [u8; 32] {
    use sha2::Digest;
    let mut h = Sha256::new();
    for p in parts.iter() {
        h.update(p);
    }
    h.finalize().into()
}

/// Appends `bytes` as lower-case hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KuCoin's SDK unit test (`test_default_signer.py`): `HMAC("test_api_secret", "test_plain")`,
    /// VERIFIED in `testdata/kucoin/sign_example.txt` — the base64 HMAC-SHA256 primitive.
    #[test]
    fn reproduces_the_kucoin_sdk_primitive() {
        let mac = HmacSha256::new(b"test_api_secret");
        let mut out = String::new();
        mac.base64_into(Parts::new().push_str("test_plain"), &mut out);
        assert_eq!(out, "jie/gxS38wLFFaBwl/cAzFbAzlI8MIny96jSXrB+iP4=");
    }

    #[test]
    fn parts_sign_as_their_concatenation() {
        let mac = HmacSha256::new(b"k");
        let (mut a, mut b) = (String::new(), String::new());
        mac.hex_into(Parts::new().push_str("ab").push_str("").push_str("cd"), &mut a);
        mac.hex_into(Parts::new().push_str("abcd"), &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(Parts::new().push_str("ab").push_str("cd").to_text(), "abcd");
        // Past capacity, parts are dropped, never a panic.
        let mut p = Parts::new();
        for _ in 0..Parts::CAPACITY + 3 {
            p.push_str("x");
        }
        assert_eq!(p.to_text().len(), Parts::CAPACITY);
    }

    #[test]
    fn keys_never_print() {
        assert_eq!(format!("{:?}", HmacSha256::new(b"secret")), "HmacSha256(..)");
        assert_eq!(format!("{:?}", HmacSha512::new(b"secret")), "HmacSha512(..)");
    }
}
