//! One `/ws/v5/public` session: subscriptions to `books`, `bbo-tbt` and `trades` per instrument,
//! their timed pushes, run by the shared loop ([`crate::kit::session`]).

use super::wire::instrument_index;
use super::wire::{BooksHead, books_message, checksum, inst_id, levels_json, px, sz};
use super::{BBO_INTERVAL, BOOKS_DEPTH, BOOKS_HEARTBEAT, BOOKS_INTERVAL};
use crate::kit::session::QueuedSession;
use crate::market::{BookUpdate, TradeView};
use crate::protocol::Ctx;
use crate::public_stream::{
    BestLevels, Levels, MirrorBook, Outbox, PublishedView, SymbolSubscription, pump_symbols, symbol_feed,
};
use crossbeam_channel::Receiver;
use qt_core::{Instrument, Side};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    Books,
    Trades,
    Bbo,
}

impl Channel {
    pub(super) fn parse(name: &str) -> Option<Self> {
        match name {
            "books" => Some(Self::Books),
            "trades" => Some(Self::Trades),
            "bbo-tbt" => Some(Self::Bbo),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Books => "books",
            Self::Trades => "trades",
            Self::Bbo => "bbo-tbt",
        }
    }
}

/// A subscribed `books` channel.
#[derive(Debug)]
pub(super) struct BooksChannel {
    pub(super) view: PublishedView,
    pub(super) seq: u64,
    pub(super) dirty: bool,
    pub(super) next_due: Instant,
    pub(super) last_sent: Instant,
}

/// A subscribed `bbo-tbt` channel: what it last sent.
#[derive(Debug)]
pub(super) struct BboChannel {
    pub(super) sent: BestLevels,
    pub(super) next_due: Instant,
}

/// A session's view of one symbol.
#[derive(Debug)]
pub(super) struct SymbolFeed {
    pub(super) symbol: usize,
    pub(super) inst: Instrument,
    pub(super) inst_id: String,
    pub(super) rx: Receiver<Arc<BookUpdate>>,
    pub(super) book: MirrorBook,
    pub(super) books: Option<BooksChannel>,
    pub(super) trades: bool,
    pub(super) bbo: Option<BboChannel>,
}

impl SymbolSubscription for SymbolFeed {
    fn parts(&mut self) -> (usize, &Receiver<Arc<BookUpdate>>, &mut MirrorBook) {
        (self.symbol, &self.rx, &mut self.book)
    }

    fn start(symbol: usize, inst: Instrument, rx: Receiver<Arc<BookUpdate>>, book: MirrorBook) -> Self {
        Self { symbol, inst_id: inst_id(&inst), inst, rx, book, books: None, trades: false, bbo: None }
    }

    fn on_update(&mut self, update: &BookUpdate, changed: bool, out: &mut Outbox) {
        if changed && let Some(b) = &mut self.books {
            b.dirty = true;
        }
        if self.trades && !update.trades.is_empty() {
            out.data(self.trades_message(&update.trades));
        }
    }
}

impl SymbolFeed {
    pub(super) fn arg(&self, channel: Channel) -> Value {
        json!({"channel": channel.name(), "instId": self.inst_id})
    }

    pub(super) fn books_message(
        &self,
        action: &str,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        prev: i64,
        sum: i32,
        ts: i64,
    ) -> String {
        let seq = self.books.as_ref().map_or(0, |b| b.seq);
        // The simulator does not model orders per level: one each.
        let with_orders = |levels: &[(i64, i64)]| levels.iter().map(|&(p, q)| (p, q, 1)).collect::<Vec<_>>();
        let head = BooksHead { action, ts, checksum: sum, prev_seq: prev, seq };
        books_message(&self.inst, &head, &with_orders(bids), &with_orders(asks))
    }

    pub(super) fn snapshot_message(&mut self, now: Instant, ts: i64) -> String {
        let (view, bids, asks) = PublishedView::snapshot(&self.book, BOOKS_DEPTH);
        let sum = checksum(&self.inst, &view);
        self.books = Some(BooksChannel {
            view,
            seq: self.book.update_id,
            dirty: false,
            next_due: now + BOOKS_INTERVAL,
            last_sent: now,
        });
        self.books_message("snapshot", &bids, &asks, -1, sum, ts)
    }

    pub(super) fn trades_message(&self, trades: &[TradeView]) -> String {
        let data: Vec<Value> = trades
            .iter()
            .map(|t| {
                json!({
                    "instId": self.inst_id, "tradeId": t.trade_id.to_string(),
                    "px": px(&self.inst, t.price.units()), "sz": sz(&self.inst, t.qty.units()),
                    "side": if t.aggressor == Side::Buy { "buy" } else { "sell" },
                    "ts": (t.ts.0 / 1_000_000).to_string(), "count": "1", "source": "0",
                })
            })
            .collect();
        json!({"arg": self.arg(Channel::Trades), "data": data}).to_string()
    }
}

/// One `/ws/v5/public` session.
#[derive(Debug)]
pub(super) struct Session<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) conn_id: String,
    pub(super) symbols: Vec<SymbolFeed>,
    pub(super) out: Outbox,
}

impl Session<'_> {
    pub(super) fn error(&mut self, code: &str, msg: &str) {
        let reply = json!({"event": "error", "code": code, "msg": msg, "connId": self.conn_id});
        self.out.control(reply.to_string());
    }

    pub(super) fn on_arg(&mut self, subscribe: bool, arg: &Value) {
        let channel_name = arg.get("channel").and_then(Value::as_str).unwrap_or("");
        let id = arg.get("instId").and_then(Value::as_str).unwrap_or("");
        let channel = Channel::parse(channel_name);
        let idx = instrument_index(&self.ctx.market, id);
        let (Some(channel), Some(idx)) = (channel, idx) else {
            self.error(
                "60018",
                &format!(
                    "Wrong URL or channel:{channel_name},instId:{id} doesn't exist. Please use the correct URL, \
                     channel and parameters referring to API document."
                ),
            );
            return;
        };
        let event = if subscribe { "subscribe" } else { "unsubscribe" };
        let ack = json!({"event": event, "arg": {"channel": channel.name(), "instId": id}, "connId": self.conn_id});
        if subscribe {
            self.out.control(ack.to_string());
            self.subscribe(idx, channel);
        } else {
            self.unsubscribe(idx, channel);
            self.out.control(ack.to_string());
        }
    }

    pub(super) fn feed(&mut self, idx: usize) -> Option<&mut SymbolFeed> {
        symbol_feed(&mut self.symbols, &self.ctx.market, idx)
    }

    /// Subscribing again to `books` sends a fresh snapshot (how a client resyncs).
    pub(super) fn subscribe(&mut self, idx: usize, channel: Channel) {
        let ts = self.ctx.market.now_ms();
        let now = Instant::now();
        let Some(feed) = self.feed(idx) else { return };
        match channel {
            Channel::Books => {
                let m = feed.snapshot_message(now, ts);
                self.out.data(m);
            }
            Channel::Trades => feed.trades = true,
            Channel::Bbo => feed.bbo = Some(BboChannel { sent: (None, None), next_due: now }),
        }
    }

    pub(super) fn unsubscribe(&mut self, idx: usize, channel: Channel) {
        if let Some(feed) = self.symbols.iter_mut().find(|f| f.symbol == idx) {
            match channel {
                Channel::Books => feed.books = None,
                Channel::Trades => feed.trades = false,
                Channel::Bbo => feed.bbo = None,
            }
        }
        self.symbols.retain(|f| f.books.is_some() || f.trades || f.bbo.is_some());
    }
}

impl QueuedSession for Session<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn on_client(&mut self, text: &str) {
        if text == "ping" {
            self.out.control("pong".into());
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.error("60012", &format!("Invalid request: {text}"));
            return;
        };
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        let args = v.get("args").and_then(Value::as_array).filter(|a| !a.is_empty());
        match (op, args) {
            ("subscribe" | "unsubscribe", Some(args)) => {
                let subscribe = op == "subscribe";
                for a in args.clone() {
                    self.on_arg(subscribe, &a);
                }
            }
            _ => self.error("60012", &format!("Invalid request: {text}")),
        }
    }

    /// Takes in every market update; `false` if the market dropped a subscription.
    fn pump(&mut self) -> bool {
        pump_symbols(&mut self.symbols, &mut self.out)
    }

    /// Pushes what is due: `books` updates at their interval (or heartbeats), `bbo-tbt`.
    fn produce(&mut self, now: Instant) {
        let ts = self.ctx.market.now_ms();
        let faults = &self.ctx.faults;
        for feed in &mut self.symbols {
            if let Some(bbo) = &mut feed.bbo
                && now >= bbo.next_due
            {
                let best = feed.book.best();
                if best != bbo.sent {
                    bbo.sent = best;
                    bbo.next_due = now + BBO_INTERVAL;
                    let one = |l: Option<(i64, i64)>| -> Levels { l.into_iter().collect() };
                    let m = json!({
                        "arg": {"channel": "bbo-tbt", "instId": feed.inst_id},
                        "data": [{
                            "asks": levels_json(&feed.inst, &one(best.1)), "bids": levels_json(&feed.inst, &one(best.0)),
                            "ts": ts.to_string(), "seqId": feed.book.update_id,
                        }],
                    });
                    self.out.data(m.to_string());
                }
            }
            let update_id = feed.book.update_id;
            let Some(b) = &mut feed.books else { continue };
            if now < b.next_due || !(b.dirty || now.duration_since(b.last_sent) >= BOOKS_HEARTBEAT) {
                continue;
            }
            b.dirty = false;
            let (mut bids, mut asks) = b.view.diff(&feed.book);
            let prev = b.seq as i64;
            let heartbeat = bids.is_empty() && asks.is_empty();
            if heartbeat && now.duration_since(b.last_sent) < BOOKS_HEARTBEAT {
                continue; // the change was below the top 400
            }
            b.seq = update_id;
            b.next_due = now + BOOKS_INTERVAL;
            b.last_sent = now;
            let sum = checksum(&feed.inst, &b.view);
            let prev = if !heartbeat && faults.take_skip_sequence() { prev + 1 } else { prev };
            if !heartbeat && faults.take_corrupt_level() {
                let lot = feed.inst.lot().units();
                if let Some(level) = bids.first_mut().or(asks.first_mut()) {
                    level.1 += lot;
                }
            }
            let m = feed.books_message("update", &bids, &asks, prev, sum, ts);
            self.out.data(m);
        }
    }
}
