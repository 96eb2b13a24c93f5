//! The copying reader: turns a stats file's bytes (read with `pread` by another process, or
//! copied from the live region by [`super::StatsRegion::snapshot_bytes`]) into a [`Snapshot`].
//!
//! Never maps, never locks, never panics: every offset and length in the header is checked
//! against what was read before it is used, every metadata record against its checksum. A file
//! that is too short, of another format version, not a stats file at all, or inconsistent is a
//! [`ReadError`] saying which.

use super::layout::{self, HEADER_LEN, META_RECORD_LEN, MetricDesc, RecordError, get_u64, header};
use std::path::Path;

/// Why a stats file cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The OS refused.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Shorter than its header says it is.
    #[error("truncated stats file: {have} bytes where {need} are needed")]
    Truncated {
        /// Bytes needed.
        need: u64,
        /// Bytes there.
        have: u64,
    },
    /// All zero where the header should be: being created, or not a stats file.
    #[error("the stats file has no header yet (being created, or empty)")]
    NotInitialised,
    /// Some other kind of file.
    #[error("not a qt stats file (magic {0:#018x})")]
    Foreign(u64),
    /// A stats file of another format version.
    #[error("stats file format version {found}; this qt reads version {}", layout::VERSION)]
    Version {
        /// Its version.
        found: u64,
    },
    /// Inconsistent header or a bad metadata record.
    #[error("corrupt stats file: {0}")]
    Corrupt(String),
}

/// The header facts of a stats file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Writer's process id.
    pub pid: u64,
    /// Writer's start (unix ns).
    pub start_ns: u64,
    /// Last heartbeat (unix ns; 0: none yet).
    pub heartbeat_ns: u64,
    /// Heartbeat interval (ns; 0: not set).
    pub heartbeat_interval_ns: u64,
    meta_offset: u64,
    meta_count: u64,
    values_offset: u64,
    values_capacity: u64,
    file_len: u64,
}

/// One metric slot and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// What it is.
    pub desc: MetricDesc,
    /// The raw word (`i64` bits when `desc.signed`).
    pub raw: u64,
}

impl Sample {
    /// The value as an exact decimal text (`-12.5`, `3`, `0.000001`).
    pub fn decimal(&self) -> String {
        let (neg, mag) = if self.desc.signed && (self.raw as i64) < 0 {
            (true, (self.raw as i64).unsigned_abs())
        } else {
            (false, self.raw)
        };
        let scale = u32::from(self.desc.scale.min(19));
        let sign = if neg { "-" } else { "" };
        if scale == 0 {
            return format!("{sign}{mag}");
        }
        let p = 10u64.pow(scale);
        let frac = format!("{:0width$}", mag % p, width = scale as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { format!("{sign}{}", mag / p) } else { format!("{sign}{}.{frac}", mag / p) }
    }

    /// The value as an `f64` (rates, percentiles).
    pub fn as_f64(&self) -> f64 {
        let v = if self.desc.signed { (self.raw as i64) as f64 } else { self.raw as f64 };
        v / 10f64.powi(i32::from(self.desc.scale))
    }
}

/// Everything a stats file held at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Header facts.
    pub header: HeaderInfo,
    /// Every described slot, in file order.
    pub samples: Vec<Sample>,
}

/// Whether the engine writing a file is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Heartbeat recent.
    Live,
    /// No heartbeat yet (starting), or none since this time (unix ns).
    Stale {
        /// The last heartbeat (or the start when there was none).
        since_ns: u64,
    },
}

impl Snapshot {
    /// The heartbeat age past which the writer counts as dead: five missed beats, at least 1 s.
    pub fn stale_after_ns(&self) -> u64 {
        self.header.heartbeat_interval_ns.saturating_mul(5).max(1_000_000_000)
    }

    /// Live or stale at `now_ns` (unix) by the heartbeat.
    pub fn liveness(&self, now_ns: u64) -> Liveness {
        let h = &self.header;
        if h.heartbeat_ns == 0 {
            return if now_ns.saturating_sub(h.start_ns) < self.stale_after_ns() {
                Liveness::Live
            } else {
                Liveness::Stale { since_ns: h.start_ns }
            };
        }
        if now_ns.saturating_sub(h.heartbeat_ns) <= self.stale_after_ns() {
            Liveness::Live
        } else {
            Liveness::Stale { since_ns: h.heartbeat_ns }
        }
    }

    /// The samples named `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.desc.name == name)
    }

    /// Parses a whole file's bytes (or a region's [`super::StatsRegion::snapshot_bytes`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, ReadError> {
        let h = parse_header(bytes.get(..HEADER_LEN.min(bytes.len())).unwrap_or(&[]))?;
        let meta = slice(bytes, h.meta_offset, h.meta_count * META_RECORD_LEN as u64)?;
        let descs = parse_meta(meta, &h)?;
        let used = descs.iter().map(|d| u64::from(d.slot) + 1).max().unwrap_or(0);
        let values = slice(bytes, h.values_offset, used * 8)?;
        Ok(Self::assemble(h, descs, values))
    }

    /// Reads the file at `path` with positioned reads of the header, the published records and
    /// the values in use (a copy; nothing mapped, nothing locked).
    pub fn read_file(path: &Path) -> Result<Self, ReadError> {
        use std::os::unix::fs::FileExt;
        let io = |source| ReadError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let read = |offset: u64, n: u64| -> Result<Vec<u8>, ReadError> {
            if offset.checked_add(n).is_none_or(|end| end > len) {
                return Err(ReadError::Truncated { need: offset.saturating_add(n), have: len });
            }
            let mut buf = vec![0u8; usize::try_from(n).map_err(|_| ReadError::Corrupt("length".into()))?];
            file.read_exact_at(&mut buf, offset).map_err(io)?;
            Ok(buf)
        };
        let head = read(0, (HEADER_LEN as u64).min(len))?;
        let h = parse_header(&head)?;
        if h.file_len > len {
            return Err(ReadError::Truncated { need: h.file_len, have: len });
        }
        let meta = read(h.meta_offset, h.meta_count * META_RECORD_LEN as u64)?;
        let descs = parse_meta(&meta, &h)?;
        let used = descs.iter().map(|d| u64::from(d.slot) + 1).max().unwrap_or(0);
        let values = read(h.values_offset, used * 8)?;
        let mut snap = Self::assemble(h, descs, &values);
        // The heartbeat may have moved since the header was read: take the newest.
        if let Ok(w) = read(header::HEARTBEAT_NS as u64, 8) {
            snap.header.heartbeat_ns = get_u64(&w, 0).unwrap_or(snap.header.heartbeat_ns);
        }
        Ok(snap)
    }

    fn assemble(header: HeaderInfo, descs: Vec<MetricDesc>, values: &[u8]) -> Self {
        let samples = descs
            .into_iter()
            .map(|desc| {
                let raw = get_u64(values, desc.slot as usize * 8).unwrap_or(0);
                Sample { desc, raw }
            })
            .collect();
        Self { header, samples }
    }
}

fn slice(bytes: &[u8], offset: u64, len: u64) -> Result<&[u8], ReadError> {
    let end = offset.checked_add(len).ok_or_else(|| ReadError::Corrupt("section past 2^64".into()))?;
    let have = bytes.len() as u64;
    if end > have {
        return Err(ReadError::Truncated { need: end, have });
    }
    Ok(&bytes[offset as usize..end as usize])
}

fn parse_header(head: &[u8]) -> Result<HeaderInfo, ReadError> {
    let word = |at: usize| get_u64(head, at);
    let Some(magic) = word(header::MAGIC) else {
        return Err(ReadError::Truncated { need: HEADER_LEN as u64, have: head.len() as u64 });
    };
    if magic == 0 {
        return Err(ReadError::NotInitialised);
    }
    if magic != layout::MAGIC {
        return Err(ReadError::Foreign(magic));
    }
    if head.len() < HEADER_LEN {
        return Err(ReadError::Truncated { need: HEADER_LEN as u64, have: head.len() as u64 });
    }
    let w = |at: usize| word(at).unwrap_or(0);
    let version = w(header::VERSION);
    if version != layout::VERSION {
        return Err(ReadError::Version { found: version });
    }
    let corrupt = |what: &str| Err(ReadError::Corrupt(what.to_string()));
    if w(header::HEADER_LEN) != HEADER_LEN as u64 {
        return corrupt("header length");
    }
    if w(header::META_RECORD_LEN) != META_RECORD_LEN as u64 {
        return corrupt("metadata record length");
    }
    let h = HeaderInfo {
        pid: w(header::PID),
        start_ns: w(header::START_NS),
        heartbeat_ns: w(header::HEARTBEAT_NS),
        heartbeat_interval_ns: w(header::HEARTBEAT_INTERVAL_NS),
        meta_offset: w(header::META_OFFSET),
        meta_count: w(header::META_COUNT),
        values_offset: w(header::VALUES_OFFSET),
        values_capacity: w(header::VALUES_CAPACITY),
        file_len: w(header::FILE_LEN),
    };
    let meta_cap = w(header::META_CAPACITY);
    if h.meta_count > meta_cap {
        return corrupt("more metadata records than the section holds");
    }
    let meta_end = meta_cap.checked_mul(META_RECORD_LEN as u64).and_then(|n| n.checked_add(h.meta_offset));
    let values_end = h.values_capacity.checked_mul(8).and_then(|n| n.checked_add(h.values_offset));
    match (meta_end, values_end) {
        (Some(m), Some(v))
            if h.meta_offset >= HEADER_LEN as u64
                && m <= h.values_offset
                && h.values_offset.is_multiple_of(8)
                && v <= h.file_len => {}
        _ => return corrupt("section offsets"),
    }
    Ok(h)
}

fn parse_meta(meta: &[u8], h: &HeaderInfo) -> Result<Vec<MetricDesc>, ReadError> {
    let mut out = Vec::with_capacity(meta.len() / META_RECORD_LEN);
    for (i, rec) in meta.chunks_exact(META_RECORD_LEN).enumerate() {
        let d = MetricDesc::decode(rec)
            .map_err(|e: RecordError| ReadError::Corrupt(format!("metadata record {i}: {e}")))?;
        if u64::from(d.slot) >= h.values_capacity {
            return Err(ReadError::Corrupt(format!("metadata record {i}: slot {} past the values section", d.slot)));
        }
        out.push(d);
    }
    Ok(out)
}
