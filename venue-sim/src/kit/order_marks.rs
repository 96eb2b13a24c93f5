//! A bounded set of marked orders ([`OrderMarks`]): what a venue remembers about an order that
//! the shared market does not keep (here: that it was reduce-only, for the `reduceOnly` / `R`
//! fields of later answers and events). The oldest marks are forgotten past the capacity.
//!
//! Shared by connection threads behind one short lock.

use qt_core::AccountId;
use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

/// `(account, symbol index, venue order id)`.
pub(crate) type OrderKey = (AccountId, usize, u64);

/// Marked orders, oldest first.
#[derive(Debug)]
pub(crate) struct OrderMarks {
    cap: usize,
    inner: Mutex<(HashSet<OrderKey>, VecDeque<OrderKey>)>,
}

impl OrderMarks {
    /// At most `cap` marks.
    pub(crate) fn new(cap: usize) -> Self {
        Self { cap, inner: Mutex::new((HashSet::new(), VecDeque::new())) }
    }

    pub(crate) fn mark(&self, key: OrderKey) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (set, order) = &mut *g;
        if set.insert(key) {
            order.push_back(key);
        }
        while order.len() > self.cap {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
    }

    pub(crate) fn contains(&self, key: OrderKey) -> bool {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0.contains(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_marks_are_forgotten_past_the_capacity() {
        let marks = OrderMarks::new(2);
        let k = |id| (AccountId(0), 0, id);
        marks.mark(k(1));
        marks.mark(k(2));
        marks.mark(k(2));
        assert!(marks.contains(k(1)) && marks.contains(k(2)));
        marks.mark(k(3));
        assert!(!marks.contains(k(1)) && marks.contains(k(3)));
    }
}
