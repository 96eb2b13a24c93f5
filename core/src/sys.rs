//! Everything that asks the operating system for something the hot path depends on: CPU pinning
//! and the monotonic clock. Nothing else in the workspace calls these facilities directly.
//!
//! `mono_now` reads `CLOCK_MONOTONIC` (the clock `std::time::Instant` reads; a vDSO call on
//! Linux, no syscall, no allocation) relative to a process-wide anchor fixed on first use.

use crate::time::Nanos;
use std::sync::OnceLock;

/// Fixes the monotonic anchor; call once at start-up so the first hot-path read does not.
pub fn init_clock() {
    let _ = ANCHOR_NS.get_or_init(raw_mono_ns);
}

/// Monotonic nanoseconds since the process anchor: `CLOCK_MONOTONIC` (the clock `Instant` reads)
/// through the vDSO, taken straight to nanoseconds and less the anchor's. The core reads it a few
/// times per busy iteration; going through `Instant::elapsed` and `Duration` cost about a hundred
/// instructions a read more (BENCHMARKS.md, "tick→order, step by step").
#[inline]
pub fn mono_now() -> Nanos {
    Nanos(raw_mono_ns() - *ANCHOR_NS.get_or_init(raw_mono_ns))
}

static ANCHOR_NS: OnceLock<i64> = OnceLock::new();

#[inline(always)]
fn raw_mono_ns() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec.saturating_mul(1_000_000_000).saturating_add(t.tv_nsec)
}

/// Outcome of asking to pin the current thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// Pinned to this CPU.
    Pinned(usize),
    /// No CPU was configured; the thread floats.
    NotRequested,
    /// The CPU does not exist on this machine or the OS refused.
    Failed(usize),
}

/// Pins the calling thread to `cpu`, if given. Never fails the caller: the result says what
/// happened so the caller can warn.
pub fn pin_current_thread(cpu: Option<usize>) -> Pinning {
    let Some(cpu) = cpu else { return Pinning::NotRequested };
    let Some(ids) = core_affinity::get_core_ids() else { return Pinning::Failed(cpu) };
    match ids.into_iter().find(|c| c.id == cpu) {
        Some(id) if core_affinity::set_for_current(id) => Pinning::Pinned(cpu),
        _ => Pinning::Failed(cpu),
    }
}

/// Number of CPUs the process may run on.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_clock_advances() {
        init_clock();
        let a = mono_now();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(mono_now().0 - a.0 >= 1_000_000);
    }

    #[test]
    fn pinning_an_absent_cpu_reports_failure() {
        let r = std::thread::spawn(|| pin_current_thread(Some(100_000))).join().unwrap();
        assert_eq!(r, Pinning::Failed(100_000));
        assert_eq!(pin_current_thread(None), Pinning::NotRequested);
    }
}
