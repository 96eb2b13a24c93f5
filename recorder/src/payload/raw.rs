//! [`crate::RecordType::RawFrame`] (id 15, version 1): one raw venue frame as a live feed handed it to
//! its decoder (`[journal] raw_frames = true`; see `qt_core::journal_raw`). Variable length.
//!
//! ```text
//!  offset  size  field
//!   0      2     feed index u16 (the engine's feed order)
//!   2      1     kind u8: 1 WebSocket frame, 2 WebSocket binary, 3 REST snapshot body, 4 REST poll body
//!   3      1     reserved (0)
//!   4      4     symbol index u32 (a REST snapshot body's symbol; 0 otherwise)
//!   8      n     the bytes, exactly as received
//! ```

use super::PayloadError;

/// Payload version written.
pub const VERSION: u16 = 1;
/// Bytes before the frame's bytes.
pub const HEADER_LEN: usize = 8;
const NAME: &str = "RawFrame";

/// A decoded raw frame, borrowing its bytes from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// Feed index.
    pub feed: u16,
    /// Kind code (`qt_core::journal_raw::RawFrameKind::code`).
    pub kind: u8,
    /// Symbol index (REST snapshot bodies).
    pub symbol: u32,
    /// The frame.
    pub bytes: &'a [u8],
}

/// The payload header of a frame (the bytes follow it: append both, or use [`encode`]).
pub fn header(feed: u16, kind: u8, symbol: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..2].copy_from_slice(&feed.to_le_bytes());
    h[2] = kind;
    h[4..8].copy_from_slice(&symbol.to_le_bytes());
    h
}

/// The payload of `frame` into `out` (cleared first; reused by the journal thread).
pub fn encode(frame: &RawFrame<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&header(frame.feed, frame.kind, frame.symbol));
    out.extend_from_slice(frame.bytes);
}

/// Decodes a RawFrame payload; refuses an unknown version, a short payload or an unknown kind.
pub fn decode(bytes: &[u8], version: u16) -> Result<RawFrame<'_>, PayloadError> {
    if version != VERSION {
        return Err(PayloadError::UnknownVersion { record: NAME, version });
    }
    if bytes.len() < HEADER_LEN {
        return Err(PayloadError::Length { record: NAME, version, expected: HEADER_LEN, got: bytes.len() });
    }
    let kind = bytes[2];
    if !(1..=4).contains(&kind) {
        return Err(PayloadError::BadValue { record: NAME, field: "kind", value: u64::from(kind) });
    }
    Ok(RawFrame {
        feed: u16::from_le_bytes([bytes[0], bytes[1]]),
        kind,
        symbol: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        bytes: &bytes[HEADER_LEN..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_bad_payloads_are_refused() {
        let frame = RawFrame { feed: 3, kind: 3, symbol: 9, bytes: b"{\"lastUpdateId\":1}" };
        let mut out = Vec::new();
        encode(&frame, &mut out);
        assert_eq!(decode(&out, 1), Ok(frame));
        assert!(matches!(decode(&out, 2), Err(PayloadError::UnknownVersion { .. })));
        assert!(matches!(decode(&out[..7], 1), Err(PayloadError::Length { .. })));
        out[2] = 0;
        assert!(matches!(decode(&out, 1), Err(PayloadError::BadValue { field: "kind", .. })));
    }
}
