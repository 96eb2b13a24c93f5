//! The recent public trades of each symbol, for `GET /fapi/v1/trades`, `aggTrades` and
//! `ticker/24hr`: [`TradeTape`].
//!
//! The market keeps no trade history, so the tape subscribes to a symbol's book updates the first
//! time a REST call asks for it and keeps the last [`TAPE_LEN`] trades from then on (a guess at
//! history, README lists it). It reads its subscription only when asked; if the market drops a
//! subscription that fell behind, the tape subscribes again and the trades in between are missing.
//!
//! Threads and contract: server connection threads share it behind one lock, held for a drain.

use crate::market::{BookUpdate, Market, TradeView};
use crossbeam_channel::{Receiver, TryRecvError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Trades kept per symbol (the documented `limit` maximum of `trades` and `aggTrades`).
pub(super) const TAPE_LEN: usize = 1000;

#[derive(Debug, Default)]
struct SymbolTape {
    updates: Option<Receiver<Arc<BookUpdate>>>,
    trades: VecDeque<TradeView>,
}

/// Recent trades per symbol index.
#[derive(Debug, Default)]
pub(super) struct TradeTape {
    symbols: Mutex<Vec<SymbolTape>>,
}

impl TradeTape {
    /// The trades of `symbol` seen so far, oldest first (empty on the first call for it).
    pub(super) fn recent(&self, market: &Market, symbol: usize) -> Vec<TradeView> {
        let mut symbols = self.symbols.lock().unwrap_or_else(PoisonError::into_inner);
        if symbols.len() <= symbol {
            symbols.resize_with(symbol + 1, SymbolTape::default);
        }
        let tape = &mut symbols[symbol];
        loop {
            let Some(rx) = &tape.updates else {
                tape.updates = market.subscribe_book(symbol, 0).map(|(_, rx)| rx);
                break;
            };
            match rx.try_recv() {
                Ok(update) => {
                    for t in &update.trades {
                        if tape.trades.len() == TAPE_LEN {
                            tape.trades.pop_front();
                        }
                        tape.trades.push_back(*t);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => tape.updates = None,
            }
        }
        tape.trades.iter().copied().collect()
    }
}
