//! Time: integer nanoseconds and the one [`Clock`] seam through which domain time enters.
//!
//! Domain time (order timestamps, rate limits, book freshness, the UTC day for loss limits) comes
//! from a `Clock`: [`WallClock`] live, [`SimClock`] under the simulated venue and in replay, so
//! the same code runs deterministically; [`ReplayableClock`] is a live engine's clock that a
//! restart's restore sets record by record before it is released to the wall clock. Latency is measured separately on the monotonic clock
//! ([`crate::sys::mono_now`]). Reading either clock is a vDSO call or an atomic load: no
//! syscall, no allocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Nanoseconds. Which origin (Unix epoch or the process's monotonic anchor) is fixed by the field
/// that holds it: `exchange_ns`/`*_at` fields are Unix-epoch, `local_ns` fields are monotonic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Nanos(pub i64);

impl Nanos {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// One second.
    pub const SECOND: Self = Self(1_000_000_000);
    /// One millisecond.
    pub const MILLI: Self = Self(1_000_000);

    /// Nanoseconds from a `Duration` (saturating).
    pub fn from_duration(d: std::time::Duration) -> Self {
        Self(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// `self + rhs`, saturating.
    #[inline]
    pub const fn saturating_add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, saturating.
    #[inline]
    pub const fn saturating_sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }

    /// As seconds, for human-readable reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// The source of domain time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in Unix-epoch nanoseconds.
    fn now(&self) -> Nanos;
}

/// The system's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    #[inline]
    fn now(&self) -> Nanos {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Nanos::from_duration(d)
    }
}

/// A clock advanced explicitly by whoever drives the simulation (the simulated venue, replay).
/// Cloning shares the same time.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    now: Arc<AtomicI64>,
}

impl SimClock {
    /// A clock reading `start`.
    pub fn new(start: Nanos) -> Self {
        Self { now: Arc::new(AtomicI64::new(start.0)) }
    }

    /// Moves time to `t` (never backwards: an earlier `t` is ignored). A `t` not past the
    /// current time costs one load: the read-modify-write (a locked instruction) only runs when
    /// time moves — once per frame for a feed whose records share their frame's time.
    #[inline]
    pub fn advance_to(&self, t: Nanos) {
        if t.0 > self.now.load(Ordering::Relaxed) {
            self.now.fetch_max(t.0, Ordering::Release);
        }
    }

    /// Sets time to `t`, even backwards: replay follows a journal's domain times exactly, also
    /// where the recorded wall clock stepped back.
    #[inline]
    pub fn set(&self, t: Nanos) {
        self.now.store(t.0, Ordering::Release);
    }
}

impl Clock for SimClock {
    #[inline]
    fn now(&self) -> Nanos {
        Nanos(self.now.load(Ordering::Acquire))
    }
}

/// A live engine's clock: fixed (set by replay, through [`ReplayableClock::replay`]) while a
/// restart restores the engine from its journal, then, once [`ReplayableClock::release`]d, the
/// wall clock for good. Cloning shares the same state. Reading it live is one extra atomic load.
#[derive(Debug, Clone, Default)]
pub struct ReplayableClock {
    fixed: SimClock,
    released: Arc<std::sync::atomic::AtomicBool>,
}

impl ReplayableClock {
    /// A clock fixed at time zero until set or released.
    pub fn new() -> Self {
        Self::default()
    }

    /// The settable clock replay drives (`Engine::replay_input`) while not released.
    pub fn replay(&self) -> &SimClock {
        &self.fixed
    }

    /// Hands over to the wall clock (irreversible).
    pub fn release(&self) {
        self.released.store(true, Ordering::Release);
    }

    /// Whether it reads the wall clock now.
    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }
}

impl Clock for ReplayableClock {
    #[inline]
    fn now(&self) -> Nanos {
        if self.released.load(Ordering::Relaxed) { WallClock.now() } else { self.fixed.now() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_is_shared_and_monotonic() {
        let a = SimClock::new(Nanos(10));
        let b = a.clone();
        a.advance_to(Nanos(50));
        assert_eq!(b.now(), Nanos(50));
        a.advance_to(Nanos(20));
        assert_eq!(b.now(), Nanos(50));
    }

    #[test]
    fn a_replayable_clock_follows_replay_until_released_then_the_wall() {
        let c = ReplayableClock::new();
        let shared = c.clone();
        c.replay().set(Nanos(42));
        assert_eq!(shared.now(), Nanos(42));
        c.replay().set(Nanos(7));
        assert_eq!(shared.now(), Nanos(7), "replay may step back");
        c.release();
        assert!(shared.is_released());
        c.replay().set(Nanos(8));
        assert!(shared.now() > Nanos(1_577_836_800 * 1_000_000_000), "the wall clock after release");
    }

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(WallClock.now() > Nanos(1_577_836_800 * 1_000_000_000));
    }
}
