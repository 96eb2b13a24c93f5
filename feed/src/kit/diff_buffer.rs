//! [`DiffBuffer`]: the bounded buffer of depth messages a REST-snapshot sync holds while its
//! snapshot is fetched — each message's sequence metadata `M` and its level records, in arrival
//! order. The buffer of [`crate::kit::depth_sync::DepthSync`], whatever the venue's rule.
//!
//! Pure, core thread: allocates only in [`DiffBuffer::new`]; never grows past its bounds (a
//! message that does not fit empties it instead, and the caller resyncs).

use qt_core::MarketEvent;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
struct Held<M> {
    meta: M,
    start: usize,
    len: usize,
}

/// Buffered messages (metadata `M`) and their records.
#[derive(Debug)]
pub(crate) struct DiffBuffer<M> {
    records: Vec<MarketEvent>,
    messages: VecDeque<Held<M>>,
    max_records: usize,
    max_messages: usize,
}

impl<M: Copy> DiffBuffer<M> {
    /// Room for `max_records` level records in `max_messages` messages (at least one each).
    pub(crate) fn new(max_records: usize, max_messages: usize) -> Self {
        let (max_records, max_messages) = (max_records.max(1), max_messages.max(1));
        Self {
            records: Vec::with_capacity(max_records),
            messages: VecDeque::with_capacity(max_messages),
            max_records,
            max_messages,
        }
    }

    /// Messages held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message is held.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Holds one message; `false` if it does not fit, and then the buffer is emptied.
    pub(crate) fn push(&mut self, meta: M, records: &[MarketEvent]) -> bool {
        if self.messages.len() >= self.max_messages || self.records.len() + records.len() > self.max_records {
            self.clear();
            return false;
        }
        let start = self.records.len();
        self.records.extend_from_slice(records);
        self.messages.push_back(Held { meta, start, len: records.len() });
        true
    }

    /// The oldest message's metadata.
    #[inline]
    pub(crate) fn front(&self) -> Option<M> {
        self.messages.front().map(|h| h.meta)
    }

    /// Drops the oldest messages while `old` says so (those the snapshot already holds).
    pub(crate) fn drop_front_while(&mut self, old: impl Fn(&M) -> bool) {
        while self.messages.front().is_some_and(|h| old(&h.meta)) {
            self.messages.pop_front();
        }
    }

    /// Message `i`'s metadata and records (in place, to be flagged and emitted).
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<(M, &mut [MarketEvent])> {
        let h = *self.messages.get(i)?;
        Some((h.meta, &mut self.records[h.start..h.start + h.len]))
    }

    /// Forgets the messages before `i` (and their records); the rest stay, in order.
    pub(crate) fn keep_from(&mut self, i: usize) {
        let Some(first) = self.messages.get(i).map(|h| h.start) else { return self.clear() };
        self.records.drain(..first);
        self.messages.drain(..i);
        for h in &mut self.messages {
            h.start -= first;
        }
    }

    /// Capacity of the record storage (allocated in [`Self::new`], never grown).
    #[cfg(test)]
    pub(crate) fn record_capacity(&self) -> usize {
        self.records.capacity()
    }

    /// Empties the buffer (capacity kept).
    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.messages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{EventKind, InstrumentId, Price, Qty, Side};

    fn rec(p: i64) -> MarketEvent {
        MarketEvent::new(InstrumentId(0), EventKind::BookDelta, Side::Buy, Price::from_units(p), Qty::from_units(1))
    }

    #[test]
    fn bounded_ordered_and_rebased() {
        let mut b: DiffBuffer<u64> = DiffBuffer::new(4, 3);
        assert!(b.push(1, &[rec(1)]) && b.push(2, &[rec(2), rec(3)]) && b.push(3, &[]));
        assert!(!b.push(4, &[]), "a fourth message does not fit");
        assert!(b.is_empty());
        assert!(b.push(1, &[rec(1)]) && b.push(2, &[rec(2), rec(3)]) && b.push(3, &[rec(4)]));
        assert!(!DiffBuffer::<u64>::new(2, 8).push(1, &[rec(1), rec(2), rec(3)]), "too many records");
        b.drop_front_while(|m| *m < 2);
        assert_eq!((b.len(), b.front()), (2, Some(2)));
        b.keep_from(1);
        let (meta, records) = b.get_mut(0).unwrap();
        assert_eq!((meta, records.len(), records[0].price), (3, 1, Price::from_units(4)));
        assert!(b.get_mut(1).is_none());
    }
}
