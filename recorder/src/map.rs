//! The only module that maps segment files and touches mapped memory through pointers.
//!
//! [`WriteMap`] is the writer's shared, writable mapping (`MAP_SHARED`, so stores land in the
//! page cache and survive the process); [`ReadMap`] is a reader's read-only raw mapping.
//! The shared-memory atomics are the header's two position words ([`HeaderWord`]: committed and
//! durable, 8-aligned inside a page-aligned mapping, only ever accessed atomically): the writer
//! stores them with `Release` after the frames they cover, a reader loads them `Relaxed` and then
//! issues an `Acquire` fence (the form the standard library allows on read-only memory) before
//! copying frames below them.
//!
//! Invariants the callers keep (and the reason the raw copies are sound in practice):
//! - only one writer per journal (the lock file), so nothing but [`WriteMap`] mutates frames;
//! - a frame below a published committed position is never written again by a live writer
//!   (recovery only zeroes past the committed position, or below it only when told to after a
//!   power loss, when no reader of that writer can be running);
//! - readers copy bytes out (never hand out references into the mapping), and only bytes below
//!   the committed position they loaded, plus the immutable header bytes `0..64`, and touch the
//!   position words only through [`HeaderWord`];
//! - segment files are never shrunk while mapped (truncating a mapped file raises SIGBUS).
#![allow(unsafe_code, reason = "memory-maps segment files; each block states its invariant")]

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering, fence};

use memmap2::{MmapMut, MmapOptions, MmapRaw};

use crate::format::header;

/// The atomic words of the segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderWord {
    /// End of the last committed frame.
    Committed,
    /// End of the last frame known msync'd.
    Durable,
}

impl HeaderWord {
    const fn offset(self) -> usize {
        match self {
            Self::Committed => header::COMMITTED,
            Self::Durable => header::DURABLE,
        }
    }
}

/// The writer's mapping of one segment.
#[derive(Debug)]
pub(crate) struct WriteMap {
    map: MmapMut,
}

impl WriteMap {
    /// Map a whole segment file read-write and shared.
    pub(crate) fn new(file: &File) -> std::io::Result<Self> {
        // SAFETY: the journal lock file guarantees this process is the only writer of the file, and
        // segment files are preallocated and never truncated while mapped (module invariants).
        let map = unsafe { MmapOptions::new().map_mut(file)? };
        if map.len() < header::LEN {
            return Err(std::io::Error::other("segment shorter than its header"));
        }
        Ok(Self { map })
    }

    /// The whole segment (for recovery scans; never holds the committed word across a publish).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Copy `bytes` to `offset` (frames only: never the header's committed word).
    #[inline]
    pub(crate) fn write(&mut self, offset: usize, bytes: &[u8]) {
        debug_assert!(offset >= header::LEN);
        self.map[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    /// Zero `offset..end` (recovery).
    pub(crate) fn zero(&mut self, offset: usize, end: usize) {
        debug_assert!(offset >= header::LEN);
        self.map[offset..end].fill(0);
    }

    /// Store a header position word (`Release`: frames written before are visible first).
    #[inline]
    pub(crate) fn store(&mut self, word: HeaderWord, position: u64) {
        let ptr = self.map.as_mut_ptr().wrapping_add(word.offset()).cast::<u64>();
        // SAFETY: the mapping is page-aligned and at least `header::LEN` long (checked in `new`),
        // and `word.offset()` is an 8-aligned offset below it, so `ptr` is aligned, in bounds and
        // writable (derived from `&mut`) for this call; the word is only ever accessed atomically
        // by this crate, writers and readers alike.
        let atomic = unsafe { AtomicU64::from_ptr(ptr) };
        atomic.store(position, Ordering::Release);
    }

    /// Load a header position word.
    pub(crate) fn load(&self, word: HeaderWord) -> u64 {
        let ptr = self.map.as_ptr().wrapping_add(word.offset()) as *mut u64;
        // SAFETY: as in `store`; only loaded here, through a shared borrow of the map.
        let atomic = unsafe { AtomicU64::from_ptr(ptr) };
        atomic.load(Ordering::Acquire)
    }

    /// `msync(MS_SYNC)` of `offset..offset + len` (rounded out to pages by memmap2).
    pub(crate) fn flush(&self, offset: usize, len: usize) -> std::io::Result<()> {
        self.map.flush_range(offset, len)
    }

    /// Mapping length.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A reader's read-only mapping of one segment.
#[derive(Debug)]
pub(crate) struct ReadMap {
    map: MmapRaw,
}

impl ReadMap {
    /// Map a whole segment file read-only.
    pub(crate) fn new(file: &File) -> std::io::Result<Self> {
        let map = MmapOptions::new().map_raw_read_only(file)?;
        if map.len() < header::LEN {
            return Err(std::io::Error::other("segment shorter than its header"));
        }
        Ok(Self { map })
    }

    /// Mapping length.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Load a header position word: `Relaxed` load then `Acquire` fence.
    #[inline]
    pub(crate) fn load(&self, word: HeaderWord) -> u64 {
        let ptr = self.map.as_ptr().wrapping_add(word.offset()) as *mut u64;
        // SAFETY: page-aligned mapping at least `header::LEN` long (checked in `new`) and an
        // 8-aligned offset below it, so the word is aligned and in bounds while `self` lives; it is only accessed atomically, and a
        // Relaxed 8-byte load is the atomic access permitted on read-only memory.
        let word = unsafe { AtomicU64::from_ptr(ptr) };
        let value = word.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        value
    }

    /// Copy `dst.len()` bytes from `offset`. Returns `false` (copying nothing) when out of bounds.
    /// Callers copy only the immutable header (`0..64`) or bytes below a loaded committed position.
    #[inline]
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) -> bool {
        let Some(end) = offset.checked_add(dst.len()) else { return false };
        if end > self.map.len() {
            return false;
        }
        // SAFETY: `offset..end` is inside the mapping (checked above) and `dst` is a distinct
        // buffer; the source bytes are not being written (module invariant: header bytes 0..64 or
        // frames below the committed position loaded with Acquire before this copy).
        unsafe {
            std::ptr::copy_nonoverlapping(self.map.as_ptr().add(offset), dst.as_mut_ptr(), dst.len());
        }
        true
    }
}
