//! Quantum Trader journal (recorder): the memory-mapped, append-only record of everything the
//! core decides, written by the journal thread and read by tail/replay in any process.
//!
//! What it holds: the on-disk format ([`format`](mod@format), drawn in its doc and in
//! `docs/JOURNAL.md`), the single [`JournalWriter`] per directory (lock file, preallocated
//! segments, rolls, torn-tail recovery, [`PersistMode`] flush policies, poisoning on a failed
//! msync) and [`JournalReader`] (read-only maps, CRC and sequence checks, typed corruption
//! errors, tailing a live writer through the committed position, skipping damage on request).
//! Records are `(type, payload bytes)`; [`payload`] defines the fixed little-endian encoding of
//! every record type the engine writes ([`Payload`], [`payload::core_record`] for the core's
//! `qt_core::journal` records, [`payload::text`] for the configuration and reconciliations).
//! The engine side (the core's ring, the `qt-journal` thread, `qt journal`, `qt replay`, the
//! restart) lives in `core` and `tools`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod format;
mod map;
pub mod payload;
pub mod reader;
mod segment;
pub mod writer;

pub use error::{Corruption, JournalError, Result};
pub use format::{Entry, Record, RecordType};
pub use payload::{Payload, PayloadError, decode_record};
pub use reader::JournalReader;
pub use writer::{JournalConfig, JournalWriter, OpenReport, PersistMode, RecoveryMode, TornTail};
