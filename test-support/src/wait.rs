//! Bounded waits: poll a condition until it holds or a deadline passes, then fail the test with
//! what was awaited. Bounds are generous (a 2-core machine running other builds can stall a test
//! for seconds); a normal run returns as soon as the condition holds.

use std::time::{Duration, Instant};

/// How long a test waits for something that normally takes well under a second (a sync, a
/// reconnect, a comparison): long enough for a 2-core machine under a parallel build.
pub const WAIT: Duration = Duration::from_secs(45);

/// How often [`wait_until`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// Polls `done` (every 10 ms) until it holds; panics naming `what` if `limit` passes first.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(POLL_EVERY);
    }
}

/// Waits (bounded by `limit`) until a one-shot fault armed earlier has been used: `take` takes
/// it if it is still pending (true) and `rearm` arms it again, so the fault stays pending until
/// its user takes it. For fault switches that can be taken but not read.
pub fn wait_until_taken(limit: Duration, what: &str, take: impl Fn() -> bool, rearm: impl Fn()) {
    wait_until(limit, what, || {
        if take() {
            rearm();
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn waits_until_the_condition_holds() {
        let mut n = 0;
        wait_until(Duration::from_secs(5), "three looks", || {
            n += 1;
            n >= 3
        });
        assert_eq!(n, 3);
    }

    #[test]
    #[should_panic(expected = "waiting for never")]
    fn fails_naming_what_it_waited_for() {
        wait_until(Duration::from_millis(30), "never", || false);
    }

    #[test]
    fn a_fault_is_waited_for_until_its_user_takes_it_not_taken_by_the_check() {
        let pending = AtomicU32::new(1);
        let take = || pending.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        std::thread::scope(|s| {
            let user = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                // The check may hold the fault for an instant: the user tries until it gets it.
                let start = Instant::now();
                while !take() {
                    assert!(start.elapsed() < Duration::from_secs(5), "the user never got the fault");
                    std::thread::yield_now();
                }
            });
            wait_until_taken(Duration::from_secs(5), "the fault", take, || {
                pending.fetch_add(1, Ordering::SeqCst);
            });
            user.join().expect("the user took the fault");
        });
        assert_eq!(pending.load(Ordering::SeqCst), 0);
    }
}
