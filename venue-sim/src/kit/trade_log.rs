//! [`TradeLogs`]: the recent public trades of each market, for the REST endpoints that list
//! them (Firi `/v2/markets/{m}/history`, OKX `/api/v5/market/trades`, the tickers' last trade).
//!
//! A market's log starts when a protocol first asks for it (it subscribes to the market's book
//! feed then) and keeps the newest [`HISTORY`] trades; each read drains what the feed queued
//! since. Threads: read from the server's connection threads behind one short-lived mutex.
//! Allocates freely; never panics.

use crate::market::{BookUpdate, Market, TradeView};
use crossbeam_channel::Receiver;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Trades kept per market.
pub(crate) const HISTORY: usize = 1000;

/// One market's trade log, fed from its book feed.
#[derive(Debug)]
struct TradeLog {
    rx: Receiver<Arc<BookUpdate>>,
    trades: VecDeque<TradeView>,
}

/// The trade logs of the markets a protocol has been asked about.
#[derive(Debug, Default)]
pub(crate) struct TradeLogs {
    logs: Mutex<HashMap<usize, TradeLog>>,
}

impl TradeLogs {
    /// Up to `n` of market `index`'s trades seen since its log started, newest first; `None`
    /// when the market has no book.
    pub(crate) fn recent(&self, market: &Market, index: usize, n: usize) -> Option<Vec<TradeView>> {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = match logs.entry(index) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let (_, rx) = market.subscribe_book(index, 0)?;
                e.insert(TradeLog { rx, trades: VecDeque::new() })
            }
        };
        for u in log.rx.try_iter() {
            for t in &u.trades {
                if log.trades.len() == HISTORY {
                    log.trades.pop_front();
                }
                log.trades.push_back(*t);
            }
        }
        Some(log.trades.iter().rev().take(n).copied().collect())
    }
}
