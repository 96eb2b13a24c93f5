//! The only module of the stats file that maps memory and touches it through pointers.
//!
//! [`StatsRegion`] is the writer's mapping: a shared mapping of the stats file (`MAP_SHARED`,
//! held under an advisory `flock` for the process's life, so other processes read what is
//! stored), or an anonymous one when there is no file (tests, `--no-stats`) — the same code runs
//! on both. [`StatsRegion::block`] carves a [`StatBlock`] out of the values section, writes its
//! metadata records and publishes them (`META_COUNT`, `Release`), and returns a
//! [`StatsHandle`]: a pointer into the mapping plus the `Arc` that keeps the mapping alive, so
//! an increment through it is the same load/store as through the `Arc<CachePadded<_>>` it
//! replaces.
//!
//! Invariants (what the `SAFETY:` comments lean on):
//! - the mapping is page aligned, `FILE_LEN` long, and lives as long as any handle (the `Arc`);
//! - the file is never truncated while mapped by this process (the lock keeps other engines out;
//!   it is sized once, before mapping);
//! - header words and value slots are only accessed as `AtomicU64`; metadata records are
//!   written once, by `block` under the allocation mutex, into records past the published
//!   count, before the count covering them is stored with `Release`;
//! - blocks never overlap: slots are handed out by a bump allocator under that mutex.

#![allow(unsafe_code, reason = "maps the stats file; each block states its invariant")]

use super::describe::{Describer, StatBlock};
use super::layout::{self, BLOCK_ALIGN, HEADER_LEN, META_RECORD_LEN, MetricDesc, Owner, header};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How big a region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Value slots (8 bytes each).
    pub slots: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Self { slots: 8192 }
    }
}

impl Capacity {
    fn meta_offset(self) -> usize {
        HEADER_LEN
    }
    fn values_offset(self) -> usize {
        (HEADER_LEN + self.slots * META_RECORD_LEN).next_multiple_of(4096)
    }
    fn file_len(self) -> usize {
        (self.values_offset() + self.slots * 8).next_multiple_of(4096)
    }
}

/// Why a stats region could not be made or a block placed in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// Another live process holds the file.
    #[error("stats file {} is in use by another running engine", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be opened, locked, sized or mapped.
    #[error("stats file {}: {what}: {source}", path.display())]
    Io {
        /// The file (empty for an anonymous mapping).
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The region has no room left for the block.
    #[error("stats region full: {needed} more slots wanted, {left} left")]
    Full {
        /// Slots the block needs.
        needed: usize,
        /// Slots left.
        left: usize,
    },
    /// The block's description is wrong (a programming error the block's tests catch).
    #[error("stats block badly described: {0}")]
    Describe(String),
}

struct Alloc {
    next_slot: usize,
    meta_count: usize,
}

struct Region {
    map: MmapRaw,
    capacity: Capacity,
    alloc: Mutex<Alloc>,
    path: Option<PathBuf>,
    /// Holds the advisory lock for the region's life.
    _file: Option<File>,
}

impl Region {
    fn word(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset.is_multiple_of(8) && offset + 8 <= self.map.len());
        let ptr = self.map.as_mut_ptr().wrapping_add(offset).cast::<u64>();
        // SAFETY: `offset` is an 8-aligned offset inside the page-aligned mapping (callers pass
        // header offsets below HEADER_LEN or slot offsets inside the values section), the mapping
        // lives as long as `self`, and these words are only ever accessed atomically.
        unsafe { AtomicU64::from_ptr(ptr) }
    }

    fn slot_offset(&self, slot: usize) -> usize {
        self.capacity.values_offset() + slot * 8
    }
}

/// The writer's stats mapping (see the module doc). Cloning shares it.
#[derive(Clone)]
pub struct StatsRegion(Arc<Region>);

impl std::fmt::Debug for StatsRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsRegion").field("path", &self.0.path).field("capacity", &self.0.capacity).finish()
    }
}

/// A reference to a block in a [`StatsRegion`] that keeps the mapping alive. Derefs to the block.
pub struct StatsHandle<T> {
    ptr: NonNull<T>,
    region: Arc<Region>,
}

// SAFETY: the handle is a shared reference to `T` (which is `Sync`, a `StatBlock` bound) plus an
// `Arc` of a region whose only interior mutability is atomics and a mutex.
unsafe impl<T: StatBlock> Send for StatsHandle<T> {}
// SAFETY: as above: `&StatsHandle<T>` only gives out `&T`, and `T: Sync`.
unsafe impl<T: StatBlock> Sync for StatsHandle<T> {}
// SAFETY: the mapping is raw memory mutated only through atomics and, under the mutex, through
// raw copies into unpublished records; nothing in it is tied to the creating thread.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl<T> Clone for StatsHandle<T> {
    fn clone(&self) -> Self {
        Self { ptr: self.ptr, region: self.region.clone() }
    }
}

impl<T: StatBlock> std::ops::Deref for StatsHandle<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `ptr` points at a block `StatsRegion::block` placed in the mapping, aligned and
        // in bounds, that no other block overlaps; the mapping lives while `self.region` does;
        // a `StatBlock` is valid for any bytes the region holds (its safety contract).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: StatBlock + std::fmt::Debug> std::fmt::Debug for StatsHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: StatBlock> StatsHandle<T> {
    /// The block's slots as plain atomics (zeroing, copying; not the hot path).
    pub fn slots(&self) -> &[AtomicU64] {
        let len = size_of::<T>() / 8;
        // SAFETY: a `StatBlock` is `size_of::<T>()` bytes of 8-aligned `AtomicU64`s (its safety
        // contract), all inside the mapping, which lives while `self` does.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<AtomicU64>(), len) }
    }

    /// Stores zero into every slot (only the owning thread may call it).
    pub fn zero(&self) {
        for s in self.slots() {
            s.store(0, Ordering::Relaxed);
        }
    }

    /// The region the block lives in.
    pub fn region(&self) -> StatsRegion {
        StatsRegion(self.region.clone())
    }
}

/// The header's heartbeat word; the core stores the wall-clock time into it on every tick.
#[derive(Clone)]
pub struct Heartbeat(Arc<Region>);

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Heartbeat")
    }
}

impl Heartbeat {
    /// Stores `unix_ns` (one relaxed store). Only the core thread calls it.
    #[inline]
    pub fn beat(&self, unix_ns: u64) {
        self.0.word(header::HEARTBEAT_NS).store(unix_ns, Ordering::Relaxed);
    }
}

/// Current wall-clock time, unix ns (0 before 1970).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl StatsRegion {
    /// A private anonymous region (no file): the same code, nobody else sees it.
    pub fn anonymous(capacity: Capacity) -> Result<Self, StatsError> {
        let len = capacity.file_len();
        let map = MmapOptions::new().len(len).map_anon().map_err(|source| StatsError::Io {
            path: PathBuf::new(),
            what: "anonymous mapping",
            source,
        })?;
        Ok(Self::init(MmapRaw::from(map), capacity, None, None))
    }

    /// Creates (or takes over) the stats file at `path`: locks it (refused if a live process
    /// holds it), clears and sizes it, maps it shared and writes the header.
    pub fn create(path: &Path, capacity: Capacity) -> Result<Self, StatsError> {
        let io = |what| move |source| StatsError::Io { path: path.to_path_buf(), what, source };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open"))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => return Err(StatsError::Locked { path: path.to_path_buf() }),
            Err(fs4::TryLockError::Error(e)) => return Err(io("lock")(e)),
        }
        // Old contents go: a reader must never mix a dead run's metadata with this one's.
        file.set_len(0).map_err(io("truncate"))?;
        file.set_len(capacity.file_len() as u64).map_err(io("size"))?;
        let map = MmapOptions::new().map_raw(&file).map_err(io("map"))?;
        if map.len() < capacity.file_len() {
            return Err(io("map")(std::io::Error::other("mapping shorter than the file")));
        }
        Ok(Self::init(map, capacity, Some(path.to_path_buf()), Some(file)))
    }

    fn init(map: MmapRaw, capacity: Capacity, path: Option<PathBuf>, file: Option<File>) -> Self {
        let region =
            Region { map, capacity, alloc: Mutex::new(Alloc { next_slot: 0, meta_count: 0 }), path, _file: file };
        let words = [
            (header::VERSION, layout::VERSION),
            (header::HEADER_LEN, HEADER_LEN as u64),
            (header::PID, u64::from(std::process::id())),
            (header::START_NS, unix_now_ns()),
            (header::META_OFFSET, capacity.meta_offset() as u64),
            (header::META_RECORD_LEN, META_RECORD_LEN as u64),
            (header::META_CAPACITY, capacity.slots as u64),
            (header::VALUES_OFFSET, capacity.values_offset() as u64),
            (header::VALUES_CAPACITY, capacity.slots as u64),
            (header::FILE_LEN, capacity.file_len() as u64),
        ];
        for (offset, v) in words {
            region.word(offset).store(v, Ordering::Relaxed);
        }
        region.word(header::MAGIC).store(layout::MAGIC, Ordering::Release);
        Self(Arc::new(region))
    }

    /// The file, if the region is one.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The heartbeat word.
    pub fn heartbeat(&self) -> Heartbeat {
        Heartbeat(self.0.clone())
    }

    /// Records how often the core beats, for readers' staleness check.
    pub fn set_heartbeat_interval(&self, ns: u64) {
        self.0.word(header::HEARTBEAT_INTERVAL_NS).store(ns, Ordering::Relaxed);
    }

    /// Places a zeroed `T` in the region, owned by `owner`, with `labels` on each of its
    /// metrics; writes and publishes its metadata. Cold (start-up): allocates, locks a mutex.
    pub fn block<T: StatBlock>(&self, owner: Owner, labels: &[(&str, &str)]) -> Result<StatsHandle<T>, StatsError> {
        self.block_with(owner, labels, T::describe)
    }

    /// Like [`StatsRegion::block`], with `describe` naming the slots instead of the block's own
    /// `describe` (names only known at run time, e.g. the risk component's trigger sources).
    pub fn block_with<T: StatBlock>(
        &self,
        owner: Owner,
        labels: &[(&str, &str)],
        describe: impl FnOnce(&T, &mut Describer<'_>),
    ) -> Result<StatsHandle<T>, StatsError> {
        const { assert!(size_of::<T>().is_multiple_of(8) && align_of::<T>() <= BLOCK_ALIGN && size_of::<T>() > 0) };
        let r = &self.0;
        let mut alloc = r.alloc.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = alloc.next_slot.next_multiple_of(BLOCK_ALIGN / 8);
        let slots = size_of::<T>() / 8;
        let left = r.capacity.slots.saturating_sub(first);
        if slots > left {
            return Err(StatsError::Full { needed: slots, left });
        }
        let ptr = r.map.as_mut_ptr().wrapping_add(r.slot_offset(first)).cast::<T>();
        let ptr = NonNull::new(ptr).ok_or_else(|| StatsError::Describe("null mapping".into()))?;
        let handle = StatsHandle { ptr, region: r.clone() };
        let mut d = Describer::new(&*handle, first as u32, owner, labels);
        describe(&handle, &mut d);
        let described = d.finish();
        let records: Result<Vec<_>, _> = described.metrics.iter().map(MetricDesc::encode).collect();
        let records = records.map_err(|e| StatsError::Describe(e.to_string()))?;
        if let Some(p) = described.problems.first() {
            return Err(StatsError::Describe(format!("{} ({} problem(s))", p, described.problems.len())));
        }
        if alloc.meta_count + records.len() > r.capacity.slots {
            return Err(StatsError::Full { needed: records.len(), left: r.capacity.slots - alloc.meta_count });
        }
        handle.zero();
        for (i, rec) in records.iter().enumerate() {
            let at = r.capacity.meta_offset() + (alloc.meta_count + i) * META_RECORD_LEN;
            let dst = r.map.as_mut_ptr().wrapping_add(at);
            // SAFETY: record `meta_count + i` is below META_CAPACITY (checked above), so
            // `at..at + META_RECORD_LEN` is inside the metadata section of the mapping; records
            // past the published count are touched by nobody else (readers stop at the count,
            // writers hold the mutex), and `rec` is a separate array, so the ranges don't overlap.
            unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), dst, META_RECORD_LEN) };
        }
        alloc.next_slot = first + slots;
        alloc.meta_count += records.len();
        r.word(header::META_COUNT).store(alloc.meta_count as u64, Ordering::Release);
        Ok(handle)
    }

    /// Like [`StatsRegion::block`], but never fails: a block the region cannot take is placed
    /// in a private anonymous region instead (counted as usual, invisible to readers) and the
    /// reason logged. For writers that must run with or without a file.
    pub fn block_or_private<T: StatBlock>(&self, owner: Owner, labels: &[(&str, &str)]) -> StatsHandle<T> {
        match self.block(owner, labels) {
            Ok(h) => h,
            Err(e) => {
                log::error!("stats: {e}; this block's numbers will not be in the stats file");
                private_block()
            }
        }
    }

    /// A copy of the region as a reader would see the file: header words, the published
    /// metadata records and the values in use (each slot loaded atomically). Allocates.
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        let r = &self.0;
        let meta_count = r.word(header::META_COUNT).load(Ordering::Acquire) as usize;
        let used = r.alloc.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next_slot;
        let cap = r.capacity;
        let mut out = vec![0u8; cap.values_offset() + used * 8];
        for offset in (0..header::END).step_by(8) {
            out[offset..offset + 8].copy_from_slice(&r.word(offset).load(Ordering::Relaxed).to_le_bytes());
        }
        let meta_len = meta_count.min(cap.slots) * META_RECORD_LEN;
        let src = r.map.as_ptr().wrapping_add(cap.meta_offset());
        // SAFETY: the published records `0..meta_count` are inside the metadata section and
        // never written again once published (the Acquire load above orders this copy after
        // their writes); `out` is a separate allocation of at least `meta_offset + meta_len`.
        unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr().wrapping_add(cap.meta_offset()), meta_len) };
        for slot in 0..used {
            let v = r.word(r.slot_offset(slot)).load(Ordering::Relaxed);
            let at = cap.values_offset() + slot * 8;
            out[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// A block in a fresh private anonymous region of its own (tests, fallbacks).
pub fn private_block<T: StatBlock>() -> StatsHandle<T> {
    let slots = (size_of::<T>() / 8).next_multiple_of(BLOCK_ALIGN / 8);
    let region = StatsRegion::anonymous(Capacity { slots });
    #[allow(clippy::expect_used)] // an anonymous mapping of a few pages failing is out of memory
    let region = region.expect("anonymous mapping for a stats block");
    match region.block(Owner::Core, &[]) {
        Ok(h) => h,
        // Only a badly described block gets here, which its own test catches; count anyway.
        Err(_) => undescribed_block(region),
    }
}

fn undescribed_block<T: StatBlock>(region: StatsRegion) -> StatsHandle<T> {
    let ptr = region.0.map.as_mut_ptr().wrapping_add(region.0.slot_offset(0)).cast::<T>();
    #[allow(clippy::expect_used)] // a mapping's address is never null
    let ptr = NonNull::new(ptr).expect("mapping address");
    StatsHandle { ptr, region: region.0 }
}
