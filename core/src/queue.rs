//! Bounded queues between threads, and what happens when one is full.
//!
//! Pinned threads talk through single-producer single-consumer rings (`rtrb`: preallocated,
//! wait-free, `push` hands the value back when full). Every queue has a decided full policy:
//!
//! | queue | producer → consumer | when full |
//! |---|---|---|
//! | orders | core → gateway | the order is not sent: it is rejected locally (`QueueFull`), the strategy is told, counted |
//! | reports | gateway → core | the gateway waits (it is not the core; fills are never dropped) |
//! | market events | feed thread/sim → core | the producer waits (backpressure; market data is never dropped silently) |
//! | journal | core → journal (`journal::JournalRecord`, every input and decision) | backpressure by default: no market input while short of room, a full push waits (counted); `DropAndCount` drops, counted ([`crate::journal`]) |
//! | control replies | core → control thread (crossbeam `try_send`) | the reply is dropped and counted; the client times out |

pub use rtrb::{Consumer, Producer, PushError};

use crossbeam_utils::CachePadded;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many items a consumer has fully handled: written by the consumer only (`Release`), read
/// by the producer (`Acquire`). Everything the consumer did while handling those items — orders
/// it enqueued, state it changed — is visible to a producer that has read the count. A producer
/// that waits for the count runs in lockstep with the consumer, which is what makes simulated
/// runs reproducible across threads.
#[derive(Debug, Default)]
pub struct Progress {
    handled: CachePadded<AtomicU64>,
}

impl Progress {
    /// A shared count at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Items fully handled so far.
    #[inline]
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Acquire)
    }

    /// Publishes the count (consumer only).
    #[inline]
    pub fn publish(&self, n: u64) {
        self.handled.store(n, Ordering::Release);
    }
}

/// A bounded SPSC ring of `capacity` slots, allocated once here.
pub fn spsc<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    rtrb::RingBuffer::new(capacity.max(1))
}

/// Pushes `value`, waiting (spin then yield) while the ring is full. For producers that must not
/// drop (gateway reports, market events from a feed thread); never call it on the core thread.
/// Returns the value if the consumer is gone.
pub fn push_blocking<T>(producer: &mut Producer<T>, mut value: T) -> Result<(), T> {
    let mut spins = 0u32;
    loop {
        match producer.push(value) {
            Ok(()) => return Ok(()),
            Err(PushError::Full(v)) => {
                if producer.is_abandoned() {
                    return Err(v);
                }
                value = v;
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ring_hands_the_value_back() {
        let (mut tx, mut rx) = spsc::<u32>(2);
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        assert!(matches!(tx.push(3), Err(PushError::Full(3))));
        assert_eq!(rx.pop(), Ok(1));
        tx.push(3).unwrap();
        assert_eq!(rx.pop(), Ok(2));
        assert_eq!(rx.pop(), Ok(3));
    }

    #[test]
    fn push_blocking_waits_for_space_and_fails_when_consumer_gone() {
        let (mut tx, mut rx) = spsc::<u32>(1);
        tx.push(0).unwrap();
        let t = std::thread::spawn(move || {
            for i in 1..1000 {
                push_blocking(&mut tx, i).unwrap();
            }
            tx
        });
        let mut expect = 0;
        while expect < 1000 {
            if let Ok(v) = rx.pop() {
                assert_eq!(v, expect);
                expect += 1;
            }
        }
        let mut tx = t.join().unwrap();
        tx.push(5).unwrap();
        drop(rx);
        assert_eq!(push_blocking(&mut tx, 6), Err(6));
    }
}
