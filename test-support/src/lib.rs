//! What Quantum Trader's tests share, so each piece exists once: a dev-dependency of the other
//! crates, never a dependency of anything shipped.
//!
//! - [`alloc`]: the counting global allocator every allocation-freedom test installs, with
//!   per-thread counts (tests running in parallel, and a simulator's threads, cannot disturb
//!   each other's figures).
//! - [`instrument`]: a builder for the test instruments the decoders, books and feeds are
//!   driven with.
//! - [`capture`]: the recorded venue captures in `testdata/`.
//! - [`rng`]: a small deterministic generator for fuzz-style tests.
//! - [`wait`]: bounded waits for a condition, and for a one-shot fault to be used.
//! - `market` (feature `sim`): simulated markets with chosen flow rates and accounts.
//! - `sim` (feature `sim`): the venue simulator in-process on loopback, with a fresh CA file.
//! - `sim_book` (feature `feed`): the simulator's own book (`GET /_sim/book`), a reference book
//!   rebuilt from the market's update stream, and an HTTPS client for the simulator.
//! - `feed_loop` (feature `feed`): a core-loop stand-in driving a feed into one book per symbol,
//!   with a tally of the records.
//!
//! The `sim` and `feed` features depend on `qt-venue-sim` and `qt-feed`: fine for those crates'
//! integration tests (`tests/`), which link the same library; unit tests inside their `src/`
//! must not use them (they would see a second copy of the crate).

pub mod alloc;
pub mod capture;
#[cfg(feature = "feed")]
pub mod feed_loop;
pub mod instrument;
#[cfg(feature = "sim")]
pub mod market;
pub mod rng;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "feed")]
pub mod sim_book;
pub mod wait;

pub use alloc::{CountingAllocator, allocations, deallocations};
pub use capture::{capture_bytes, capture_text};
pub use instrument::TestInstrument;
pub use rng::xorshift;
pub use wait::{WAIT, wait_until, wait_until_taken};
