//! `JournalReader`: reads a journal directory in sequence order across segments, in this or
//! another process, with no help from (and no lock against) the writer.
//!
//! Contract: segments are mapped read-only; only frames below the committed position loaded from
//! the segment header are read, each copied out and checked (length, CRC32C, sequence
//! continuity, known type) before it is returned, so a damaged frame is an error
//! ([`JournalError::Corrupt`] naming segment, offset and expected sequence), never a record.
//! An error is sticky: the reader stays at the bad frame. Reaching the committed end is
//! `Ok(None)`; call again later to tail a live writer ([`JournalReader::poll`]). The reader moves
//! to segment N+1 only after the end-of-segment frame of N, and checks that N+1 continues the
//! journal id and sequence. Segment headers of another format version are refused (the header
//! decoder, [`SegmentHeader::decode`], dispatches on the version first, so a decoder for an older
//! version, and a frame decoder chosen by the segment's version, can be added later).
//! Allocates only when a payload is larger than any before it, and when changing segment.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Corruption, JournalError, Result};
use crate::format::{self, Entry, Record, RecordType, SegmentHeader, TYPE_END_OF_SEGMENT, frame, header};
use crate::map::{HeaderWord, ReadMap};
use crate::segment;

/// A reader over a journal directory.
#[derive(Debug)]
pub struct JournalReader {
    dir: PathBuf,
    segment: u64,
    journal_id: u64,
    map: ReadMap,
    /// Offset of the next frame.
    position: usize,
    /// Committed position last loaded.
    committed: usize,
    next_sequence: u64,
    /// Saw the end-of-segment frame; waiting for the next segment file.
    sealed: bool,
    payload: Vec<u8>,
}

impl JournalReader {
    /// Open the journal in `dir` at its first (lowest) segment.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let segments = segment::list_segments(&dir)?;
        let Some(&first) = segments.first() else { return Err(JournalError::Empty { dir }) };
        Self::open_segment_of(dir, first)
    }

    /// Open the journal in `dir` at the start of segment `index` (one of [`Self::segments`]), so
    /// a tail or a seek need not read the segments before it. The chain is checked from there on
    /// (journal id and sequence across later rolls), not before it.
    pub fn open_at_segment(dir: impl AsRef<Path>, index: u64) -> Result<Self> {
        Self::open_segment_of(dir.as_ref().to_path_buf(), index)
    }

    /// The segment indices present in `dir`, ascending.
    pub fn segments(dir: impl AsRef<Path>) -> Result<Vec<u64>> {
        segment::list_segments(dir.as_ref())
    }

    fn open_segment_of(dir: PathBuf, first: u64) -> Result<Self> {
        let (map, h) = open_segment(&dir, first)?;
        Ok(Self {
            dir,
            segment: first,
            journal_id: h.journal_id,
            map,
            position: header::LEN,
            committed: header::LEN,
            next_sequence: h.first_sequence,
            sealed: false,
            payload: Vec::new(),
        })
    }

    /// The sequence the next record must carry.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The segment being read.
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// The next committed record, `Ok(None)` at the committed end (for now).
    #[allow(clippy::should_implement_trait, reason = "a lending reader: the record borrows the reader's buffer")]
    pub fn next(&mut self) -> Result<Option<Record<'_>>> {
        loop {
            if self.sealed {
                if !self.enter_next_segment()? {
                    return Ok(None);
                }
                continue;
            }
            if self.position >= self.committed {
                self.committed = self.load_committed()?;
                if self.position >= self.committed {
                    return Ok(None);
                }
            }
            let mut fh = [0u8; frame::HEADER_LEN];
            if self.position + frame::HEADER_LEN > self.committed || !self.map.copy_out(self.position, &mut fh) {
                return Err(self.corrupt(Corruption::BadLength(0)));
            }
            let len = format::frame_length(&fh);
            if len == 0 {
                return Err(self.corrupt(Corruption::MissingFrame));
            }
            let payload_len =
                format::check_frame_length(len, self.position, self.committed).map_err(|c| self.corrupt(c))?;
            if self.payload.len() < payload_len {
                self.payload.resize(payload_len, 0);
            }
            if !self.map.copy_out(self.position + frame::HEADER_LEN, &mut self.payload[..payload_len]) {
                return Err(self.corrupt(Corruption::BadLength(len)));
            }
            let v = format::validate_frame(&fh, &self.payload[..payload_len], self.next_sequence)
                .map_err(|c| self.corrupt(c))?;
            self.position += format::frame_span(payload_len);
            if v.type_id == TYPE_END_OF_SEGMENT {
                self.sealed = true;
                continue;
            }
            let Some(kind) = RecordType::from_id(v.type_id) else {
                return Err(self.corrupt(Corruption::UnknownType(v.type_id)));
            };
            self.next_sequence += 1;
            return Ok(Some(Record {
                sequence: v.sequence,
                entry: Entry {
                    kind,
                    payload_version: v.payload_version,
                    domain_ts_ns: v.domain_ts_ns,
                    mono_ts_ns: v.mono_ts_ns,
                    payload: &self.payload[..payload_len],
                },
            }));
        }
    }

    /// Hand every record committed since the last call to `f`; returns how many.
    pub fn poll(&mut self, mut f: impl FnMut(Record<'_>)) -> Result<usize> {
        let mut n = 0;
        while let Some(record) = self.next()? {
            f(record);
            n += 1;
        }
        Ok(n)
    }

    /// Moves past the damaged frame the last error stopped at (replay's `--skip-corrupt`): over
    /// that one frame if its length still lands inside the committed region (its CRC failed, not
    /// its length), else to the next segment. Returns what was skipped, for the report; an error
    /// if there is nothing after the damage to move to. Records skipped are lost to the caller.
    pub fn skip_damaged(&mut self) -> Result<String> {
        let committed = self.load_committed().unwrap_or(self.committed);
        let mut fh = [0u8; frame::HEADER_LEN];
        if self.position + frame::HEADER_LEN <= committed && self.map.copy_out(self.position, &mut fh) {
            let len = format::frame_length(&fh);
            if len != 0
                && let Ok(payload_len) = format::check_frame_length(len, self.position, committed)
            {
                let at = self.position;
                self.position += format::frame_span(payload_len);
                self.next_sequence += 1;
                return Ok(format!(
                    "one record (sequence {}) at segment {} offset {at}",
                    self.next_sequence - 1,
                    self.segment
                ));
            }
        }
        // The length cannot be trusted: look for the next intact frame of this segment (8-byte
        // aligned, its length inside the committed region, its CRC right, a later sequence).
        let mut at = self.position + frame::ALIGN;
        while at + frame::HEADER_LEN <= committed {
            if let Some((_, sequence)) = self.intact_frame_at(at, committed)
                && sequence > self.next_sequence
            {
                let (from, damaged_at) = (self.next_sequence, self.position);
                self.position = at;
                self.next_sequence = sequence;
                return Ok(format!(
                    "records {from}..{} at segment {} offsets {damaged_at}..{at}",
                    sequence - 1,
                    self.segment
                ));
            }
            at += frame::ALIGN;
        }
        let next = self.segment + 1;
        if !segment::segment_path(&self.dir, next).exists() {
            return Err(self.corrupt(Corruption::SegmentMismatch("no later segment to skip the damage to")));
        }
        let (map, h) = open_segment(&self.dir, next)?;
        if h.journal_id != self.journal_id {
            return Err(JournalError::Corrupt {
                segment: next,
                offset: 0,
                sequence: self.next_sequence,
                reason: Corruption::SegmentMismatch("journal id differs from the previous segment"),
            });
        }
        let (from, segment) = (self.next_sequence, self.segment);
        self.map = map;
        self.segment = next;
        self.position = header::LEN;
        self.committed = header::LEN;
        self.sealed = false;
        self.next_sequence = h.first_sequence;
        Ok(format!("the rest of segment {segment} (sequences {from}..{})", h.first_sequence.saturating_sub(1)))
    }

    /// `(payload length, sequence)` of an intact frame at `at` (below `committed`), if one is
    /// there: a plausible length and a matching CRC.
    fn intact_frame_at(&mut self, at: usize, committed: usize) -> Option<(usize, u64)> {
        let mut fh = [0u8; frame::HEADER_LEN];
        if !self.map.copy_out(at, &mut fh) {
            return None;
        }
        let len = format::frame_length(&fh);
        let payload_len = format::check_frame_length(len, at, committed).ok().filter(|_| len != 0)?;
        if self.payload.len() < payload_len {
            self.payload.resize(payload_len, 0);
        }
        if !self.map.copy_out(at + frame::HEADER_LEN, &mut self.payload[..payload_len]) {
            return None;
        }
        let sequence = u64::from_le_bytes(fh[frame::SEQUENCE..frame::SEQUENCE + 8].try_into().ok()?);
        format::validate_frame(&fh, &self.payload[..payload_len], sequence).ok().map(|_| (payload_len, sequence))
    }

    fn load_committed(&self) -> Result<usize> {
        let c = self.map.load(HeaderWord::Committed);
        if c < header::LEN as u64 || c > self.map.len() as u64 || !c.is_multiple_of(frame::ALIGN as u64) {
            return Err(self.corrupt(Corruption::BadCommittedPosition(c)));
        }
        Ok(c as usize)
    }

    /// Switch to the segment after an end-of-segment frame; `false` if it does not exist yet.
    fn enter_next_segment(&mut self) -> Result<bool> {
        let next = self.segment + 1;
        if !segment::segment_path(&self.dir, next).exists() {
            // Normally the writer is about to create it. A later segment already there means it
            // is gone for good (only listed in this short window, never per record).
            if segment::list_segments(&self.dir)?.last().is_some_and(|&last| last > next) {
                return Err(JournalError::Corrupt {
                    segment: next,
                    offset: 0,
                    sequence: self.next_sequence,
                    reason: Corruption::SegmentMismatch("segment missing while later ones exist"),
                });
            }
            return Ok(false);
        }
        let (map, h) = open_segment(&self.dir, next)?;
        let mismatch = |why| JournalError::Corrupt {
            segment: next,
            offset: 0,
            sequence: self.next_sequence,
            reason: Corruption::SegmentMismatch(why),
        };
        if h.journal_id != self.journal_id {
            return Err(mismatch("journal id differs from the previous segment"));
        }
        if h.first_sequence != self.next_sequence {
            return Err(mismatch("first sequence does not follow the previous segment"));
        }
        self.map = map;
        self.segment = next;
        self.position = header::LEN;
        self.committed = header::LEN;
        self.sealed = false;
        Ok(true)
    }

    #[cold]
    fn corrupt(&self, reason: Corruption) -> JournalError {
        JournalError::Corrupt {
            segment: self.segment,
            offset: self.position as u64,
            sequence: self.next_sequence,
            reason,
        }
    }
}

fn open_segment(dir: &Path, index: u64) -> Result<(ReadMap, SegmentHeader)> {
    let path = segment::segment_path(dir, index);
    let file = File::open(&path).map_err(|e| JournalError::io("open segment", &path, e))?;
    let len = file.metadata().map_err(|e| JournalError::io("stat segment", &path, e))?.len();
    if len < header::LEN as u64 {
        return Err(segment::short_file(index));
    }
    let map = ReadMap::new(&file).map_err(|e| JournalError::io("map segment", &path, e))?;
    let mut bytes = [0u8; header::COMMITTED];
    map.copy_out(0, &mut bytes);
    let h = segment::check_header(&path, index, len, &bytes)?;
    Ok((map, h))
}
