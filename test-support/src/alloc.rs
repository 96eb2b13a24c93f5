//! The counting global allocator every allocation-freedom test installs: per-thread counts of
//! allocations and deallocations. It lives in `qt_core::alloc_count` (the `qt` binary installs
//! it too, for `qt bench`); re-exported here where the tests have always found it.

pub use qt_core::alloc_count::{CountingAllocator, allocations, deallocations};
