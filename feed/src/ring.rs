//! [`RingFeed`]: market records from another thread through an SPSC ring.
//!
//! The producer (the in-process simulated venue; the benches) pushes [`MarketEvent`]s; the core thread pops them in
//! [`FeedSource::poll`], stamps the local receive time, advances the simulation clock to the
//! record's venue time (when it has one), dispatches it, and then publishes how many records it
//! has fully dispatched in a [`Progress`] count. A producer that waits for the watermark
//! runs in lockstep with the core — everything the core sent in reaction to a record (orders) is
//! visible before the producer moves on — which is what makes simulated runs reproducible.
//! Polling never blocks or allocates.

use qt_core::feed_source::{FeedSource, FeedState};
use qt_core::queue::{Consumer, Progress};
use qt_core::{MarketEvent, Nanos, SimClock};
use std::sync::Arc;

/// A feed fed by another thread.
#[derive(Debug)]
pub struct RingFeed {
    name: String,
    events: Consumer<MarketEvent>,
    progress: Arc<Progress>,
    clock: Option<SimClock>,
    dispatched: u64,
    max_per_poll: usize,
}

impl RingFeed {
    /// A feed reading `events`; `clock`, if given, is advanced to each record's venue time.
    pub fn new(
        name: impl Into<String>,
        events: Consumer<MarketEvent>,
        progress: Arc<Progress>,
        clock: Option<SimClock>,
    ) -> Self {
        Self { name: name.into(), events, progress, clock, dispatched: 0, max_per_poll: 4096 }
    }
}

impl FeedSource for RingFeed {
    fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let mut n = 0;
        while n < self.max_per_poll {
            let Ok(mut ev) = self.events.pop() else { break };
            ev.local_ns = local_now;
            if let Some(clock) = &self.clock {
                clock.advance_to(ev.exchange_ns);
            }
            sink(&ev);
            self.dispatched += 1;
            self.progress.publish(self.dispatched);
            n += 1;
        }
        n
    }

    fn state(&self) -> FeedState {
        if self.events.is_abandoned() && self.events.is_empty() { FeedState::Finished } else { FeedState::Live }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::queue::spsc;
    use qt_core::{Clock, EventKind, InstrumentId, Price, Qty, Side};

    #[test]
    fn dispatches_in_order_publishes_progress_and_finishes() {
        let (mut tx, rx) = spsc(8);
        let progress = Progress::new();
        let clock = SimClock::new(Nanos(0));
        let mut feed = RingFeed::new("sim", rx, progress.clone(), Some(clock.clone()));
        for i in 1..=3 {
            let mut ev = MarketEvent::new(
                InstrumentId(0),
                EventKind::BookDelta,
                Side::Buy,
                Price::from_units(i),
                Qty::from_units(1),
            );
            ev.exchange_ns = Nanos(i * 10);
            tx.push(ev).unwrap();
        }
        let mut seen = Vec::new();
        assert_eq!(feed.poll(Nanos(5), &mut |ev| seen.push((ev.price.units(), ev.local_ns))), 3);
        assert_eq!(seen, vec![(1, Nanos(5)), (2, Nanos(5)), (3, Nanos(5))]);
        assert_eq!(progress.handled(), 3);
        assert_eq!(clock.now(), Nanos(30));
        assert_eq!(feed.state(), FeedState::Live);
        drop(tx);
        assert_eq!(feed.state(), FeedState::Finished);
    }
}
