//! Journals written by released format versions, checked in under `recorder/testdata/` and read
//! here forever: a later format change must keep reading them (or refuse them by name).
//!
//! `journal-v1/`: format version 1, two 4 KiB segments, the records of [`v1_records`].
//! Regenerate (only if the v1 writer itself was wrong) with
//! `QT_WRITE_FIXTURES=1 cargo test -p qt-recorder --test fixtures -- --ignored`.

mod util;

use std::path::PathBuf;

use util::{Owned, SMALL_SEGMENT, make, read_all};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

fn v1_records() -> Vec<Owned> {
    (1..=60u64).map(|s| make(s, s as usize, vec![s as u8; (s as usize * 7) % 90])).collect()
}

#[test]
fn the_v1_fixture_reads_back_exactly() {
    let (read, err) = read_all(&fixture("journal-v1"));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(read, v1_records());
    assert!(util::segment_file(&fixture("journal-v1"), 1).exists(), "the fixture spans a roll");
}

#[test]
#[ignore = "writes the checked-in fixture; run on purpose only"]
fn write_v1_fixture() {
    if std::env::var_os("QT_WRITE_FIXTURES").is_none() {
        return;
    }
    let dir = fixture("journal-v1");
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = qt_recorder::JournalConfig { engine_version: "0.1.0", ..util::config(SMALL_SEGMENT) };
    let mut w = qt_recorder::JournalWriter::open(&dir, cfg).unwrap();
    for r in v1_records() {
        w.append(r.entry()).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    std::fs::remove_file(dir.join(qt_recorder::writer::LOCK_FILE)).unwrap();
}
