//! [`CountingAllocator`]: a global allocator that forwards to [`System`] and counts, per thread,
//! the allocations (`alloc`, `alloc_zeroed`, `realloc`) and deallocations made.
//!
//! A binary installs it once and measures a stretch of code by the difference of the counts
//! before and after, on the thread that ran it. The allocation-freedom tests install it (through
//! `qt_test_support`, which re-exports it), and so does the `qt` binary, whose `qt bench`
//! reports the core thread's allocations:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: qt_core::alloc_count::CountingAllocator = qt_core::alloc_count::CountingAllocator;
//!
//! let before = qt_core::alloc_count::allocations();
//! decoder.on_frame(frame, now, &mut emit);
//! assert_eq!(qt_core::alloc_count::allocations() - before, 0);
//! ```
//!
//! Where it is not the global allocator the counts stay 0.
//!
//! The counters are const-initialised thread-locals (`Cell<u64>`, no allocation and no
//! destructor of their own) touched through `try_with`, so counting is safe while a thread is
//! being torn down (a call then simply goes uncounted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::thread::LocalKey;

/// The counting global allocator (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static DEALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static LocalKey<Cell<u64>>) {
    let _ = counter.try_with(|c| c.set(c.get() + 1));
}

/// Allocations (including zeroed allocations and reallocations) the calling thread has made
/// since it started, while [`CountingAllocator`] is the global allocator.
pub fn allocations() -> u64 {
    ALLOCS.try_with(Cell::get).unwrap_or(0)
}

/// Deallocations the calling thread has made since it started.
pub fn deallocations() -> u64 {
    DEALLOCS.try_with(Cell::get).unwrap_or(0)
}

#[allow(unsafe_code, reason = "a global allocator is an unsafe trait; each method is a thin forward to System")]
// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so System's
// guarantees hold; counting touches only the thread-local cells above, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS);
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&ALLOCS);
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from System.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&DEALLOCS);
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from System.
        unsafe { System.dealloc(ptr, layout) }
    }
}
