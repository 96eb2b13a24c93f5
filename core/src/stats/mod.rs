//! The stats file: the engine's counters, gauges and latency histograms in one memory-mapped,
//! self-describing file that other processes read while it runs (the way `aeron-stat` reads
//! Aeron's counters file) — `qt stat`, the Prometheus exporter, a script in any language.
//!
//! ```text
//!  qt-core ──relaxed load+store──┐   qt-journal ──┐   gateways ──┐   (one writer per slot)
//!                                ▼                ▼              ▼
//!  ┌──────────── header (4 KiB) ─────────────┬─ metadata (512 B records) ─┬─ values (u64 slots) ─┐
//!  │ magic · version · pid · start ·          │ slot · kind · unit · scale │ block │ block │ …    │
//!  │ heartbeat (core, every stats tick) ·     │ · owner · le · name ·      │ (each on its own     │
//!  │ section offsets and counts               │ labels · help · checksum   │  cache line)         │
//!  └──────────────────────────────────────────┴────────────────────────────┴──────────────────────┘
//!        ▲ pread, copy (never mapped, never locked): `read::Snapshot::read_file`
//!  qt stat · the stats thread (/metrics, /health/*) · any language (docs/STATS.md)
//! ```
//! The byte layout is drawn in [`layout`]. Roles: [`layout`] (format constants, the metadata
//! record), [`region`] (the only `unsafe`: the mapping, blocks in it, the heartbeat word),
//! [`describe`] (the [`StatBlock`] trait and its describer), [`histogram`] (fixed-bucket
//! latency histograms), [`blocks`] (the core's blocks), [`read`] (the copying reader).
//!
//! Contract for writers: a block is placed once at start-up ([`StatsRegion::block`]: allocates,
//! locks a mutex, writes metadata); afterwards an update is one relaxed load and store on a slot
//! only its owning thread writes — no lock, no syscall, no allocation. Readers tell a live engine
//! from a dead file by the heartbeat ([`read::Snapshot::liveness`]).

pub mod blocks;
pub mod describe;
pub mod histogram;
pub mod layout;
pub mod read;
pub mod region;

pub use describe::{Describer, GaugeFormat, StatBlock};
pub use histogram::Histogram;
pub use layout::{Kind, MetricDesc, Owner, Unit};
pub use read::{Liveness, ReadError, Sample, Snapshot};
pub use region::{Capacity, Heartbeat, StatsError, StatsHandle, StatsRegion, private_block, unix_now_ns};

#[cfg(test)]
mod tests;
