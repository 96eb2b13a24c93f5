//! Quantum Trader journal (recorder): the fixed-layout, memory-mapped record of everything the
//! core decides, written by the journal thread and read by replay.
//!
//! Not built yet: the journal, its on-disk format and replay are their own issue. The crate
//! exists so the workspace has its final shape and the dependency direction (recorder → core)
//! is fixed from the start.
