//! Quantum Trader market-data feeds: sources the core thread polls.
//!
//! [`ring::RingFeed`] takes normalized records from another thread (the simulated venue, a
//! replay) through a preallocated SPSC ring. Socket feeds for the real venues plug in beside it
//! through the same [`qt_core::FeedSource`] trait.

pub mod ring;

pub use ring::RingFeed;
