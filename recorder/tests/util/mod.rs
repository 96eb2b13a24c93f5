//! Shared helpers for the recorder's integration tests: small configs, owned records, and an
//! independent model of where frames land (so tests do not trust the writer's arithmetic).
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a subset")]

use std::os::unix::fs::FileExt;
use std::path::Path;

use qt_recorder::format::{END_OF_SEGMENT_LEN, frame_span, header, segment_file_name};
use qt_recorder::{Entry, JournalConfig, JournalError, JournalReader, RecordType};

pub const SMALL_SEGMENT: u64 = 4096;

pub fn config(segment_size: u64) -> JournalConfig {
    JournalConfig { segment_size, ..JournalConfig::default() }
}

/// A record as written, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub sequence: u64,
    pub kind: RecordType,
    pub payload_version: u16,
    pub domain_ts_ns: i64,
    pub mono_ts_ns: i64,
    pub payload: Vec<u8>,
}

impl Owned {
    pub fn entry(&self) -> Entry<'_> {
        Entry {
            kind: self.kind,
            payload_version: self.payload_version,
            domain_ts_ns: self.domain_ts_ns,
            mono_ts_ns: self.mono_ts_ns,
            payload: &self.payload,
        }
    }
}

/// The `i`-th test record of a stream with these payload lengths.
pub fn make(sequence: u64, kind_index: usize, payload: Vec<u8>) -> Owned {
    Owned {
        sequence,
        // The first 15 types only: the checked-in v1 fixture was written when there were 15.
        kind: RecordType::ALL[kind_index % 15],
        payload_version: (sequence % 7) as u16,
        domain_ts_ns: sequence as i64 * 1_000 - 5,
        mono_ts_ns: -(sequence as i64),
        payload,
    }
}

/// Read every record the reader returns until `Ok(None)` or an error.
pub fn read_all(dir: &Path) -> (Vec<Owned>, Option<JournalError>) {
    let mut reader = match JournalReader::open(dir) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok(Some(r)) => out.push(Owned {
                sequence: r.sequence,
                kind: r.entry.kind,
                payload_version: r.entry.payload_version,
                domain_ts_ns: r.entry.domain_ts_ns,
                mono_ts_ns: r.entry.mono_ts_ns,
                payload: r.entry.payload.to_vec(),
            }),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Where the frame of each record lands: (segment, offset, span), by the format's rules,
/// computed independently of the writer.
pub fn layout(segment_size: u64, payload_lens: &[usize]) -> Vec<(u64, usize, usize)> {
    let mut segment = 0;
    let mut pos = header::LEN;
    let mut out = Vec::new();
    for &len in payload_lens {
        let span = frame_span(len);
        if pos + span + END_OF_SEGMENT_LEN > segment_size as usize {
            segment += 1;
            pos = header::LEN;
        }
        out.push((segment, pos, span));
        pos += span;
    }
    out
}

pub fn segment_file(dir: &Path, index: u64) -> std::path::PathBuf {
    dir.join(segment_file_name(index))
}

pub fn write_bytes(dir: &Path, index: u64, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(segment_file(dir, index)).expect("open segment");
    f.write_all_at(bytes, offset).expect("patch segment");
}

pub fn read_bytes(dir: &Path, index: u64, offset: u64, len: usize) -> Vec<u8> {
    let f = std::fs::File::open(segment_file(dir, index)).expect("open segment");
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset).expect("read segment");
    buf
}

/// Overwrite the committed position of a segment, as a crashed writer would have left it.
pub fn set_committed(dir: &Path, index: u64, position: u64) {
    write_bytes(dir, index, header::COMMITTED as u64, &position.to_le_bytes());
}

/// Sets byte `at` of the valid payload `valid` to every value: exactly the `ok` values decode
/// (each re-encoding to the same byte), every other is refused as `BadValue` naming `field` and
/// the value.
pub fn sweep<T: std::fmt::Debug>(
    valid: &[u8],
    at: usize,
    field: &str,
    ok: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, qt_recorder::PayloadError>,
    encode: impl Fn(&T) -> Vec<u8>,
) {
    let mut b = valid.to_vec();
    for value in 0..=u8::MAX {
        b[at] = value;
        match decode(&b) {
            Ok(v) => {
                assert!(ok.contains(&value), "{field} = {value} accepted as {v:?}");
                assert_eq!(encode(&v)[at], value, "{field} = {value} re-encodes differently");
            }
            Err(qt_recorder::PayloadError::BadValue { field: f, value: got, .. }) => {
                assert!(!ok.contains(&value), "{field} = {value} refused");
                assert_eq!((f, got), (field, u64::from(value)));
            }
            Err(e) => panic!("{field} = {value}: {e:?}"),
        }
    }
}

pub mod payloads;
