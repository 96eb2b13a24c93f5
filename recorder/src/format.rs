//! The journal's on-disk format: segment header and record frame layouts, the record types, and
//! the pure (no I/O) encode/decode/validate functions the writer and reader share.
//!
//! A journal is a directory of preallocated, fixed-size segment files named
//! `NNNNNNNNNNNNNNNNNNNN.qtj` (the segment index, zero-padded to 20 digits). All integers are
//! little-endian. Every segment starts with a 128-byte header:
//!
//! ```text
//!   0                   1                   2                   3
//!   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!  +---------------------------------------------------------------+  0
//!  |                  magic  b"QTJOURNL" (8 bytes)                 |
//!  +-------------------------------+-------------------------------+  8
//!  |     format version (u16)      |     header length (u16)=128   |
//!  +-------------------------------+-------------------------------+ 12
//!  |                       reserved (u32) = 0                      |
//!  +---------------------------------------------------------------+ 16
//!  |                       journal id (u64)                        |
//!  +---------------------------------------------------------------+ 24
//!  |                      segment index (u64)                      |
//!  +---------------------------------------------------------------+ 32
//!  |              first sequence in this segment (u64)             |
//!  +---------------------------------------------------------------+ 40
//!  |               segment size in bytes (u64)                     |
//!  +---------------------------------------------------------------+ 48
//!  |        engine version, UTF-8, zero-padded (12 bytes)          |
//!  +---------------------------------------------------------------+ 60
//!  |               header CRC32C over bytes 0..60 (u32)            |
//!  +---------------------------------------------------------------+ 64  (own cache line)
//!  |   committed position (u64): end offset of the last committed  |
//!  |   frame; stored with Release AFTER the frames it covers       |
//!  +---------------------------------------------------------------+ 72
//!  |   durable position (u64): end offset up to which frames were  |
//!  |   msync'd successfully (0 = none); stored after the msync     |
//!  +---------------------------------------------------------------+ 80
//!  |                     reserved, zero (48 bytes)                 |
//!  +---------------------------------------------------------------+ 128 first frame
//! ```
//!
//! Bytes 0..64 are written once, when the segment is created (in a temporary file that is
//! renamed into place, so a reader never sees a half-written header). Only the committed and
//! durable positions change afterwards. Frames below the committed position survive a process
//! crash; frames below the durable position also survive a power loss, so damage found below it
//! on reopening is damage on disk, not a lost write.
//!
//! Each record is a frame, 8-byte aligned (the next frame starts at `align8(length)`):
//!
//! ```text
//!  +-------------------------------+-------------------------------+  0
//!  |  frame length (u32), header + payload, unaligned; 0 = empty   |
//!  +---------------------------------------------------------------+  4
//!  |  CRC32C (u32) over the length field, then bytes 8..length     |
//!  +-------------------------------+-------------------------------+  8
//!  |       record type (u16)       |    payload version (u16)      |
//!  +-------------------------------+-------------------------------+ 12
//!  |                       reserved (u32) = 0                      |
//!  +---------------------------------------------------------------+ 16
//!  |                        sequence (u64)                         |
//!  +---------------------------------------------------------------+ 24
//!  |                 domain timestamp, ns (i64)                    |
//!  +---------------------------------------------------------------+ 32
//!  |                monotonic timestamp, ns (i64)                  |
//!  +---------------------------------------------------------------+ 40
//!  |                      payload (length - 40)                    |
//!  +---------------------------------------------------------------+
//! ```
//!
//! **Commit protocol: the committed position, not a per-frame ready word.** The writer copies
//! whole frames into the mapping with plain stores, then publishes once per batch by storing the
//! committed position with `Release`. A reader loads it (`Relaxed` load + `Acquire` fence, the
//! pattern allowed on read-only mappings) and reads only frames that end at or before it, so it
//! never looks at bytes the writer may still be writing: one atomic per batch for both sides, and
//! the only shared-memory atomic in the format is this one aligned `u64`. The frame's length and
//! CRC are still checked on every read (a committed frame can be damaged on disk) and are what
//! recovery uses, because recovery must not trust a cached position (Chronicle Queue #1538).
//! The CRC covers the length too, so a corrupted length fails the check instead of sizing a read.
//!
//! A segment ends with an end-of-segment frame (type [`TYPE_END_OF_SEGMENT`], empty payload,
//! carrying the sequence the next segment starts at; it consumes no sequence number). The writer
//! always keeps room for it, writes it before creating the next segment, and readers move to the
//! next file only on seeing it, never by listing the directory.

use crate::error::Corruption;

/// The journal magic at offset 0 of every segment.
pub const MAGIC: [u8; 8] = *b"QTJOURNL";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Segment file extension.
pub const SEGMENT_EXTENSION: &str = "qtj";

/// Offsets inside the segment header.
pub mod header {
    /// `[u8; 8]` magic.
    pub const MAGIC: usize = 0;
    /// `u16` format version.
    pub const FORMAT_VERSION: usize = 8;
    /// `u16` header length.
    pub const HEADER_LEN: usize = 10;
    /// `u64` journal id.
    pub const JOURNAL_ID: usize = 16;
    /// `u64` segment index.
    pub const SEGMENT_INDEX: usize = 24;
    /// `u64` first sequence.
    pub const FIRST_SEQUENCE: usize = 32;
    /// `u64` segment size.
    pub const SEGMENT_SIZE: usize = 40;
    /// `[u8; 12]` engine version text.
    pub const ENGINE_VERSION: usize = 48;
    /// Length of the engine version field.
    pub const ENGINE_VERSION_LEN: usize = 12;
    /// `u32` CRC32C of bytes `0..HEADER_CRC`.
    pub const HEADER_CRC: usize = 60;
    /// `u64` committed position (atomic, 8-aligned, on its own cache line).
    pub const COMMITTED: usize = 64;
    /// `u64` durable position (atomic, 8-aligned; 0 until the first successful flush).
    pub const DURABLE: usize = 72;
    /// Total header length; the first frame starts here.
    pub const LEN: usize = 128;
}

/// Offsets inside a record frame.
pub mod frame {
    /// `u32` frame length (header + payload, unaligned).
    pub const LENGTH: usize = 0;
    /// `u32` CRC32C over the length field then bytes `TYPE..length`.
    pub const CRC: usize = 4;
    /// `u16` record type.
    pub const TYPE: usize = 8;
    /// `u16` payload version.
    pub const PAYLOAD_VERSION: usize = 10;
    /// `u64` sequence.
    pub const SEQUENCE: usize = 16;
    /// `i64` domain timestamp ns.
    pub const DOMAIN_TS: usize = 24;
    /// `i64` monotonic timestamp ns.
    pub const MONO_TS: usize = 32;
    /// Frame header length; the payload starts here.
    pub const HEADER_LEN: usize = 40;
    /// Frame alignment.
    pub const ALIGN: usize = 8;
}

const _: () = assert!(header::COMMITTED.is_multiple_of(8) && header::COMMITTED + 8 == header::DURABLE);
const _: () = assert!(header::DURABLE.is_multiple_of(8) && header::DURABLE + 8 <= header::LEN);
const _: () = assert!(header::ENGINE_VERSION + header::ENGINE_VERSION_LEN == header::HEADER_CRC);
const _: () = assert!(header::LEN.is_multiple_of(frame::ALIGN));
const _: () = assert!(frame::MONO_TS + 8 == frame::HEADER_LEN);
const _: () = assert!(frame::HEADER_LEN.is_multiple_of(frame::ALIGN));

/// Type id of the end-of-segment frame. Internal to the format; never handed to callers.
pub const TYPE_END_OF_SEGMENT: u16 = 0xFFFF;

/// Bytes every segment keeps free for its end-of-segment frame.
pub const END_OF_SEGMENT_LEN: usize = frame::HEADER_LEN;

/// What a record is. The numeric ids are part of the format: never renumber, only add.
/// Payload encodings are defined per type (and versioned by the frame's payload version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
#[non_exhaustive]
pub enum RecordType {
    /// The configuration text and its hash, at start.
    Config = 1,
    /// A normalized market event, in the order the core consumed it.
    MarketEvent = 2,
    /// A book invalidation or resync.
    BookInvalidation = 3,
    /// A strategy intent.
    Intent = 4,
    /// A risk gate decision with its inputs and reason.
    RiskDecision = 5,
    /// An order command sent to a gateway.
    OrderCommand = 6,
    /// An execution report from a venue.
    ExecutionReport = 7,
    /// A local refusal of an order.
    LocalRefusal = 8,
    /// A control command (who, what).
    ControlCommand = 9,
    /// The answer to a control command.
    ControlAnswer = 10,
    /// Emergency stop trip, latch or reset.
    Ess = 11,
    /// A global risk level change.
    GlobalRiskLevel = 12,
    /// A funding event.
    Funding = 13,
    /// A reconciliation result.
    Reconciliation = 14,
    /// A raw venue frame (optional).
    RawFrame = 15,
    /// The core's housekeeping timer fired (with the venues' health): an input replay re-drives.
    Timer = 16,
    /// The engine began its stop wind-down: strategies' actions are dropped from here on.
    Halt = 17,
    /// An account's selected venue changed (`exchange.failover`): an input replay re-drives.
    Failover = 18,
}

impl RecordType {
    /// Every record type, in id order.
    pub const ALL: [RecordType; 18] = [
        Self::Config,
        Self::MarketEvent,
        Self::BookInvalidation,
        Self::Intent,
        Self::RiskDecision,
        Self::OrderCommand,
        Self::ExecutionReport,
        Self::LocalRefusal,
        Self::ControlCommand,
        Self::ControlAnswer,
        Self::Ess,
        Self::GlobalRiskLevel,
        Self::Funding,
        Self::Reconciliation,
        Self::RawFrame,
        Self::Timer,
        Self::Halt,
        Self::Failover,
    ];

    /// The on-disk id.
    #[inline]
    pub fn id(self) -> u16 {
        self as u16
    }

    /// The snake_case name tools print and `--type` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::MarketEvent => "market_event",
            Self::BookInvalidation => "book_invalidation",
            Self::Intent => "intent",
            Self::RiskDecision => "risk_decision",
            Self::OrderCommand => "order_command",
            Self::ExecutionReport => "execution_report",
            Self::LocalRefusal => "local_refusal",
            Self::ControlCommand => "control_command",
            Self::ControlAnswer => "control_answer",
            Self::Ess => "ess",
            Self::GlobalRiskLevel => "global_risk_level",
            Self::Funding => "funding",
            Self::Reconciliation => "reconciliation",
            Self::RawFrame => "raw_frame",
            Self::Timer => "timer",
            Self::Halt => "halt",
            Self::Failover => "failover",
        }
    }

    /// The type for an on-disk id, `None` if unknown.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.id() == id)
    }
}

/// One record as handed to the writer and returned by the reader (minus the sequence, which the
/// writer assigns). Borrows its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Record type.
    pub kind: RecordType,
    /// Version of this type's payload encoding.
    pub payload_version: u16,
    /// Domain (exchange or wall-clock) timestamp, ns.
    pub domain_ts_ns: i64,
    /// Monotonic timestamp, ns.
    pub mono_ts_ns: i64,
    /// Payload bytes.
    pub payload: &'a [u8],
}

/// A record read back from the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Its sequence number.
    pub sequence: u64,
    /// Everything else.
    pub entry: Entry<'a>,
}

/// Round `n` up to the frame alignment.
#[inline]
pub const fn align_frame(n: usize) -> usize {
    (n + frame::ALIGN - 1) & !(frame::ALIGN - 1)
}

/// The aligned size a frame with this payload length occupies.
#[inline]
pub const fn frame_span(payload_len: usize) -> usize {
    align_frame(frame::HEADER_LEN + payload_len)
}

/// A decoded segment header (bytes 0..64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version found.
    pub format_version: u16,
    /// Journal id shared by all segments of a journal.
    pub journal_id: u64,
    /// Segment index (also in the file name).
    pub segment_index: u64,
    /// Sequence of the first record in this segment.
    pub first_sequence: u64,
    /// Segment file size.
    pub segment_size: u64,
    /// Engine version text that created the segment.
    pub engine_version: [u8; header::ENGINE_VERSION_LEN],
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFault {
    /// Fewer bytes than a header.
    Short,
    /// Wrong magic: not a journal segment.
    Magic,
    /// A format version this build does not read.
    Version(u16),
    /// Header CRC or a field is wrong.
    Damaged(&'static str),
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl SegmentHeader {
    /// Encode bytes 0..`header::LEN` (committed position = first frame offset).
    pub fn encode(&self) -> [u8; header::LEN] {
        let mut b = [0u8; header::LEN];
        b[header::MAGIC..header::MAGIC + 8].copy_from_slice(&MAGIC);
        b[header::FORMAT_VERSION..][..2].copy_from_slice(&self.format_version.to_le_bytes());
        b[header::HEADER_LEN..][..2].copy_from_slice(&(header::LEN as u16).to_le_bytes());
        b[header::JOURNAL_ID..][..8].copy_from_slice(&self.journal_id.to_le_bytes());
        b[header::SEGMENT_INDEX..][..8].copy_from_slice(&self.segment_index.to_le_bytes());
        b[header::FIRST_SEQUENCE..][..8].copy_from_slice(&self.first_sequence.to_le_bytes());
        b[header::SEGMENT_SIZE..][..8].copy_from_slice(&self.segment_size.to_le_bytes());
        b[header::ENGINE_VERSION..header::HEADER_CRC].copy_from_slice(&self.engine_version);
        let crc = crc32c::crc32c(&b[..header::HEADER_CRC]);
        b[header::HEADER_CRC..][..4].copy_from_slice(&crc.to_le_bytes());
        b[header::COMMITTED..][..8].copy_from_slice(&(header::LEN as u64).to_le_bytes());
        b
    }

    /// Decode and validate a header. The version is checked before anything version-specific, so
    /// a later build can dispatch here to a decoder per older version.
    pub fn decode(b: &[u8]) -> Result<Self, HeaderFault> {
        if b.len() < header::COMMITTED {
            return Err(HeaderFault::Short);
        }
        if b[..8] != MAGIC {
            return Err(HeaderFault::Magic);
        }
        match u16_at(b, header::FORMAT_VERSION) {
            FORMAT_VERSION => Self::decode_v1(b),
            other => Err(HeaderFault::Version(other)),
        }
    }

    fn decode_v1(b: &[u8]) -> Result<Self, HeaderFault> {
        if crc32c::crc32c(&b[..header::HEADER_CRC]) != u32_at(b, header::HEADER_CRC) {
            return Err(HeaderFault::Damaged("header CRC mismatch"));
        }
        if usize::from(u16_at(b, header::HEADER_LEN)) != header::LEN {
            return Err(HeaderFault::Damaged("header length is not 128"));
        }
        let mut engine_version = [0u8; header::ENGINE_VERSION_LEN];
        engine_version.copy_from_slice(&b[header::ENGINE_VERSION..header::HEADER_CRC]);
        Ok(Self {
            format_version: FORMAT_VERSION,
            journal_id: u64_at(b, header::JOURNAL_ID),
            segment_index: u64_at(b, header::SEGMENT_INDEX),
            first_sequence: u64_at(b, header::FIRST_SEQUENCE),
            segment_size: u64_at(b, header::SEGMENT_SIZE),
            engine_version,
        })
    }
}

/// Engine version text packed into the header field (truncated to 12 bytes).
pub fn pack_engine_version(text: &str) -> [u8; header::ENGINE_VERSION_LEN] {
    let mut out = [0u8; header::ENGINE_VERSION_LEN];
    let n = text.len().min(out.len());
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out
}

/// Encode a frame's 40-byte header (with CRC computed over it and `payload`).
pub fn encode_frame_header(
    type_id: u16,
    payload_version: u16,
    sequence: u64,
    domain_ts_ns: i64,
    mono_ts_ns: i64,
    payload: &[u8],
) -> [u8; frame::HEADER_LEN] {
    let mut h = [0u8; frame::HEADER_LEN];
    let len = (frame::HEADER_LEN + payload.len()) as u32;
    h[frame::LENGTH..][..4].copy_from_slice(&len.to_le_bytes());
    h[frame::TYPE..][..2].copy_from_slice(&type_id.to_le_bytes());
    h[frame::PAYLOAD_VERSION..][..2].copy_from_slice(&payload_version.to_le_bytes());
    h[frame::SEQUENCE..][..8].copy_from_slice(&sequence.to_le_bytes());
    h[frame::DOMAIN_TS..][..8].copy_from_slice(&domain_ts_ns.to_le_bytes());
    h[frame::MONO_TS..][..8].copy_from_slice(&mono_ts_ns.to_le_bytes());
    let crc = frame_crc(&h, payload);
    h[frame::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
    h
}

/// CRC32C over the length field, the header bytes after the CRC, and the payload.
fn frame_crc(h: &[u8], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&h[frame::LENGTH..frame::CRC]);
    let crc = crc32c::crc32c_append(crc, &h[frame::TYPE..frame::HEADER_LEN]);
    crc32c::crc32c_append(crc, payload)
}

/// The frame length field of a frame header (0 = nothing written there).
#[inline]
pub fn frame_length(h: &[u8]) -> u32 {
    u32_at(h, frame::LENGTH)
}

/// Check the claimed length of a frame at `offset` whose bytes may extend to `limit`, before
/// reading its payload. Returns the payload length.
pub fn check_frame_length(len: u32, offset: usize, limit: usize) -> Result<usize, Corruption> {
    let len = len as usize;
    if len < frame::HEADER_LEN || offset + len > limit {
        return Err(Corruption::BadLength(len as u32));
    }
    Ok(len - frame::HEADER_LEN)
}

/// A validated frame: its header fields (the payload stays where it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Record type id (may be [`TYPE_END_OF_SEGMENT`]).
    pub type_id: u16,
    /// Payload version.
    pub payload_version: u16,
    /// Sequence.
    pub sequence: u64,
    /// Domain timestamp ns.
    pub domain_ts_ns: i64,
    /// Monotonic timestamp ns.
    pub mono_ts_ns: i64,
}

/// Validate a frame (header bytes + payload bytes, both already copied out of the mapping)
/// against its CRC and the expected sequence.
pub fn validate_frame(
    h: &[u8; frame::HEADER_LEN],
    payload: &[u8],
    expected_sequence: u64,
) -> Result<FrameHeader, Corruption> {
    let stored = u32_at(h, frame::CRC);
    let computed = frame_crc(h, payload);
    if stored != computed {
        return Err(Corruption::CrcMismatch { stored, computed });
    }
    let fh = FrameHeader {
        type_id: u16_at(h, frame::TYPE),
        payload_version: u16_at(h, frame::PAYLOAD_VERSION),
        sequence: u64_at(h, frame::SEQUENCE),
        domain_ts_ns: u64_at(h, frame::DOMAIN_TS) as i64,
        mono_ts_ns: u64_at(h, frame::MONO_TS) as i64,
    };
    if fh.sequence != expected_sequence {
        return Err(Corruption::SequenceGap { found: fh.sequence });
    }
    if fh.type_id == TYPE_END_OF_SEGMENT {
        if !payload.is_empty() {
            return Err(Corruption::BadLength(h.len() as u32 + payload.len() as u32));
        }
    } else if RecordType::from_id(fh.type_id).is_none() {
        return Err(Corruption::UnknownType(fh.type_id));
    }
    Ok(fh)
}

/// Segment file name for an index.
pub fn segment_file_name(index: u64) -> String {
    format!("{index:020}.{SEGMENT_EXTENSION}")
}

/// The segment index of a file name, if it is a segment file.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(SEGMENT_EXTENSION)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_header() -> SegmentHeader {
        SegmentHeader {
            format_version: FORMAT_VERSION,
            journal_id: 0xDEAD_BEEF,
            segment_index: 3,
            first_sequence: 77,
            segment_size: 4096,
            engine_version: pack_engine_version("0.1.0"),
        }
    }

    #[test]
    fn header_round_trips_and_every_byte_of_it_is_checked() {
        let h = sample_header();
        let mut b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        for i in 0..header::COMMITTED {
            b[i] ^= 0x01;
            assert!(SegmentHeader::decode(&b).is_err(), "flip at byte {i} accepted");
            b[i] ^= 0x01;
        }
    }

    #[test]
    fn another_format_version_is_refused_by_number() {
        let mut b = sample_header().encode();
        b[header::FORMAT_VERSION..][..2].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(SegmentHeader::decode(&b), Err(HeaderFault::Version(0)));
    }

    #[test]
    fn frame_validates_and_a_flip_anywhere_is_caught() {
        let payload = b"hello journal";
        let h = encode_frame_header(RecordType::Intent.id(), 2, 9, -5, 6, payload);
        let fh = validate_frame(&h, payload, 9).expect("valid");
        assert_eq!((fh.type_id, fh.payload_version, fh.sequence), (4, 2, 9));
        assert_eq!(validate_frame(&h, payload, 10), Err(Corruption::SequenceGap { found: 9 }));
        for i in 0..frame::HEADER_LEN {
            let mut bad = h;
            bad[i] ^= 0x80;
            assert!(validate_frame(&bad, payload, 9).is_err(), "flip at header byte {i}");
        }
        let mut p = *payload;
        p[3] ^= 1;
        assert!(matches!(validate_frame(&h, &p, 9), Err(Corruption::CrcMismatch { .. })));
    }

    #[test]
    fn record_type_ids_are_stable() {
        for (i, t) in RecordType::ALL.iter().enumerate() {
            assert_eq!(usize::from(t.id()), i + 1);
            assert_eq!(RecordType::from_id(t.id()), Some(*t));
        }
        assert_eq!(RecordType::from_id(0), None);
        assert_eq!(RecordType::from_id(TYPE_END_OF_SEGMENT), None);
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_file_name(42), "00000000000000000042.qtj");
        assert_eq!(parse_segment_file_name(&segment_file_name(42)), Some(42));
        assert_eq!(parse_segment_file_name("42.qtj"), None);
        assert_eq!(parse_segment_file_name("LOCK"), None);
    }
}
