//! Payload encodings: the fixed-layout, versioned, little-endian bytes of the core records the
//! engine journals, one module per record. Every field is written explicitly (no
//! transmute, no `repr(C)` image), so the bytes on disk do not depend on the compiler's layout.
//!
//! | record                              | [`RecordType`]                  | id | version | length |
//! |-------------------------------------|---------------------------------|----|---------|--------|
//! | [`qt_core::MarketEvent`]            | [`RecordType::MarketEvent`]     | 2  | 1       | 64     |
//! | [`qt_core::risk_api::DecisionRecord`] | [`RecordType::RiskDecision`]  | 5  | 1       | 104    |
//! | [`qt_core::OrderCommand`]           | [`RecordType::OrderCommand`]    | 6  | 1       | 56     |
//! | [`qt_core::ExecutionReport`]        | [`RecordType::ExecutionReport`] | 7  | 1       | 88     |
//!
//! Each module ([`market`], [`command`], [`report`], [`risk`]) draws its offset tables and has
//! `encode_into(&T, &mut [u8; LEN]) -> usize` (no allocation: the journal thread calls it per
//! record into a reused buffer) and `decode(&[u8], version) -> Result<T, PayloadError>`, which
//! refuses a payload of the wrong length, an unknown version, an unknown tag or an out-of-range
//! enum value with an error naming the record and the field; it never panics on bad bytes.
//! Enum codes are this format's own explicit numbers (listed per module), not Rust
//! discriminants, so reordering a core enum cannot silently change the journal (except in
//! [`risk`], whose codes are the core `DecisionRecord`'s own, pinned by a test). The [`Payload`]
//! trait gives the same per type generically; [`decode_record`] decodes a read-back
//! [`Record`] after checking its type.
//!
//! Bytes the layout marks reserved are written as zero and ignored on read in version 1; a
//! later version may give them meaning. Payloads are fixed-length per (type, version): a
//! version that adds fields gets a new number and a new length, and `decode` keeps reading the
//! old ones.

/// `impl Payload` for a record type from its module's `RECORD_TYPE`, `VERSION`, `LEN`, `NAME`,
/// `encode_into` and `decode`.
macro_rules! impl_payload {
    ($t:ty) => {
        impl $crate::payload::Payload for $t {
            const RECORD_TYPE: $crate::format::RecordType = RECORD_TYPE;
            const VERSION: u16 = VERSION;
            const LEN: usize = LEN;

            fn encode(&self, out: &mut [u8]) -> Result<usize, PayloadError> {
                Ok(encode_into(self, $crate::payload::front::<LEN>(out, NAME)?))
            }

            fn decode(bytes: &[u8], version: u16) -> Result<Self, PayloadError> {
                decode(bytes, version)
            }
        }
    };
}
use impl_payload;

pub mod command;
pub mod control;
pub mod core_record;
pub mod market;
pub mod raw;
pub mod report;
pub mod risk;
pub mod state;
pub mod text;

use crate::format::{Record, RecordType};

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload is not this (type, version)'s fixed length (truncated, or not this record).
    #[error("{record} payload is {got} bytes, version {version} is {expected}")]
    Length {
        /// Record being decoded.
        record: &'static str,
        /// Payload version.
        version: u16,
        /// Length this version has.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// A payload version this build does not read.
    #[error("{record} payload version {version} is unknown to this build")]
    UnknownVersion {
        /// Record being decoded.
        record: &'static str,
        /// Version found.
        version: u16,
    },
    /// A tag, enum code or flag byte outside the values the format defines.
    #[error("{record}.{field}: value {value} is not defined")]
    BadValue {
        /// Record being decoded.
        record: &'static str,
        /// The field holding it.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// The record read back is of another type than the one asked for.
    #[error("record type {found:?} is not a {expected:?}")]
    WrongType {
        /// Type asked for.
        expected: RecordType,
        /// Type found.
        found: RecordType,
    },
    /// A caller buffer too small for the encoding.
    #[error("{record} needs a {need}-byte buffer, got {got}")]
    BufferTooSmall {
        /// Record being encoded.
        record: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes offered.
        got: usize,
    },
}

/// A core record with a journal payload encoding.
pub trait Payload: Sized {
    /// The record type its frames carry.
    const RECORD_TYPE: RecordType;
    /// The payload version this build writes.
    const VERSION: u16;
    /// The payload length of [`Self::VERSION`].
    const LEN: usize;

    /// Encode into the front of `out`; the length written (always [`Self::LEN`]). No allocation.
    fn encode(&self, out: &mut [u8]) -> Result<usize, PayloadError>;

    /// Decode a payload of `version`.
    fn decode(bytes: &[u8], version: u16) -> Result<Self, PayloadError>;
}

/// The longest payload of any type here: a buffer this long fits every encoding.
pub const MAX_LEN: usize = {
    let lens = [
        market::LEN,
        command::LEN,
        report::LEN,
        risk::LEN,
        control::COMMAND_LEN,
        control::ANSWER_LEN,
        state::BOOK_LEN,
        state::RISK_STATE_LEN,
        state::TIMER_LEN,
        state::FAILOVER_LEN,
    ];
    let mut max = 0;
    let mut i = 0;
    while i < lens.len() {
        if lens[i] > max {
            max = lens[i];
        }
        i += 1;
    }
    max
};

/// Decode a record read back from the journal as `T`, refusing a record of another type.
pub fn decode_record<T: Payload>(record: &Record<'_>) -> Result<T, PayloadError> {
    if record.entry.kind != T::RECORD_TYPE {
        return Err(PayloadError::WrongType { expected: T::RECORD_TYPE, found: record.entry.kind });
    }
    T::decode(record.entry.payload, record.entry.payload_version)
}

/// The fixed-size front of `out`, or the typed refusal.
fn front<'a, const N: usize>(out: &'a mut [u8], record: &'static str) -> Result<&'a mut [u8; N], PayloadError> {
    let got = out.len();
    out.get_mut(..N).and_then(|s| <&mut [u8; N]>::try_from(s).ok()).ok_or(PayloadError::BufferTooSmall {
        record,
        need: N,
        got,
    })
}

/// Checks `version` is 1 and `bytes` its length `N`; the bytes as a fixed array.
fn check_v1<'a, const N: usize>(
    bytes: &'a [u8],
    version: u16,
    record: &'static str,
) -> Result<&'a [u8; N], PayloadError> {
    if version != 1 {
        return Err(PayloadError::UnknownVersion { record, version });
    }
    <&[u8; N]>::try_from(bytes).map_err(|_| PayloadError::Length { record, version, expected: N, got: bytes.len() })
}

/// Little-endian field writes at fixed offsets (the offsets are the layout constants, all in
/// bounds of the fixed-size buffer).
struct Put<'a>(&'a mut [u8]);

impl Put<'_> {
    fn u8(&mut self, at: usize, v: u8) {
        self.0[at] = v;
    }
    fn u16(&mut self, at: usize, v: u16) {
        self.0[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, at: usize, v: u32) {
        self.0[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, at: usize, v: u64) {
        self.0[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, at: usize, v: i64) {
        self.0[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn i128(&mut self, at: usize, v: i128) {
        self.0[at..at + 16].copy_from_slice(&v.to_le_bytes());
    }
}

/// Little-endian field reads at fixed offsets of a payload whose length was checked.
struct Get<'a> {
    b: &'a [u8],
    record: &'static str,
}

impl Get<'_> {
    fn bytes<const W: usize>(&self, at: usize) -> [u8; W] {
        let mut a = [0u8; W];
        a.copy_from_slice(&self.b[at..at + W]);
        a
    }
    fn u8(&self, at: usize) -> u8 {
        self.b[at]
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.bytes(at))
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes(at))
    }
    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.bytes(at))
    }
    fn i128(&self, at: usize) -> i128 {
        i128::from_le_bytes(self.bytes(at))
    }
    /// The byte at `at` looked up in `table` (index = code), or `BadValue` naming `field`.
    fn code<T: Copy>(&self, at: usize, field: &'static str, table: &[T]) -> Result<T, PayloadError> {
        let v = self.u8(at);
        table.get(usize::from(v)).copied().ok_or(self.bad(field, u64::from(v)))
    }
    /// A 0/1 byte.
    fn flag(&self, at: usize, field: &'static str) -> Result<bool, PayloadError> {
        self.code(at, field, &[false, true])
    }
    fn bad(&self, field: &'static str, value: u64) -> PayloadError {
        PayloadError::BadValue { record: self.record, field, value }
    }
}

/// Codes of [`qt_core::Side`]: 0 buy, 1 sell.
const SIDES: [qt_core::Side; 2] = [qt_core::Side::Buy, qt_core::Side::Sell];

/// The code of a side.
fn side_code(s: qt_core::Side) -> u8 {
    match s {
        qt_core::Side::Buy => 0,
        qt_core::Side::Sell => 1,
    }
}
