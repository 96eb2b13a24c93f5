//! Pieces the simulator's public market-data sessions share (Binance USD-M, KuCoin): a
//! symbol's book feed cut into diff windows ([`DiffWindow`]), the merged levels of a window
//! ([`merged_levels`]), stream frames sent through the frame faults ([`send_data`]) and the
//! "must this session end" check ([`SessionGuard`]).
//!
//! Threads: used by one session's connection thread. Allocates freely; never panics on input.

use crate::faults::Faults;
use crate::market::{BookUpdate, Market};
use crate::protocol::{Ctx, WsSession};
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::{Price, Qty, Side};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// One symbol's book operations, batched into windows of `every`.
#[derive(Debug)]
pub(crate) struct DiffWindow {
    /// Symbol index in the market.
    pub(crate) symbol: usize,
    rx: Receiver<Arc<BookUpdate>>,
    pending: Vec<Arc<BookUpdate>>,
    every: Duration,
    next_flush: Instant,
    /// `update_id` of the market's book when this window's feed started.
    pub(crate) start_id: u64,
}

impl DiffWindow {
    /// Subscribes to `symbol`'s operations (the first one received is `start_id + 1`).
    pub(crate) fn subscribe(market: &Market, symbol: usize, every: Duration) -> Option<Self> {
        let (snap, rx) = market.subscribe_book(symbol, 0)?;
        Some(Self {
            symbol,
            rx,
            pending: Vec::new(),
            every,
            next_flush: Instant::now() + every,
            start_id: snap.update_id,
        })
    }

    /// Takes every operation that arrived: level-changing ones are kept for the window, all are
    /// pushed onto `seen` (trades and tops are sent as they come). `Err` if the market dropped
    /// the feed (the session fell behind).
    pub(crate) fn pump(&mut self, seen: &mut Vec<Arc<BookUpdate>>) -> Result<(), ()> {
        loop {
            match self.rx.try_recv() {
                Ok(u) => {
                    if !u.levels.is_empty() {
                        self.pending.push(u.clone());
                    }
                    seen.push(u);
                }
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(()),
            }
        }
    }

    /// The window that closed, if one did and it changed anything. An injected sequence skip
    /// loses the window's first operation (its id and its levels), as if a message carrying
    /// only that operation had been lost.
    pub(crate) fn take_due(&mut self, now: Instant, faults: &Faults) -> Option<Window> {
        if now < self.next_flush {
            return None;
        }
        let next = self.next_flush + self.every;
        self.next_flush = if next > now { next } else { now + self.every };
        if self.pending.is_empty() {
            return None;
        }
        let lost = faults.take_skip_sequence().then(|| self.pending.remove(0).update_id);
        (!self.pending.is_empty()).then(|| Window { ops: std::mem::take(&mut self.pending), lost })
    }
}

/// A closed diff window.
#[derive(Debug)]
pub(crate) struct Window {
    /// Its operations, oldest first (never empty).
    pub(crate) ops: Vec<Arc<BookUpdate>>,
    /// The id of the operation an injected skip lost, if one did.
    pub(crate) lost: Option<u64>,
}

impl Window {
    /// First and last operation ids.
    pub(crate) fn ids(&self) -> (u64, u64) {
        (self.ops.first().map_or(0, |o| o.update_id), self.ops.last().map_or(0, |o| o.update_id))
    }
}

/// One price level of a merged window: final quantity and the id of the last operation that
/// touched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MergedLevel {
    pub(crate) price: Price,
    pub(crate) qty: Qty,
    pub(crate) last_id: u64,
}

/// The final state of every price `ops` touched: bids best (highest) first, asks best first.
pub(crate) fn merged_levels(ops: &[Arc<BookUpdate>]) -> (Vec<MergedLevel>, Vec<MergedLevel>) {
    let mut bids: BTreeMap<i64, (Qty, u64)> = BTreeMap::new();
    let mut asks: BTreeMap<i64, (Qty, u64)> = BTreeMap::new();
    for op in ops {
        for (side, price, qty) in &op.levels {
            let book = if *side == Side::Buy { &mut bids } else { &mut asks };
            book.insert(price.units(), (*qty, op.update_id));
        }
    }
    let level = |(p, (q, id)): (&i64, &(Qty, u64))| MergedLevel { price: Price::from_units(*p), qty: *q, last_id: *id };
    (bids.iter().rev().map(level).collect(), asks.iter().map(level).collect())
}

/// Sends one stream message, unless a pending frame fault replaces it (syntactically invalid
/// JSON) or cuts it in half.
pub(crate) fn send_data(ws: &mut dyn WsSession, faults: &Faults, text: &str) -> std::io::Result<()> {
    if faults.take_malformed_frame() {
        ws.send_raw_text(b"{\"type\":\"message\",\"data\":,]")
    } else if faults.take_truncated_frame() {
        ws.send_raw_text(&text.as_bytes()[..text.len() / 2])
    } else {
        ws.send_text(text)
    }
}

/// Whether a session started now must end: the simulator stops, every session is dropped
/// (`drop_ws`), or the venue is in an outage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionGuard {
    generation: u64,
}

/// What a [`SessionGuard`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep serving.
    Serve,
    /// End with a close frame (shutdown).
    CloseGracefully,
    /// Drop the socket (fault).
    Drop,
}

impl SessionGuard {
    pub(crate) fn new(ctx: &Ctx) -> Self {
        Self { generation: ctx.faults.ws_generation() }
    }

    /// Closes `ws` as [`SessionGuard::check`] says (gracefully at shutdown, dropped on a fault);
    /// whether the session may go on.
    pub(crate) fn keep_serving(&self, ctx: &Ctx, ws: &mut dyn WsSession) -> bool {
        match self.check(ctx) {
            Verdict::Serve => true,
            Verdict::CloseGracefully => {
                ws.close(true);
                false
            }
            Verdict::Drop => {
                ws.close(false);
                false
            }
        }
    }

    pub(crate) fn check(&self, ctx: &Ctx) -> Verdict {
        if ctx.stop.load(Ordering::Relaxed) {
            Verdict::CloseGracefully
        } else if ctx.faults.ws_generation() != self.generation || ctx.faults.in_outage() {
            Verdict::Drop
        } else {
            Verdict::Serve
        }
    }
}
