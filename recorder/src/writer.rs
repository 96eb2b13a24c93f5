//! `JournalWriter`: the single writer of a journal directory (the journal thread owns it).
//!
//! Contract: [`JournalWriter::append`] copies one frame into the mapped segment and returns its
//! sequence; it does not allocate or make a syscall unless the segment is full (then it rolls:
//! files are created, which allocates). Frames become visible to readers only at
//! [`JournalWriter::commit`], which release-stores the committed position once for the whole
//! batch and then applies the [`PersistMode`]. A roll also commits what was appended so far.
//! A failed `msync` poisons the writer: every later call returns [`JournalError::Poisoned`],
//! because what reached the disk is unknown and retrying could report lost data as durable.
//!
//! Opening an existing journal recovers it: the last segment is scanned from its first frame,
//! checking length, CRC and sequence of each (the committed position in the header is not
//! trusted for this). The first bad frame at or beyond the committed position is a torn tail:
//! it is reported ([`TornTail`]), zeroed to the end of the segment, and writing continues with
//! the sequence after the last good frame. A bad frame *below* the committed position means a
//! published record was lost or damaged (a flipped byte, or a power loss that kept the header
//! page but not the frame's page); in [`RecoveryMode::Strict`] (default) that is refused as
//! [`JournalError::Corrupt`], and only [`RecoveryMode::DropDamagedTail`] truncates it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Corruption, JournalError, Result};
use crate::format::{
    self, END_OF_SEGMENT_LEN, Entry, FORMAT_VERSION, SegmentHeader, TYPE_END_OF_SEGMENT, frame, header,
};
use crate::map::{HeaderWord, WriteMap};
use crate::segment;

/// Name of the lock file in a journal directory.
pub const LOCK_FILE: &str = "LOCK";

/// When appended data is forced to disk (`msync(MS_SYNC)`); see docs/JOURNAL.md for what each
/// survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistMode {
    /// Never msync: committed data is in the page cache (survives a process crash, not a power
    /// loss until the kernel writes it back).
    None,
    /// msync at the first commit (or [`JournalWriter::flush_if_due`]) after this much time since
    /// the last flush.
    Interval(Duration),
    /// msync at every commit (once per batch, not per record).
    Every,
}

/// What opening a journal does with a bad frame below the committed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Refuse to open: a published record is damaged (an operator decides).
    Strict,
    /// Drop everything from the damaged frame on, and report it (after a known power loss).
    DropDamagedTail,
}

/// Writer configuration.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Size of each segment file in bytes (multiple of 8, at least 4 KiB).
    pub segment_size: u64,
    /// Flush policy.
    pub persist: PersistMode,
    /// How recovery treats damage below the committed position.
    pub recovery: RecoveryMode,
    /// Sequence of the first record of a new journal.
    pub first_sequence: u64,
    /// Engine version written into new segments (at most 12 bytes kept).
    pub engine_version: &'static str,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            segment_size: 64 << 20,
            persist: PersistMode::None,
            recovery: RecoveryMode::Strict,
            first_sequence: 1,
            engine_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// A torn tail found and removed when an existing journal was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Segment index.
    pub segment: u64,
    /// Offset of the first bad frame.
    pub offset: u64,
    /// The sequence expected there (the next record written gets it).
    pub sequence: u64,
    /// Why the frame was refused.
    pub reason: Corruption,
    /// True if the dropped region was below the committed position (only with
    /// [`RecoveryMode::DropDamagedTail`]): published records were lost.
    pub committed_lost: bool,
    /// True if it was even below the durable position (msync'd before): the damage happened on
    /// disk, not in a crash or power loss.
    pub durable_lost: bool,
}

/// What `open` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenReport {
    /// True if an existing journal was continued, false if a new one was created.
    pub continued: bool,
    /// Segment now written.
    pub segment: u64,
    /// Sequence the next append gets.
    pub next_sequence: u64,
    /// The torn tail removed, if any.
    pub torn_tail: Option<TornTail>,
}

/// The single writer of a journal directory.
#[derive(Debug)]
pub struct JournalWriter {
    dir: PathBuf,
    config: JournalConfig,
    journal_id: u64,
    segment: u64,
    map: WriteMap,
    /// Next frame offset.
    position: usize,
    /// Offset up to which frames have been msync'd.
    flushed: usize,
    next_sequence: u64,
    last_flush: Instant,
    poisoned: Option<std::io::ErrorKind>,
    report: OpenReport,
    /// Held for the writer's lifetime: the flock is released when it closes.
    _lock: File,
}

impl JournalWriter {
    /// Create a journal in `dir` (created if missing) or continue the one there.
    pub fn open(dir: impl AsRef<Path>, config: JournalConfig) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let min = (header::LEN + END_OF_SEGMENT_LEN + frame::HEADER_LEN) as u64;
        if config.segment_size < min.max(4096) || !config.segment_size.is_multiple_of(frame::ALIGN as u64) {
            return Err(JournalError::Config("segment_size must be a multiple of 8 and at least 4096"));
        }
        std::fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
        let lock = lock_dir(&dir)?;
        let segments = segment::list_segments(&dir)?;
        let sync = config.persist != PersistMode::None;
        let Some(&last) = segments.last() else {
            let h = SegmentHeader {
                format_version: FORMAT_VERSION,
                journal_id: new_journal_id(),
                segment_index: 0,
                first_sequence: config.first_sequence,
                segment_size: config.segment_size,
                engine_version: format::pack_engine_version(config.engine_version),
            };
            let map = map_segment(&segment::create_segment(&dir, &h, sync)?, 0)?;
            let report = OpenReport { continued: false, segment: 0, next_sequence: h.first_sequence, torn_tail: None };
            return Ok(Self::assemble(dir, config, &h, map, header::LEN, report, lock));
        };
        let path = segment::segment_path(&dir, last);
        let mut map = map_segment(&path, last)?;
        let h = segment::check_header(&path, last, map.len() as u64, &map.bytes()[..header::COMMITTED])?;
        let (scan, torn_tail) = recover(&mut map, &h, &config)?;
        if sync {
            // Frames first, then the durable position that claims them, then the header.
            let flushed = map.flush(header::LEN, map.len() - header::LEN).and_then(|()| {
                map.store(HeaderWord::Durable, scan.end as u64);
                map.flush(0, header::LEN)
            });
            flushed.map_err(|e| JournalError::io("msync", &path, e))?;
        }
        let report = OpenReport { continued: true, segment: last, next_sequence: scan.next_sequence, torn_tail };
        let mut writer = Self::assemble(dir, config, &h, map, scan.end, report, lock);
        writer.next_sequence = scan.next_sequence;
        if scan.sealed {
            writer.start_segment(last + 1)?;
            writer.report.segment = last + 1;
        }
        Ok(writer)
    }

    fn assemble(
        dir: PathBuf,
        config: JournalConfig,
        h: &SegmentHeader,
        map: WriteMap,
        position: usize,
        report: OpenReport,
        lock: File,
    ) -> Self {
        Self {
            dir,
            config,
            journal_id: h.journal_id,
            segment: h.segment_index,
            map,
            position,
            flushed: position,
            next_sequence: h.first_sequence,
            last_flush: Instant::now(),
            poisoned: None,
            report,
            _lock: lock,
        }
    }

    /// What opening found (new or continued journal, torn tail).
    pub fn open_report(&self) -> OpenReport {
        self.report
    }

    /// The journal's id (random at creation, in every segment header; the same for every run
    /// that continues this journal).
    pub fn journal_id(&self) -> u64 {
        self.journal_id
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence the next append gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The segment being written.
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// The largest payload a record can carry with this segment size.
    pub fn max_payload(&self) -> usize {
        let room = self.config.segment_size as usize - header::LEN - END_OF_SEGMENT_LEN - frame::HEADER_LEN;
        (room & !(frame::ALIGN - 1)).min(u32::MAX as usize - frame::HEADER_LEN)
    }

    /// Append one record (not yet visible to readers: see [`Self::commit`]). Returns its sequence.
    pub fn append(&mut self, entry: Entry<'_>) -> Result<u64> {
        self.check_poison()?;
        let max = self.max_payload();
        if entry.payload.len() > max {
            return Err(JournalError::RecordTooLarge { len: entry.payload.len(), max });
        }
        let span = format::frame_span(entry.payload.len());
        if self.position + span + END_OF_SEGMENT_LEN > self.map.len() {
            self.roll()?;
        }
        let sequence = self.next_sequence;
        let h = format::encode_frame_header(
            entry.kind.id(),
            entry.payload_version,
            sequence,
            entry.domain_ts_ns,
            entry.mono_ts_ns,
            entry.payload,
        );
        self.map.write(self.position + frame::HEADER_LEN, entry.payload);
        self.map.write(self.position, &h);
        self.position += span;
        self.next_sequence += 1;
        Ok(sequence)
    }

    /// Publish everything appended so far to readers, then flush per the [`PersistMode`].
    pub fn commit(&mut self) -> Result<()> {
        self.check_poison()?;
        self.map.store(HeaderWord::Committed, self.position as u64);
        match self.config.persist {
            PersistMode::None => Ok(()),
            PersistMode::Every => self.flush(),
            PersistMode::Interval(_) => self.flush_if_due(),
        }
    }

    /// With [`PersistMode::Interval`], flush if the interval has passed and something was
    /// written since the last flush; otherwise nothing. `commit` calls it; a journal thread
    /// with nothing to commit calls it when idle so the last batch does not wait for the next.
    pub fn flush_if_due(&mut self) -> Result<()> {
        self.check_poison()?;
        let PersistMode::Interval(every) = self.config.persist else { return Ok(()) };
        if self.position > self.flushed && self.last_flush.elapsed() >= every { self.flush() } else { Ok(()) }
    }

    /// msync the frames written since the last flush, then store the durable position and msync
    /// the header page, so the durable position on disk never claims frames that were not synced.
    /// A failure poisons the writer.
    pub fn flush(&mut self) -> Result<()> {
        self.check_poison()?;
        let result = self.map.flush(self.flushed, self.position - self.flushed).and_then(|()| {
            self.map.store(HeaderWord::Durable, self.position as u64);
            self.map.flush(0, header::LEN)
        });
        self.last_flush = Instant::now();
        match result {
            Ok(()) => {
                self.flushed = self.position;
                Ok(())
            }
            Err(e) => Err(self.poison(e)),
        }
    }

    #[cold]
    fn poison(&mut self, e: std::io::Error) -> JournalError {
        self.poisoned = Some(e.kind());
        JournalError::io("msync", segment::segment_path(&self.dir, self.segment), e)
    }

    #[inline]
    fn check_poison(&self) -> Result<()> {
        match self.poisoned {
            None => Ok(()),
            Some(kind) => Err(JournalError::Poisoned { segment: self.segment, kind }),
        }
    }

    /// Seal the current segment with an end-of-segment frame (committing it), then start the next.
    #[cold]
    fn roll(&mut self) -> Result<()> {
        let h = format::encode_frame_header(TYPE_END_OF_SEGMENT, 0, self.next_sequence, 0, 0, &[]);
        self.map.write(self.position, &h);
        self.position += END_OF_SEGMENT_LEN;
        self.map.store(HeaderWord::Committed, self.position as u64);
        if self.config.persist != PersistMode::None {
            self.flush()?;
        }
        self.start_segment(self.segment + 1)
    }

    #[cold]
    fn start_segment(&mut self, index: u64) -> Result<()> {
        let h = SegmentHeader {
            format_version: FORMAT_VERSION,
            journal_id: self.journal_id,
            segment_index: index,
            first_sequence: self.next_sequence,
            segment_size: self.config.segment_size,
            engine_version: format::pack_engine_version(self.config.engine_version),
        };
        let path = segment::create_segment(&self.dir, &h, self.config.persist != PersistMode::None)?;
        self.map = map_segment(&path, index)?;
        self.segment = index;
        self.position = header::LEN;
        self.flushed = header::LEN;
        Ok(())
    }

    /// Test hook: poison as a failed msync would.
    #[doc(hidden)]
    pub fn poison_for_test(&mut self) {
        self.poisoned = Some(std::io::ErrorKind::Other);
    }
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| JournalError::io("open lock file", &path, e))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => return Err(JournalError::Locked { dir: dir.to_path_buf() }),
        Err(fs4::TryLockError::Error(e)) => return Err(JournalError::io("lock", &path, e)),
    }
    // The PID is for a human reading the file; the flock is what excludes.
    let _ = file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(file)
}

fn map_segment(path: &Path, index: u64) -> Result<WriteMap> {
    let file =
        OpenOptions::new().read(true).write(true).open(path).map_err(|e| JournalError::io("open segment", path, e))?;
    let len = file.metadata().map_err(|e| JournalError::io("stat segment", path, e))?.len();
    if len < header::LEN as u64 {
        return Err(segment::short_file(index));
    }
    WriteMap::new(&file).map_err(|e| JournalError::io("map segment", path, e))
}

fn new_journal_id() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Scan the last segment, refuse or cut a bad tail, and publish the recovered end as committed
/// (and durable, if the durable position claimed more).
fn recover(map: &mut WriteMap, h: &SegmentHeader, config: &JournalConfig) -> Result<(Scan, Option<TornTail>)> {
    let scan = scan(map, h);
    let committed = map.load(HeaderWord::Committed);
    let durable = map.load(HeaderWord::Durable);
    let mut torn_tail = None;
    if let Some((offset, reason)) = scan.bad {
        let below_committed = (offset as u64) < committed;
        if below_committed && config.recovery == RecoveryMode::Strict {
            return Err(JournalError::Corrupt {
                segment: h.segment_index,
                offset: offset as u64,
                sequence: scan.next_sequence,
                reason,
            });
        }
        zero_tail(map, offset);
        torn_tail = Some(TornTail {
            segment: h.segment_index,
            offset: offset as u64,
            sequence: scan.next_sequence,
            reason,
            committed_lost: below_committed,
            durable_lost: (offset as u64) < durable,
        });
    }
    map.store(HeaderWord::Committed, scan.end as u64);
    if durable > scan.end as u64 {
        map.store(HeaderWord::Durable, scan.end as u64);
    }
    Ok((scan, torn_tail))
}

/// Result of scanning a segment's frames.
struct Scan {
    /// End of the last good frame.
    end: usize,
    next_sequence: u64,
    /// An end-of-segment frame was found.
    sealed: bool,
    /// The first bad frame (offset, why), if the scan did not end at an empty slot.
    bad: Option<(usize, Corruption)>,
}

fn scan(map: &WriteMap, h: &SegmentHeader) -> Scan {
    let bytes = map.bytes();
    let committed = map.load(HeaderWord::Committed) as usize;
    let mut pos = header::LEN;
    let mut seq = h.first_sequence;
    loop {
        if pos + frame::HEADER_LEN > bytes.len() {
            return Scan { end: pos, next_sequence: seq, sealed: false, bad: None };
        }
        let mut fh = [0u8; frame::HEADER_LEN];
        fh.copy_from_slice(&bytes[pos..pos + frame::HEADER_LEN]);
        let len = format::frame_length(&fh);
        if len == 0 {
            let bad = (pos < committed).then_some((pos, Corruption::MissingFrame));
            return Scan { end: pos, next_sequence: seq, sealed: false, bad };
        }
        let checked = format::check_frame_length(len, pos, bytes.len()).and_then(|payload_len| {
            let payload = &bytes[pos + frame::HEADER_LEN..pos + frame::HEADER_LEN + payload_len];
            format::validate_frame(&fh, payload, seq).map(|v| (v, payload_len))
        });
        match checked {
            Err(reason) => return Scan { end: pos, next_sequence: seq, sealed: false, bad: Some((pos, reason)) },
            Ok((v, payload_len)) => {
                pos += format::frame_span(payload_len);
                if v.type_id == TYPE_END_OF_SEGMENT {
                    return Scan { end: pos, next_sequence: seq, sealed: true, bad: None };
                }
                seq += 1;
            }
        }
    }
}

/// Zero every non-zero 4 KiB chunk from `offset` to the end of the segment (only chunks holding
/// data are touched, so an untouched preallocated tail is not dirtied).
fn zero_tail(map: &mut WriteMap, offset: usize) {
    const CHUNK: usize = 4096;
    let len = map.len();
    let mut start = offset;
    while start < len {
        let end = ((start / CHUNK) + 1) * CHUNK;
        let end = end.min(len);
        if map.bytes()[start..end].iter().any(|&b| b != 0) {
            map.zero(start, end);
        }
        start = end;
    }
}
