//! Per-symbol subscription and resync state of a live feed: which symbols are subscribed, when
//! each book was last (re)subscribed, and the requests that renew one book's subscription
//! (built once at start-up). A book the decoder wants resubscribed (gap, checksum mismatch,
//! unreadable book frame, a book the engine refused), or one still not in sync the venue's
//! snapshot timeout after its (re)subscription, is resubscribed; venues that resync over REST
//! are asked for snapshots instead (see [`super::snapshot_source`]).
//!
//! Core thread. [`Resync::work_due`] runs every poll of an open session: a scan of the symbols
//! without allocation.

use super::venue::{LiveDecoder, LiveVenue};
use qt_core::Nanos;

/// The per-symbol state.
#[derive(Debug)]
pub(crate) struct Resync {
    /// Per symbol: subscribed.
    pub(crate) active: Vec<bool>,
    /// Per symbol: when its book was last (re)subscribed.
    subscribed_at: Vec<Nanos>,
    /// Per symbol: the requests that renew its book subscription.
    requests: Vec<Vec<String>>,
    snapshot_timeout: Option<Nanos>,
}

impl Resync {
    /// Every symbol of `venue` subscribed; its resubscribe requests built now.
    pub(crate) fn new<V: LiveVenue>(venue: &V, symbols: usize) -> Self {
        Self {
            active: vec![true; symbols],
            subscribed_at: vec![Nanos::ZERO; symbols],
            requests: (0..symbols).map(|i| venue.resubscribe_requests(i)).collect(),
            snapshot_timeout: venue.snapshot_timeout(),
        }
    }

    /// Symbols.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.active.len()
    }

    /// Every book was (re)subscribed at `now`.
    pub(crate) fn all_subscribed(&mut self, now: Nanos) {
        self.subscribed_at.fill(now);
    }

    /// Whether symbol `index` waited longer than the snapshot timeout for its book.
    #[inline]
    pub(crate) fn overdue(&self, index: usize, decoder: &impl LiveDecoder, now: Nanos) -> bool {
        self.snapshot_timeout.is_some_and(|timeout| {
            self.active[index]
                && !decoder.is_synced(index)
                && self.subscribed_at.get(index).is_some_and(|at| now.saturating_sub(*at) >= timeout)
        })
    }

    /// Whether any book wants a resubscription now.
    #[inline]
    pub(crate) fn work_due(&self, decoder: &impl LiveDecoder, now: Nanos) -> bool {
        (0..self.len()).any(|i| decoder.wants_resubscribe(i) || self.overdue(i, decoder, now))
    }

    /// If symbol `index` is to be resubscribed now: `Some(overdue)`, its clock restarted at
    /// `now` and the request taken from the decoder.
    #[inline]
    pub(crate) fn take(&mut self, index: usize, decoder: &mut impl LiveDecoder, now: Nanos) -> Option<bool> {
        let overdue = self.overdue(index, decoder, now);
        if !(decoder.take_resubscribe(index) || overdue) {
            return None;
        }
        self.subscribed_at[index] = now;
        Some(overdue)
    }

    /// The requests that renew symbol `index`'s book subscription.
    pub(crate) fn requests(&self, index: usize) -> &[String] {
        self.requests.get(index).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder::{FeedStats, VenueDecoder};
    use qt_core::{BookError, MarketEvent, Venue};

    /// Two books: `synced[i]`, and a resubscribe wanted for `wants[i]`.
    #[derive(Debug, Default)]
    struct Books {
        synced: [bool; 2],
        wants: [bool; 2],
    }

    impl VenueDecoder for Books {
        fn venue(&self) -> Venue {
            Venue::Okx
        }
        fn on_frame(&mut self, _: &[u8], _: Nanos, _: &mut dyn FnMut(&MarketEvent)) {}
        fn on_disconnect(&mut self, _: Nanos, _: &mut dyn FnMut(&MarketEvent)) {}
        fn on_book_refused(&mut self, _: usize, _: BookError, _: Nanos, _: &mut dyn FnMut(&MarketEvent)) {}
        fn stats(&self) -> FeedStats {
            FeedStats::default()
        }
    }

    impl LiveDecoder for Books {
        fn symbol_count(&self) -> usize {
            2
        }
        fn is_synced(&self, index: usize) -> bool {
            self.synced[index]
        }
        fn take_resubscribe(&mut self, index: usize) -> bool {
            std::mem::take(&mut self.wants[index])
        }
        fn wants_resubscribe(&self, index: usize) -> bool {
            self.wants[index]
        }
    }

    #[derive(Debug)]
    struct Venue2(Option<Nanos>);

    impl LiveVenue for Venue2 {
        type Decoder = Books;
        fn name(&self) -> &'static str {
            "test"
        }
        fn symbol_count(&self) -> usize {
            2
        }
        fn subscriptions(&self, _: &[bool]) -> Vec<String> {
            Vec::new()
        }
        fn resubscribe_requests(&self, index: usize) -> Vec<String> {
            vec![format!("renew {index}")]
        }
        fn snapshot_timeout(&self) -> Option<Nanos> {
            self.0
        }
    }

    #[test]
    fn a_wanted_or_overdue_book_is_resubscribed_once_and_its_clock_restarts() {
        let mut r = Resync::new(&Venue2(Some(Nanos(5))), 2);
        let mut d = Books { synced: [true, false], wants: [false, false] };
        r.all_subscribed(Nanos(0));
        assert!(!r.work_due(&d, Nanos(4)));
        assert!(r.work_due(&d, Nanos(5)), "book 1 has waited the timeout");
        assert_eq!(r.take(0, &mut d, Nanos(5)), None);
        assert_eq!(r.take(1, &mut d, Nanos(5)), Some(true));
        assert!(!r.work_due(&d, Nanos(9)), "its clock restarted at 5");
        d.wants[0] = true;
        assert!(r.work_due(&d, Nanos(9)));
        assert_eq!(r.take(0, &mut d, Nanos(9)), Some(false), "wanted, not overdue");
        assert_eq!(r.take(0, &mut d, Nanos(9)), None, "the want was taken");
        assert_eq!(r.requests(1), ["renew 1"]);
        r.active[1] = false;
        assert!(!r.work_due(&d, Nanos(100)), "an unsubscribed book is never overdue");
    }

    #[test]
    fn without_a_snapshot_timeout_nothing_is_ever_overdue() {
        let r = Resync::new(&Venue2(None), 2);
        let d = Books::default();
        assert!(!r.work_due(&d, Nanos(i64::MAX)));
    }
}
