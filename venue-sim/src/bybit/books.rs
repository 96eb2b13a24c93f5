//! Bybit's `orderbook.{depth}.{symbol}` topics, published once for the whole venue: every
//! session subscribed to a topic, and the REST book, see the same sequence of views with the
//! same `u`.
//!
//! `market/orderbook.mdx`: the REST book's `u` "is corresponding to `u` in the wss 200-level
//! orderbook" for spot, and `seq` ("cross sequence") compares books of different depths. So
//! `u` cannot be a per-connection counter: here each (symbol, depth) topic is a venue-wide
//! [`SymbolBooks`] publication with its own `u` (+1 per published view, +2 under an injected
//! `skip_sequence`), its `seq` the market update id the view reflects, and a short history that
//! each session's [`BookCursor`] replays from; `GET /v5/market/orderbook?category=spot` serves
//! the 200-level topic's last published view, `u` and `seq` included.
//!
//! Publishing is driven by whoever looks (a session's tick, a REST request): [`SymbolBooks`]
//! drains its market subscription, and a topic whose push interval has passed publishes its
//! view if it changed (with the zero test-speed interval: after every market operation that
//! changes it). A topic nobody watches holds no subscription; the next look re-reads the book.
//! A session that falls more than [`HISTORY`] views behind (a long stall) gets a new snapshot,
//! which Bybit's clients treat as a reset.
//!
//! Runs on connection threads under one mutex per symbol, held for the drain and the diffs;
//! allocates per published view; never panics on market data.

use super::wire::{Category, Obj, levels_json, ms};
use crate::faults::Faults;
use crate::market::{BookUpdate, Market};
use crate::public_stream::{Levels, MirrorBook, PublishedView};
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::Instrument;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Views a topic remembers for sessions that are behind.
pub(super) const HISTORY: usize = 4096;
/// Level-1 books re-send their snapshot after this long without a change, with the same `u`.
pub(super) const LEVEL1_RESEND: Duration = Duration::from_secs(3);
/// The depth whose `u` the spot REST book carries (`market/orderbook.mdx`).
pub(super) const SPOT_REST_DEPTH: usize = 200;

/// The push interval of `orderbook.{depth}` (`websocket/public/orderbook.mdx`, current English
/// page: level 1 10 ms, 50 20 ms, 200 100 ms, 1000 200 ms for both linear and spot). Older
/// revisions and the zh-TW page give 200 ms for spot level 200; the current English page wins.
pub(super) fn push_interval(depth: usize) -> Option<Duration> {
    match depth {
        1 => Some(Duration::from_millis(10)),
        50 => Some(Duration::from_millis(20)),
        200 => Some(Duration::from_millis(100)),
        1000 => Some(Duration::from_millis(200)),
        _ => None,
    }
}

/// Levels of a topic at one `u`: a whole view, or the changes of one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The topic's `u`.
    pub u: u64,
    /// The market update id the view reflects (Bybit's `seq`).
    pub seq: u64,
    /// Matching-engine time of that update, ms.
    pub cts: i64,
    /// Bid levels, best first.
    pub bids: Levels,
    /// Ask levels, best first.
    pub asks: Levels,
}

/// One published view of a topic: for level 1 the whole view (a snapshot), for the other
/// depths the levels that changed against the previous view (size 0: left the view).
#[derive(Debug)]
pub(super) struct Push {
    /// The `u` before it (one less, or two under an injected gap).
    pub prev_u: u64,
    /// The push's `u`, `seq`, `cts` and levels.
    pub levels: View,
}

/// One depth of one symbol, venue-wide.
#[derive(Debug)]
struct Topic {
    depth: usize,
    interval: Duration,
    published: PublishedView,
    u: u64,
    seq: u64,
    cts: i64,
    dirty: bool,
    next_due: Instant,
    history: VecDeque<Arc<Push>>,
    watchers: usize,
}

impl Topic {
    fn view(&self) -> View {
        View {
            u: self.u,
            seq: self.seq,
            cts: self.cts,
            bids: self.published.top_bids(self.depth).collect(),
            asks: self.published.top_asks(self.depth).collect(),
        }
    }
}

/// Every book topic of one symbol, with the full book they are cut from.
#[derive(Debug)]
pub(super) struct SymbolBooks {
    symbol: usize,
    rx: Option<Receiver<Arc<BookUpdate>>>,
    book: MirrorBook,
    cts: i64,
    topics: Vec<Topic>,
}

/// What a session must send for its topic.
#[derive(Debug)]
pub(super) enum Due {
    /// Nothing new.
    Nothing,
    /// These views, in order.
    Pushes(Vec<Arc<Push>>),
    /// The session fell behind the history: a snapshot of the current view.
    Snapshot(View),
}

impl SymbolBooks {
    fn new(symbol: usize) -> Self {
        Self { symbol, rx: None, book: MirrorBook::default(), cts: 0, topics: Vec::new() }
    }

    /// Takes in the market's updates (subscribing first if nobody watched until now), then
    /// publishes every topic that is due and changed.
    pub(super) fn advance(&mut self, market: &Market, faults: &Faults, now: Instant) {
        if self.rx.is_none() {
            let Some((snap, rx)) = market.subscribe_book(self.symbol, usize::MAX) else { return };
            self.book = MirrorBook::from_snapshot(&snap);
            self.cts = ms(snap.ts);
            self.rx = Some(rx);
            for t in &mut self.topics {
                t.dirty = true;
            }
        }
        while let Some(rx) = &self.rx {
            match rx.try_recv() {
                Ok(update) => {
                    self.apply(&update);
                    // The zero test-speed interval publishes every operation's view.
                    for i in 0..self.topics.len() {
                        if self.topics[i].interval.is_zero() && self.topics[i].dirty {
                            self.publish(i, faults, now);
                        }
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    // Fell a whole backlog behind: read the book again next time.
                    self.rx = None;
                    return self.advance(market, faults, now);
                }
            }
        }
        for i in 0..self.topics.len() {
            if self.topics[i].dirty && now >= self.topics[i].next_due {
                self.publish(i, faults, now);
            }
        }
    }

    /// Drops the market subscription when no session watches any topic (a REST request's look
    /// leaves no backlog behind); the next [`SymbolBooks::advance`] reads the book again.
    pub(super) fn release_if_unwatched(&mut self) {
        if self.topics.iter().all(|t| t.watchers == 0) {
            self.rx = None;
        }
    }

    fn apply(&mut self, update: &BookUpdate) {
        if self.book.apply(update) {
            for t in &mut self.topics {
                t.dirty = true;
            }
        }
        self.cts = ms(update.ts);
    }

    /// Publishes topic `i`'s view if it changed.
    fn publish(&mut self, i: usize, faults: &Faults, now: Instant) {
        let (update_id, cts) = (self.book.update_id, self.cts);
        let t = &mut self.topics[i];
        t.dirty = false;
        let (b, a) = t.published.diff(&self.book);
        if b.is_empty() && a.is_empty() {
            return;
        }
        let push = if t.depth == 1 {
            // Level 1 is snapshot only: the whole new view.
            let view = t.view();
            Push { prev_u: t.u, levels: View { u: t.u + 1, seq: update_id, cts, bids: view.bids, asks: view.asks } }
        } else {
            // An injected gap is for clients to see; nobody watching, nobody takes it.
            let step = if t.watchers > 0 && faults.take_skip_sequence() { 2 } else { 1 };
            Push { prev_u: t.u, levels: View { u: t.u + step, seq: update_id, cts, bids: b, asks: a } }
        };
        t.u = push.levels.u;
        t.seq = update_id;
        t.cts = cts;
        t.next_due = now + t.interval;
        if t.history.len() == HISTORY {
            t.history.pop_front();
        }
        t.history.push_back(Arc::new(push));
    }

    fn topic_index(&mut self, depth: usize, interval: Duration, now: Instant) -> usize {
        if let Some(i) = self.topics.iter().position(|t| t.depth == depth) {
            return i;
        }
        let (published, _, _) = PublishedView::snapshot(&self.book, depth);
        self.topics.push(Topic {
            depth,
            interval,
            published,
            u: self.book.update_id.max(1),
            seq: self.book.update_id,
            cts: self.cts,
            dirty: false,
            next_due: now + interval,
            history: VecDeque::new(),
            watchers: 0,
        });
        self.topics.len() - 1
    }

    /// The current view of topic `depth` (made on first use, publishing every `interval`; call
    /// [`SymbolBooks::advance`] first).
    pub(super) fn view(&mut self, depth: usize, interval: Duration, now: Instant) -> View {
        let i = self.topic_index(depth, interval, now);
        self.topics[i].view()
    }

    /// A new watcher of topic `depth`: its snapshot.
    fn watch(&mut self, depth: usize, interval: Duration, now: Instant) -> View {
        let i = self.topic_index(depth, interval, now);
        self.topics[i].watchers += 1;
        self.topics[i].view()
    }

    fn unwatch(&mut self, depth: usize) {
        if let Some(t) = self.topics.iter_mut().find(|t| t.depth == depth) {
            t.watchers = t.watchers.saturating_sub(1);
        }
        self.release_if_unwatched();
    }

    /// What a watcher that has sent up to `sent_u` must send now.
    fn due_since(&self, depth: usize, sent_u: u64) -> Due {
        let Some(t) = self.topics.iter().find(|t| t.depth == depth) else { return Due::Nothing };
        if t.u == sent_u {
            return Due::Nothing;
        }
        match t.history.front() {
            Some(first) if first.prev_u <= sent_u => {
                Due::Pushes(t.history.iter().filter(|p| p.levels.u > sent_u).cloned().collect())
            }
            _ => Due::Snapshot(t.view()),
        }
    }
}

/// The venue's book topics, one [`SymbolBooks`] per symbol.
#[derive(Debug, Default)]
pub(super) struct BookBoard {
    symbols: Mutex<HashMap<usize, Arc<Mutex<SymbolBooks>>>>,
}

/// Locks a symbol's books; a poisoned lock still holds consistent maps (no update is applied
/// half-way on a panic-free path).
pub(super) fn lock(books: &Mutex<SymbolBooks>) -> MutexGuard<'_, SymbolBooks> {
    books.lock().unwrap_or_else(|p| p.into_inner())
}

impl BookBoard {
    /// The books of `symbol`.
    pub(super) fn of(&self, symbol: usize) -> Arc<Mutex<SymbolBooks>> {
        let mut map = self.symbols.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(symbol).or_insert_with(|| Arc::new(Mutex::new(SymbolBooks::new(symbol)))).clone()
    }
}

/// A session's place in one venue-wide topic.
#[derive(Debug)]
pub(super) struct BookCursor {
    books: Arc<Mutex<SymbolBooks>>,
    /// The topic's depth.
    pub depth: usize,
    /// `orderbook.{depth}.{symbol}`.
    pub topic: String,
    sent_u: u64,
    last_sent: Instant,
}

impl BookCursor {
    /// Starts watching; the first message to send is the returned snapshot.
    pub(super) fn watch(
        books: Arc<Mutex<SymbolBooks>>,
        depth: usize,
        interval: Duration,
        topic: String,
        ctx: &crate::protocol::Ctx,
        now: Instant,
    ) -> (Self, View) {
        let view = {
            let mut b = lock(&books);
            b.advance(&ctx.market, &ctx.faults, now);
            b.watch(depth, interval, now)
        };
        let cursor = Self { books, depth, topic, sent_u: view.u, last_sent: now };
        (cursor, view)
    }

    /// What is due now (advancing the publication first); a level-1 topic unchanged for
    /// [`LEVEL1_RESEND`] re-sends its snapshot with the same `u`.
    pub(super) fn due(&mut self, ctx: &crate::protocol::Ctx, now: Instant) -> Due {
        let mut b = lock(&self.books);
        b.advance(&ctx.market, &ctx.faults, now);
        let due = b.due_since(self.depth, self.sent_u);
        let due = match due {
            Due::Nothing if self.depth == 1 && now.duration_since(self.last_sent) >= LEVEL1_RESEND => {
                b.topics.iter().find(|t| t.depth == 1).map_or(Due::Nothing, |t| Due::Snapshot(t.view()))
            }
            other => other,
        };
        drop(b);
        match &due {
            Due::Nothing => {}
            Due::Pushes(p) => {
                self.sent_u = p.last().map_or(self.sent_u, |p| p.levels.u);
                self.last_sent = now;
            }
            Due::Snapshot(v) => {
                self.sent_u = v.u;
                self.last_sent = now;
            }
        }
        due
    }
}

impl Drop for BookCursor {
    fn drop(&mut self) {
        lock(&self.books).unwatch(self.depth);
    }
}

/// An `orderbook` push of `v` (`kind` `snapshot` or `delta`) on `topic`, a `depth`-level
/// topic, sent at `ts`. Spot (all depths) and level 1 put `ts` before `type`; other futures
/// depths after it (the orderbook page's "reminder", and the recordings).
pub(super) fn book_message(
    cat: Category,
    (topic, depth): (&str, usize),
    kind: &str,
    inst: &Instrument,
    v: &View,
    ts: i64,
) -> String {
    let data = Obj::new()
        .s("s", inst.symbol())
        .raw("b", &levels_json(inst, cat, &v.bids))
        .raw("a", &levels_json(inst, cat, &v.asks))
        .uint("u", v.u)
        .uint("seq", v.seq)
        .done();
    let o = Obj::new().s("topic", topic);
    let o = if cat == Category::Spot || depth == 1 {
        o.int("ts", ts).s("type", kind)
    } else {
        o.s("type", kind).int("ts", ts)
    };
    o.raw("data", &data).int("cts", v.cts).done()
}

/// A spot `orderbook.{depth}.{symbol}` push of `v` (`kind` `snapshot` or `delta`) sent at `ts`
/// (ms), exactly as the public spot stream writes it: [`book_message`] for outside users (the
/// bench streams), so the format has one encoder.
pub fn spot_book_message(depth: usize, kind: &str, inst: &Instrument, v: &View, ts: i64) -> String {
    let topic = format!("orderbook.{depth}.{}", inst.symbol());
    book_message(Category::Spot, (&topic, depth), kind, inst, v, ts)
}
