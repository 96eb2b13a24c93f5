//! Segment files in a journal directory: naming, listing, atomic creation, header checks.
//! Cold path only (open, roll); allocates and makes syscalls freely.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Corruption, JournalError, Result};
use crate::format::{self, FORMAT_VERSION, HeaderFault, SegmentHeader, header};

/// Path of segment `index` in `dir`.
pub(crate) fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format::segment_file_name(index))
}

/// Segment indices present in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("list", dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list", dir, e))?;
        if let Some(i) = entry.file_name().to_str().and_then(format::parse_segment_file_name) {
            out.push(i);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Create segment `h.segment_index` atomically: a temporary file is sized (blocks allocated with
/// `fallocate` where the filesystem supports it, so a full disk fails here rather than as SIGBUS
/// on a page fault later), given its header, optionally synced, then renamed into place, and the
/// directory synced when `sync`. A reader never sees a half-written header.
pub(crate) fn create_segment(dir: &Path, h: &SegmentHeader, sync: bool) -> Result<PathBuf> {
    let path = segment_path(dir, h.segment_index);
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| JournalError::io("create", &tmp, e))?;
    match fs4::FileExt::allocate(&file, h.segment_size) {
        Ok(()) => {}
        // A filesystem without fallocate gets a sparse file (set_len below): it works, but a full
        // disk then shows up as SIGBUS on a page fault instead of an error here.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {}
        Err(e) => return Err(JournalError::io("allocate", &tmp, e)),
    }
    file.set_len(h.segment_size).map_err(|e| JournalError::io("size", &tmp, e))?;
    file.write_all(&h.encode()).map_err(|e| JournalError::io("write header", &tmp, e))?;
    if sync {
        file.sync_all().map_err(|e| JournalError::io("sync", &tmp, e))?;
    }
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| JournalError::io("rename", &tmp, e))?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(path)
}

/// fsync a directory so a created or renamed entry survives power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| JournalError::io("sync directory", dir, e))
}

/// The error for a segment file too short to hold its header.
pub(crate) fn short_file(index: u64) -> JournalError {
    JournalError::Corrupt {
        segment: index,
        offset: 0,
        sequence: 0,
        reason: Corruption::BadHeader("file shorter than a header"),
    }
}

/// Decode a header copied from `path`, mapping faults to the crate error.
pub(crate) fn check_header(path: &Path, index: u64, file_len: u64, bytes: &[u8]) -> Result<SegmentHeader> {
    let corrupt =
        |why| JournalError::Corrupt { segment: index, offset: 0, sequence: 0, reason: Corruption::BadHeader(why) };
    let h = match SegmentHeader::decode(bytes) {
        Ok(h) => h,
        Err(HeaderFault::Magic) => return Err(JournalError::NotAJournal { path: path.to_path_buf() }),
        Err(HeaderFault::Version(found)) => {
            return Err(JournalError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: FORMAT_VERSION,
            });
        }
        Err(HeaderFault::Short) => return Err(corrupt("file shorter than a header")),
        Err(HeaderFault::Damaged(why)) => return Err(corrupt(why)),
    };
    if h.segment_index != index {
        return Err(corrupt("segment index differs from the file name"));
    }
    if h.segment_size != file_len || file_len < (header::LEN + format::END_OF_SEGMENT_LEN) as u64 {
        return Err(corrupt("segment size differs from the file length"));
    }
    Ok(h)
}
