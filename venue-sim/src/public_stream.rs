//! Pieces the public market-data sessions of the OKX and Kraken protocols share (and Bybit's
//! venue-wide book topics, `bybit::books`): a mirror of a market book ([`MirrorBook`]), the
//! depth-limited view a book channel last published and its difference against the book
//! ([`PublishedView`]), the outgoing
//! message queue that applies the frame faults ([`Outbox`], flushed by `crate::kit::session`'s
//! loop), a session's symbol subscriptions (`symbol_feed`, `pump_symbols`) and venue symbol
//! lookup ([`symbol_by_pair`]).
//!
//! Threads: used inside one WebSocket session's connection thread (Bybit's topics: under their
//! symbol's mutex, from any connection thread). Allocates freely; never
//! panics on client input.

use crate::faults::Faults;
use crate::market::{BookSnapshot, BookUpdate, Market};
use crate::protocol::WsSession;
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::{Instrument, Side};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Price and size units of book levels, best first.
pub type Levels = Vec<(i64, i64)>;

/// Best bid and best ask (price and size units), if any.
pub type BestLevels = (Option<(i64, i64)>, Option<(i64, i64)>);

/// The market index of a venue symbol: the market's own symbol, else the instrument whose
/// `base{sep}quote` it names (`BTC-USDT` on OKX, `BTC/USD` on Kraken for a market listing
/// `BTCUSDT` / `BTCUSD`), so one market serves every protocol.
pub fn symbol_by_pair(market: &Market, name: &str, sep: char) -> Option<usize> {
    market.symbol_index(name).or_else(|| {
        let (base, quote) = name.split_once(sep)?;
        market.instruments().iter().position(|i| i.base() == base && i.quote() == quote)
    })
}

/// A session's copy of one market book, kept current from the market subscription.
#[derive(Debug, Clone, Default)]
pub struct MirrorBook {
    /// Bids by price units.
    pub bids: BTreeMap<i64, i64>,
    /// Asks by price units.
    pub asks: BTreeMap<i64, i64>,
    /// The market's update id the book reflects.
    pub update_id: u64,
}

impl MirrorBook {
    /// The book of `snap`.
    pub fn from_snapshot(snap: &BookSnapshot) -> Self {
        Self {
            bids: snap.bids.iter().map(|(p, q)| (p.units(), q.units())).collect(),
            asks: snap.asks.iter().map(|(p, q)| (p.units(), q.units())).collect(),
            update_id: snap.update_id,
        }
    }

    /// Applies one market update; whether a level changed.
    pub fn apply(&mut self, update: &BookUpdate) -> bool {
        for (side, p, q) in &update.levels {
            let book = if *side == Side::Buy { &mut self.bids } else { &mut self.asks };
            if q.is_zero() {
                book.remove(&p.units());
            } else {
                book.insert(p.units(), q.units());
            }
        }
        self.update_id = update.update_id;
        !update.levels.is_empty()
    }

    /// The top `depth` levels per side, best first.
    pub fn top(&self, depth: usize) -> (Levels, Levels) {
        (
            self.bids.iter().rev().take(depth).map(|(p, q)| (*p, *q)).collect(),
            self.asks.iter().take(depth).map(|(p, q)| (*p, *q)).collect(),
        )
    }

    /// Best bid and best ask.
    pub fn best(&self) -> BestLevels {
        (self.bids.iter().next_back().map(|(p, q)| (*p, *q)), self.asks.iter().next().map(|(p, q)| (*p, *q)))
    }
}

/// A session's new subscription to symbol `idx`'s full book: the instrument, the update channel
/// and the book mirrored from the snapshot taken under the same lock.
pub fn subscribe_symbol(market: &Market, idx: usize) -> Option<(Instrument, Receiver<Arc<BookUpdate>>, MirrorBook)> {
    let inst = market.instruments().get(idx)?.clone();
    let (snap, rx) = market.subscribe_book(idx, usize::MAX)?;
    Some((inst, rx, MirrorBook::from_snapshot(&snap)))
}

/// Applies every update waiting on `rx` to `book` and returns them with whether each changed a
/// level; `None` if the market dropped the subscription (the session fell a backlog behind).
pub fn drain_updates(rx: &Receiver<Arc<BookUpdate>>, book: &mut MirrorBook) -> Option<Vec<(Arc<BookUpdate>, bool)>> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(update) => {
                let changed = book.apply(&update);
                out.push((update, changed));
            }
            Err(TryRecvError::Empty) => return Some(out),
            Err(TryRecvError::Disconnected) => return None,
        }
    }
}

/// What a session keeps per subscribed symbol, for [`symbol_feed`] and [`pump_symbols`].
pub(crate) trait SymbolSubscription: Sized {
    /// The market's symbol index, the market subscription and the book it keeps current.
    fn parts(&mut self) -> (usize, &Receiver<Arc<BookUpdate>>, &mut MirrorBook);
    /// A new subscription to `symbol`, no channel on yet.
    fn start(symbol: usize, inst: Instrument, rx: Receiver<Arc<BookUpdate>>, book: MirrorBook) -> Self;
    /// Takes one market update (`changed`: it changed a level), queueing the pushes it causes.
    fn on_update(&mut self, update: &BookUpdate, changed: bool, out: &mut Outbox);
}

/// The session's subscription to `symbol` among `feeds`, subscribing on first use; `None` for a
/// symbol the market does not list.
pub(crate) fn symbol_feed<'f, F: SymbolSubscription>(
    feeds: &'f mut Vec<F>,
    market: &Market,
    symbol: usize,
) -> Option<&'f mut F> {
    if let Some(pos) = feeds.iter_mut().position(|f| f.parts().0 == symbol) {
        return feeds.get_mut(pos);
    }
    let (inst, rx, book) = subscribe_symbol(market, symbol)?;
    feeds.push(F::start(symbol, inst, rx, book));
    feeds.last_mut()
}

/// Takes in every market update of every feed; `false` if the market dropped a subscription
/// (the session fell a whole backlog behind).
pub(crate) fn pump_symbols<F: SymbolSubscription>(feeds: &mut [F], out: &mut Outbox) -> bool {
    for feed in feeds {
        let (_, rx, book) = feed.parts();
        let Some(updates) = drain_updates(rx, book) else { return false };
        for (update, changed) in updates {
            feed.on_update(&update, changed, out);
        }
    }
    true
}

/// The depth-limited view a book channel last published.
#[derive(Debug, Clone)]
pub struct PublishedView {
    depth: usize,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl PublishedView {
    /// The view of `book` at `depth`, and its levels (the snapshot to send).
    pub fn snapshot(book: &MirrorBook, depth: usize) -> (Self, Levels, Levels) {
        let (bids, asks) = book.top(depth);
        let view = Self { depth, bids: bids.iter().copied().collect(), asks: asks.iter().copied().collect() };
        (view, bids, asks)
    }

    /// Levels whose size changed between the view and `book`'s top (size 0 for levels that
    /// left it), best first per side; the view becomes the book's top.
    pub fn diff(&mut self, book: &MirrorBook) -> (Levels, Levels) {
        let (bids, asks) = book.top(self.depth);
        (diff_side(&mut self.bids, &bids, true), diff_side(&mut self.asks, &asks, false))
    }

    /// The view's top `n` bids, best first.
    pub fn top_bids(&self, n: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.bids.iter().rev().take(n).map(|(p, q)| (*p, *q))
    }

    /// The view's top `n` asks, best first.
    pub fn top_asks(&self, n: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.asks.iter().take(n).map(|(p, q)| (*p, *q))
    }
}

fn diff_side(published: &mut BTreeMap<i64, i64>, top: &[(i64, i64)], descending: bool) -> Levels {
    let fresh: BTreeMap<i64, i64> = top.iter().copied().collect();
    let mut out: Levels = fresh.iter().filter(|(p, q)| published.get(p) != Some(q)).map(|(p, q)| (*p, *q)).collect();
    out.extend(published.keys().filter(|p| !fresh.contains_key(p)).map(|p| (*p, 0)));
    out.sort_unstable_by_key(|(p, _)| *p);
    if descending {
        out.reverse();
    }
    *published = fresh;
    out
}

/// What a queued message is, for the frame faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A control reply: no fault.
    Control,
    /// Market data: the malformed and truncated frame faults.
    Data,
    /// A private account event: the malformed account frame fault only (a test breaking the
    /// market data must not break a fill, and the other way round).
    Account,
}

/// Messages waiting to go out, in order. Market data is subject to the malformed/truncated
/// frame faults, account events to the malformed account frame fault; control replies to none.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<(String, Kind)>,
    malformed: &'static [u8],
}

impl Outbox {
    /// An empty queue; `malformed` is the venue-shaped broken JSON sent for a malformed fault.
    pub fn new(malformed: &'static [u8]) -> Self {
        Self { queue: VecDeque::new(), malformed }
    }

    /// Queues a control reply.
    pub fn control(&mut self, text: String) {
        self.queue.push_back((text, Kind::Control));
    }

    /// Queues a market data message.
    pub fn data(&mut self, text: String) {
        self.queue.push_back((text, Kind::Data));
    }

    /// Queues a private account event.
    pub fn account(&mut self, text: String) {
        self.queue.push_back((text, Kind::Account));
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Sends everything queued, applying the frame faults; whether anything was sent.
    pub fn flush(&mut self, ws: &mut dyn WsSession, faults: &Faults) -> std::io::Result<bool> {
        let sent = !self.queue.is_empty();
        while let Some((text, kind)) = self.queue.pop_front() {
            match kind {
                Kind::Data if faults.take_malformed_frame() => ws.send_raw_text(self.malformed)?,
                Kind::Data if faults.take_truncated_frame() => {
                    let bytes = text.as_bytes();
                    ws.send_raw_text(&bytes[..bytes.len() / 2])?;
                }
                Kind::Account if faults.take_malformed_account_frame() => ws.send_raw_text(self.malformed)?,
                _ => ws.send_text(&text)?,
            }
        }
        Ok(sent)
    }
}

/// Unix nanoseconds as RFC 3339 UTC with microseconds (`2023-10-06T17:35:55.440295Z`), the
/// timestamp shape of Kraken's v2 messages.
pub fn rfc3339_micros(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = ns.rem_euclid(1_000_000_000) / 1000;
    let (y, m, d) = crate::http::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_a_known_instant() {
        // 2023-10-06T17:35:55.440295Z = 1696613755 s + 440295 µs.
        assert_eq!(rfc3339_micros(1_696_613_755_440_295_000), "2023-10-06T17:35:55.440295Z");
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
    }
}
