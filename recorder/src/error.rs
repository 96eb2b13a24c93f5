//! The recorder's one error type, and the typed reasons a frame is refused.

use std::path::PathBuf;

/// Why a frame or segment was judged damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The frame length is below the frame header or runs past the committed/segment end.
    BadLength(u32),
    /// The stored CRC32C does not match the bytes.
    CrcMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the bytes read.
        computed: u32,
    },
    /// The frame is intact but carries another sequence than the next expected one.
    SequenceGap {
        /// Sequence found in the frame.
        found: u64,
    },
    /// A record type id this format version does not define.
    UnknownType(u16),
    /// A frame the committed position covers is empty (length 0).
    MissingFrame,
    /// The committed position in the header is outside the segment.
    BadCommittedPosition(u64),
    /// A segment header is damaged.
    BadHeader(&'static str),
    /// The next segment does not start where the previous one ended.
    SegmentMismatch(&'static str),
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadLength(n) => write!(f, "frame length {n} is impossible here"),
            Self::CrcMismatch { stored, computed } => {
                write!(f, "CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")
            }
            Self::SequenceGap { found } => write!(f, "frame carries sequence {found}"),
            Self::UnknownType(t) => write!(f, "unknown record type id {t}"),
            Self::MissingFrame => write!(f, "no frame where the committed position says one is"),
            Self::BadCommittedPosition(p) => write!(f, "committed position {p} is outside the segment"),
            Self::BadHeader(why) => write!(f, "segment header damaged: {why}"),
            Self::SegmentMismatch(why) => write!(f, "segment chain broken: {why}"),
        }
    }
}

/// Every error the recorder returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// An OS call failed.
    #[error("journal I/O: {op} {path}: {error}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which file or directory.
        path: PathBuf,
        /// The OS error. Written into the message and deliberately not a `source()`, so a
        /// printed error chain names it once, not twice.
        error: std::io::Error,
    },
    /// Another writer holds the journal's lock file.
    #[error(
        "journal {dir} is locked by another writer (a running engine?); only one writer per journal directory, readers are fine"
    )]
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },
    /// A segment file is not a journal segment at all.
    #[error("{path} is not a Quantum Trader journal segment (bad magic)")]
    NotAJournal {
        /// The file.
        path: PathBuf,
    },
    /// A segment of a format version this build cannot read.
    #[error(
        "{path} has journal format version {found}; this build reads version {supported} only ({})",
        if *found > *supported { "written by a newer engine: upgrade to read it" } else { "written by an older engine: this build has no reader for that format" }
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version found in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// Damaged data: never returned as a record.
    #[error("journal corrupt in segment {segment} at offset {offset} (expected sequence {sequence}): {reason}")]
    Corrupt {
        /// Segment index.
        segment: u64,
        /// Byte offset within the segment.
        offset: u64,
        /// The sequence expected at that offset.
        sequence: u64,
        /// What was wrong.
        reason: Corruption,
    },
    /// The directory holds no segment yet.
    #[error("no journal segment in {dir}")]
    Empty {
        /// The journal directory.
        dir: PathBuf,
    },
    /// A record that cannot fit in one segment.
    #[error("record of {len} bytes does not fit a segment (at most {max} bytes of payload)")]
    RecordTooLarge {
        /// Payload length.
        len: usize,
        /// Largest payload a segment takes.
        max: usize,
    },
    /// A failed msync earlier: the writer accepts nothing more (what reached disk is unknown).
    #[error("journal writer poisoned by a failed flush of segment {segment} ({kind}); nothing more is written")]
    Poisoned {
        /// Segment being flushed.
        segment: u64,
        /// The error kind of the failed flush.
        kind: std::io::ErrorKind,
    },
    /// The configuration is unusable.
    #[error("journal config: {0}")]
    Config(&'static str),
}

impl JournalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { op, path: path.into(), error: source }
    }
}

/// The recorder's result type.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;
