//! What Quantum Trader's tests share, so each piece exists once: a dev-dependency of the other
//! crates, never a dependency of anything shipped.
//!
//! - [`alloc`]: the counting global allocator every allocation-freedom test installs, with
//!   per-thread counts (tests running in parallel, and a simulator's threads, cannot disturb
//!   each other's figures).
//! - [`instrument`]: a builder for the test instruments the decoders, books and feeds are
//!   driven with.
//! - [`wait`]: bounded waits for a condition, and for a one-shot fault to be used.

pub mod alloc;
pub mod instrument;
pub mod wait;

pub use alloc::{CountingAllocator, allocations, deallocations};
pub use instrument::TestInstrument;
pub use wait::{WAIT, wait_until, wait_until_taken};
