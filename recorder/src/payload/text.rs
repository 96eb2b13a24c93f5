//! Variable-length text payloads written by the `qt run` main thread, not the core:
//! [`crate::RecordType::Config`] (id 1, once at start: the configuration text and its SHA-256, so a
//! replay runs the same settings and can tell whether a given file is the same) and
//! [`crate::RecordType::Reconciliation`] (id 14: a reconciliation's result, as readable text). Version 1.
//!
//! ```text
//!  offset  size  field
//!   0      32    SHA-256 of the text (Config); zero (Reconciliation)
//!  32      4     text length u32
//!  36      4     reserved
//!  40      n     text, UTF-8
//! ```

use sha2::{Digest, Sha256};

use super::PayloadError;
use crate::format::RecordType;

/// Payload version written.
pub const VERSION: u16 = 1;
/// Bytes before the text.
pub const HEADER_LEN: usize = 40;

/// A decoded text record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRecord {
    /// SHA-256 of `text` (Config), zero otherwise.
    pub hash: [u8; 32],
    /// The text.
    pub text: String,
}

/// The SHA-256 of `text`.
pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The payload of a text record of `kind` (the hash is computed for Config).
pub fn encode(kind: RecordType, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + text.len());
    let hash = if kind == RecordType::Config { sha256(text) } else { [0; 32] };
    out.extend_from_slice(&hash);
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(text.as_bytes());
    out
}

/// Decode a text payload; a Config record's hash must match its text.
pub fn decode(kind: RecordType, bytes: &[u8], version: u16) -> Result<TextRecord, PayloadError> {
    let record = if kind == RecordType::Config { "Config" } else { "Reconciliation" };
    if version != VERSION {
        return Err(PayloadError::UnknownVersion { record, version });
    }
    let bad = |field, value| PayloadError::BadValue { record, field, value };
    let header = bytes.get(..HEADER_LEN).ok_or(PayloadError::Length {
        record,
        version,
        expected: HEADER_LEN,
        got: bytes.len(),
    })?;
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&header[..32]);
    let len = u32::from_le_bytes([header[32], header[33], header[34], header[35]]) as usize;
    if bytes.len() != HEADER_LEN + len {
        return Err(PayloadError::Length { record, version, expected: HEADER_LEN + len, got: bytes.len() });
    }
    let text = std::str::from_utf8(&bytes[HEADER_LEN..]).map_err(|e| bad("text", e.valid_up_to() as u64))?;
    if kind == RecordType::Config && sha256(text) != hash {
        return Err(bad("hash", 0));
    }
    Ok(TextRecord { hash, text: text.to_string() })
}
