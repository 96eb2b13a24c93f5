//! The Binance protocols' request limits: REQUEST_WEIGHT per IP per calendar minute
//! ([`WeightMeter`], reported in `X-MBX-USED-WEIGHT-1M`) and ORDERS per account per window
//! ([`OrderCounter`], reported in `X-MBX-ORDER-COUNT-<n><unit>` on accepted orders). Spot and
//! USD-M differ only in their numbers, windows and the text of -1003 (the callers say which).
//!
//! Shared by connection threads behind short locks; allocates the header texts.

use super::binance_errors::BinanceError;
use qt_core::AccountId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Weight used per IP in the current calendar minute.
#[derive(Debug)]
pub(crate) struct WeightMeter {
    limit: u32,
    used: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl WeightMeter {
    pub(crate) fn new(limit: u32) -> Self {
        Self { limit, used: Mutex::new(HashMap::new()) }
    }

    /// The limit per minute.
    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    /// Adds `weight` to `ip`'s minute; the weight used, and (when over the limit) the seconds
    /// until the minute ends, at least 1.
    pub(crate) fn charge(&self, ip: IpAddr, weight: u32, now_ms: i64) -> (u32, Option<u64>) {
        let minute = now_ms.div_euclid(60_000);
        let used = {
            let mut w = lock(&self.used);
            let entry = w.entry(ip).or_insert((minute, 0));
            if entry.0 != minute {
                *entry = (minute, 0);
            }
            entry.1 = entry.1.saturating_add(weight);
            entry.1
        };
        let retry_after_s = u64::try_from((minute + 1) * 60_000 - now_ms).unwrap_or(0).div_ceil(1000).max(1);
        (used, (used > self.limit).then_some(retry_after_s))
    }
}

/// One ORDERS window: its length, limit, header suffix (`10S`) and the interval as -1015 names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderWindow {
    pub(crate) ms: i64,
    pub(crate) limit: u32,
    pub(crate) header: &'static str,
    pub(crate) interval: &'static str,
}

/// New orders per account in each window.
#[derive(Debug)]
pub(crate) struct OrderCounter {
    windows: Vec<OrderWindow>,
    /// Per account: (window number, count) per window.
    counts: Mutex<HashMap<AccountId, Vec<(i64, u32)>>>,
}

impl OrderCounter {
    pub(crate) fn new(windows: Vec<OrderWindow>) -> Self {
        Self { windows, counts: Mutex::new(HashMap::new()) }
    }

    /// Counts one new order of `account`; -1015 if a window is full (nothing counted), else the
    /// `X-MBX-ORDER-COUNT-*` headers.
    pub(crate) fn count(&self, account: AccountId, now_ms: i64) -> Result<Vec<(String, String)>, BinanceError> {
        let mut all = lock(&self.counts);
        let counts = all.entry(account).or_insert_with(|| vec![(i64::MIN, 0); self.windows.len()]);
        for (w, c) in self.windows.iter().zip(counts.iter_mut()) {
            let n = now_ms.div_euclid(w.ms);
            if c.0 != n {
                *c = (n, 0);
            }
            if c.1 >= w.limit {
                return Err(BinanceError::TooManyOrders { limit: w.limit, interval: w.interval });
            }
        }
        Ok(self
            .windows
            .iter()
            .zip(counts.iter_mut())
            .map(|(w, c)| {
                c.1 += 1;
                (format!("X-MBX-ORDER-COUNT-{}", w.header), c.1.to_string())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weight resets each minute and reports the seconds left when over; orders count per
    /// window and the fullest refuses.
    #[test]
    fn weights_and_order_counts() {
        let meter = WeightMeter::new(10);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(meter.charge(ip, 6, 60_000), (6, None));
        assert_eq!(meter.charge(ip, 6, 61_500), (12, Some(59)));
        assert_eq!(meter.charge(ip, 1, 120_000), (1, None));
        let orders = OrderCounter::new(vec![
            OrderWindow { ms: 10_000, limit: 2, header: "10S", interval: "10 SECOND" },
            OrderWindow { ms: 60_000, limit: 3, header: "1M", interval: "1 MINUTE" },
        ]);
        let a = AccountId(0);
        assert_eq!(orders.count(a, 0).unwrap()[1], ("X-MBX-ORDER-COUNT-1M".to_string(), "1".to_string()));
        orders.count(a, 1).unwrap();
        assert_eq!(orders.count(a, 2), Err(BinanceError::TooManyOrders { limit: 2, interval: "10 SECOND" }));
        orders.count(a, 10_000).unwrap();
        assert_eq!(orders.count(a, 10_001), Err(BinanceError::TooManyOrders { limit: 3, interval: "1 MINUTE" }));
    }
}
