//! Quantum Trader tools: configuration, wiring of the threads, and the run summary behind the
//! `qt` binary. Kept as a library so integration tests drive exactly what the binary does.

pub mod bench;
pub mod capture;
pub mod config;
pub mod control;
pub mod exporter;
pub mod feed_check;
pub mod feed_check_journal;
pub mod gateways;
pub mod grids;
pub mod journal;
pub mod journal_inspect;
pub mod journal_tail;
pub mod logging;
pub mod preflight;
pub mod progress;
pub mod reconcile_live;
pub mod reconcile_periodic;
pub mod replay;
pub mod restore;
pub mod run;
pub mod sign;
pub mod signals;
pub mod stat;
pub mod stress;
pub mod summary;
pub mod venue_capital;
pub mod venue_sim;
pub mod venues;
