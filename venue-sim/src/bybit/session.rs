//! Bybit's public WebSocket sessions (`/v5/public/spot`, `/v5/public/linear`): subscriptions,
//! book topics, trades and tickers per symbol.

use super::MALFORMED;
use super::books::{BookCursor, Due, book_message, push_interval};
use super::wire::{
    Category, Obj, json_array, ms, price_text, qty_text, req_id_of, side_text, trade_id_text, units_price, units_qty,
    uuid_text, value_text,
};
use super::{BybitV5, LINEAR_TICKER_INTERVAL, SPOT_MAX_ARGS};
use crate::kit::session::QueuedSession;
use crate::market::BookUpdate;
use crate::protocol::Ctx;
use crate::public_stream::Outbox;
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument, Notional, Price, Qty, Rounding};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

impl BybitV5 {
    /// A connection id shaped like Bybit's (`d8bu1olkndm7crnfs1e0-j6akw` in the recordings).
    pub(super) fn conn_id(&self) -> String {
        let n = self.next_serial();
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("{:020x}-{:05x}", t & 0xffff_ffff_ffff_ffff_ffff, n & 0xf_ffff)
    }

    /// A message id for private pushes (a UUID-like string in the docs' examples).
    pub(super) fn message_id(&self) -> String {
        uuid_text(0x5923_240c_6880_abc5, self.next_serial())
    }
}

// ---------------------------------------------------------------------------------------------
// Public streams
// ---------------------------------------------------------------------------------------------

/// A subscribed `tickers.{symbol}` topic: the fields it last sent (linear sends differences).
#[derive(Debug)]
pub(super) struct TickerTopic {
    pub(super) topic: String,
    pub(super) sent: Vec<(&'static str, String)>,
    pub(super) next_due: Instant,
    pub(super) changed: bool,
}

/// Trade statistics of a symbol since the session started watching it (the simulator keeps no
/// 24-hour history; the `…24h` ticker fields cover this window).
#[derive(Debug, Default)]
pub(super) struct TradeStats {
    pub(super) last: Option<i64>,
    pub(super) prev: Option<i64>,
    pub(super) high: Option<i64>,
    pub(super) low: Option<i64>,
    pub(super) volume: i128,
    pub(super) turnover: Notional,
    pub(super) direction: &'static str,
}

/// A session's view of one symbol: the market subscription behind its trades and ticker, and
/// its places in the venue-wide book topics.
#[derive(Debug)]
pub(super) struct SymbolFeed {
    pub(super) symbol: usize,
    pub(super) inst: Instrument,
    pub(super) rx: Receiver<Arc<BookUpdate>>,
    pub(super) best_bid: Option<(i64, i64)>,
    pub(super) best_ask: Option<(i64, i64)>,
    pub(super) update_id: u64,
    pub(super) books: Vec<BookCursor>,
    pub(super) trades: Option<String>,
    pub(super) ticker: Option<TickerTopic>,
    pub(super) stats: TradeStats,
}

impl SymbolFeed {
    pub(super) fn best_bid(&self) -> Option<(i64, i64)> {
        self.best_bid
    }

    pub(super) fn best_ask(&self) -> Option<(i64, i64)> {
        self.best_ask
    }

    pub(super) fn last_price(&self) -> i64 {
        self.stats.last.or(self.stats.prev).or(self.best_bid().map(|b| b.0)).unwrap_or(0)
    }

    /// Applies one market update; returns the `publicTrade` message when trades are watched.
    pub(super) fn apply(&mut self, cat: Category, update: &BookUpdate, ts: i64) -> Option<String> {
        let units = |level: Option<(Price, Qty)>| level.map(|(p, q)| (p.units(), q.units()));
        self.best_bid = units(update.best_bid);
        self.best_ask = units(update.best_ask);
        self.update_id = update.update_id;
        if update.trades.is_empty() {
            if !update.levels.is_empty()
                && let Some(t) = &mut self.ticker
            {
                t.changed = true;
            }
            return None;
        }
        let mut entries = Vec::with_capacity(update.trades.len());
        for tr in &update.trades {
            let p = tr.price.units();
            // `enum#tickdirection`: a rise is PlusTick, a fall MinusTick, an unchanged price
            // keeps the sign of the last change.
            self.stats.direction = match self.stats.last {
                Some(last) if p > last => "PlusTick",
                Some(last) if p < last => "MinusTick",
                Some(_) if matches!(self.stats.direction, "MinusTick" | "ZeroMinusTick") => "ZeroMinusTick",
                Some(_) => "ZeroPlusTick",
                None => "PlusTick",
            };
            self.stats.last = Some(p);
            self.stats.high = Some(self.stats.high.map_or(p, |h| h.max(p)));
            self.stats.low = Some(self.stats.low.map_or(p, |l| l.min(p)));
            self.stats.volume += i128::from(tr.qty.units());
            let value = self.inst.notional(tr.price, tr.qty, Rounding::Nearest).unwrap_or(Notional::ZERO);
            self.stats.turnover = self.stats.turnover.checked_add(value).unwrap_or(self.stats.turnover);
            if self.trades.is_some() {
                entries.push(trade_entry_json(&self.inst, cat, tr, self.stats.direction, update.update_id));
            }
        }
        if let Some(t) = &mut self.ticker {
            t.changed = true;
        }
        let topic = self.trades.as_ref()?;
        let o = Obj::new().s("topic", topic);
        let o = match cat {
            Category::Spot => o.int("ts", ts).s("type", "snapshot"),
            Category::Linear => o.s("type", "snapshot").int("ts", ts),
        };
        Some(o.raw("data", &json_array(entries)).done())
    }

    /// The ticker fields now, in the docs' order (`websocket/public/ticker.mdx`; linear as in
    /// `testdata/bybit/ticker_linear.json`).
    pub(super) fn ticker_fields(&self, cat: Category, now_ms: i64) -> Vec<(&'static str, String)> {
        let inst = &self.inst;
        let last = self.last_price();
        let prev = self.stats.prev.unwrap_or(last);
        let pct_decimals: u8 = if cat == Category::Spot { 4 } else { 6 };
        let pct = if prev > 0 {
            let scaled = (i128::from(last) - i128::from(prev)) * 10i128.pow(u32::from(pct_decimals));
            qt_core::money::div_round_i128(scaled, i128::from(prev), Rounding::Nearest).unwrap_or(0)
        } else {
            0
        };
        let px = |u: i64| units_price(inst, cat, u);
        let volume = format_scaled(self.stats.volume, inst.qty_scale(), DecimalStyle::Trimmed).as_str().to_owned();
        let turnover = value_text(self.stats.turnover);
        let pct = format_scaled(pct, pct_decimals, DecimalStyle::Trimmed).as_str().to_owned();
        let high = px(self.stats.high.unwrap_or(last).max(last));
        let low = px(self.stats.low.unwrap_or(last).min(last));
        match cat {
            Category::Spot => vec![
                ("symbol", inst.symbol().to_owned()),
                ("lastPrice", px(last)),
                ("highPrice24h", high),
                ("lowPrice24h", low),
                ("prevPrice24h", px(prev)),
                ("volume24h", volume),
                ("turnover24h", turnover),
                ("price24hPcnt", pct),
                ("usdIndexPrice", if matches!(inst.quote(), "USDT" | "USDC") { px(last) } else { String::new() }),
            ],
            Category::Linear => {
                let (bid, bid_qty) = self.best_bid().unwrap_or((0, 0));
                let (ask, ask_qty) = self.best_ask().unwrap_or((0, 0));
                let eight_hours = 8 * 3600 * 1000;
                let next_funding = (now_ms.div_euclid(eight_hours) + 1) * eight_hours;
                vec![
                    ("symbol", inst.symbol().to_owned()),
                    (
                        "tickDirection",
                        if self.stats.direction.is_empty() { "ZeroPlusTick" } else { self.stats.direction }.into(),
                    ),
                    ("price24hPcnt", pct),
                    ("lastPrice", px(last)),
                    ("prevPrice24h", px(prev)),
                    ("highPrice24h", high),
                    ("lowPrice24h", low),
                    ("prevPrice1h", px(prev)),
                    ("markPrice", px(last)),
                    ("indexPrice", px(last)),
                    ("openInterest", "0".into()),
                    ("openInterestValue", "0.00".into()),
                    ("turnover24h", turnover),
                    ("volume24h", volume),
                    ("fundingIntervalHour", "8".into()),
                    ("fundingCap", "0.005".into()),
                    ("nextFundingTime", next_funding.to_string()),
                    ("fundingRate", "0.0001".into()),
                    ("bid1Price", px(bid)),
                    ("bid1Size", units_qty(inst, cat, bid_qty)),
                    ("ask1Price", px(ask)),
                    ("ask1Size", units_qty(inst, cat, ask_qty)),
                    ("preOpenPrice", String::new()),
                    ("preQty", String::new()),
                    ("curPreListingPhase", String::new()),
                ]
            }
        }
    }
}

/// One `publicTrade` entry: spot keys in the recorded spot order, linear keys in the docs'
/// order (`L` is futures only; `RPI` and `seq` are in the current docs and the recordings).
pub(super) fn trade_entry_json(
    inst: &Instrument,
    cat: Category,
    tr: &crate::market::TradeView,
    direction: &str,
    seq: u64,
) -> String {
    let id = trade_id_text(cat, tr.trade_id);
    let p = price_text(inst, cat, tr.price);
    let v = qty_text(inst, cat, tr.qty);
    match cat {
        Category::Spot => Obj::new()
            .s("i", &id)
            .int("T", ms(tr.ts))
            .s("p", &p)
            .s("v", &v)
            .s("S", side_text(tr.aggressor))
            .uint("seq", seq)
            .s("s", inst.symbol())
            .boolean("BT", false)
            .boolean("RPI", false)
            .done(),
        Category::Linear => Obj::new()
            .int("T", ms(tr.ts))
            .s("s", inst.symbol())
            .s("S", side_text(tr.aggressor))
            .s("v", &v)
            .s("p", &p)
            .s("L", direction)
            .s("i", &id)
            .boolean("BT", false)
            .boolean("RPI", false)
            .uint("seq", seq)
            .done(),
    }
}

pub(super) fn ticker_message(
    cat: Category,
    topic: &str,
    kind: &str,
    fields: &[(&'static str, String)],
    cs: u64,
    ts: i64,
) -> String {
    let mut data = Obj::new();
    for (k, v) in fields {
        data = data.s(k, v);
    }
    let data = data.done();
    match cat {
        Category::Spot => {
            Obj::new().s("topic", topic).int("ts", ts).s("type", kind).uint("cs", cs).raw("data", &data).done()
        }
        Category::Linear => {
            Obj::new().s("topic", topic).s("type", kind).raw("data", &data).uint("cs", cs).int("ts", ts).done()
        }
    }
}

/// What a public topic names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PublicTopic {
    Book(usize),
    Trades,
    Ticker,
}

/// One `/v5/public/{spot,linear}` session.
#[derive(Debug)]
pub(super) struct PublicSession<'a> {
    pub(super) venue: &'a BybitV5,
    pub(super) ctx: &'a Ctx,
    pub(super) cat: Category,
    pub(super) conn_id: String,
    pub(super) feeds: Vec<SymbolFeed>,
    pub(super) out: Outbox,
}

impl<'a> PublicSession<'a> {
    pub(super) fn new(venue: &'a BybitV5, ctx: &'a Ctx, cat: Category, conn_id: String) -> Self {
        Self { venue, ctx, cat, conn_id, feeds: Vec::new(), out: Outbox::new(MALFORMED) }
    }

    /// The reply to `op`, shaped per the Connect page: spot `ret_msg` names the op and
    /// `req_id` appears only when sent; linear `ret_msg` is empty and `req_id` always present.
    pub(super) fn reply(&self, op: &str, req_id: Option<&str>, success: bool, ret_msg: Option<&str>) -> String {
        let default_msg = match (self.cat, op) {
            (_, "ping") => "pong",
            (Category::Spot, op) => op,
            (Category::Linear, _) => "",
        };
        let mut o = Obj::new()
            .boolean("success", success)
            .s("ret_msg", ret_msg.unwrap_or(default_msg))
            .s("conn_id", &self.conn_id);
        o = match (self.cat, req_id) {
            (Category::Spot, Some(r)) => o.s("req_id", r),
            (Category::Spot, None) => o,
            (Category::Linear, r) => o.s("req_id", r.unwrap_or("")),
        };
        o.s("op", op).done()
    }

    pub(super) fn topic_args(v: &Value) -> Option<Vec<String>> {
        let args = v.get("args")?.as_array()?;
        if args.is_empty() {
            return None;
        }
        args.iter().map(|a| a.as_str().map(str::to_owned)).collect()
    }

    /// `topic` → symbol index and kind, or the failure message.
    pub(super) fn parse_topic(&self, topic: &str) -> Result<(usize, PublicTopic), String> {
        let bad_symbol = || match self.cat {
            Category::Spot => format!("Invalid symbol :[{topic}]"),
            Category::Linear => format!("error:handler not found,topic:{topic}"),
        };
        let parts: Vec<&str> = topic.split('.').collect();
        let (kind, symbol) = match parts.as_slice() {
            ["orderbook", depth, symbol] => match depth.parse::<usize>().ok().filter(|d| push_interval(*d).is_some()) {
                Some(d) => (PublicTopic::Book(d), *symbol),
                None => return Err(bad_symbol()),
            },
            ["publicTrade", symbol] => (PublicTopic::Trades, *symbol),
            ["tickers", symbol] => (PublicTopic::Ticker, *symbol),
            _ => return Err(bad_symbol()),
        };
        let idx = self.ctx.market.symbol_index(symbol).ok_or_else(bad_symbol)?;
        let kind_ok = self.ctx.market.instruments().get(idx).and_then(|i| Category::of(i.kind())) == Some(self.cat);
        if !kind_ok {
            return Err(bad_symbol());
        }
        Ok((idx, kind))
    }

    pub(super) fn subscribed(&self, idx: usize, kind: PublicTopic) -> bool {
        self.feeds.iter().find(|f| f.symbol == idx).is_some_and(|f| match kind {
            PublicTopic::Book(d) => f.books.iter().any(|b| b.depth == d),
            PublicTopic::Trades => f.trades.is_some(),
            PublicTopic::Ticker => f.ticker.is_some(),
        })
    }

    /// All topics or none: a request naming an unknown or already subscribed topic fails whole.
    pub(super) fn subscribe(&mut self, v: &Value, req_id: Option<&str>) {
        let Some(args) = Self::topic_args(v) else {
            let reply = self.reply("subscribe", req_id, false, Some("error:args invalid"));
            self.out.control(reply);
            return;
        };
        if self.cat == Category::Spot && args.len() > SPOT_MAX_ARGS {
            let reply = self.reply("subscribe", req_id, false, Some("args size >10"));
            self.out.control(reply);
            return;
        }
        let mut parsed = Vec::with_capacity(args.len());
        for topic in &args {
            let item = self.parse_topic(topic).and_then(|(idx, kind)| {
                let repeated = parsed.iter().any(|(i, k, _)| *i == idx && *k == kind);
                if repeated || self.subscribed(idx, kind) {
                    Err(format!("error:already subscribed,topic:{topic}"))
                } else {
                    Ok((idx, kind, topic.clone()))
                }
            });
            match item {
                Ok(x) => parsed.push(x),
                Err(msg) => {
                    let reply = self.reply("subscribe", req_id, false, Some(&msg));
                    self.out.control(reply);
                    return;
                }
            }
        }
        let reply = self.reply("subscribe", req_id, true, None);
        self.out.control(reply);
        for (idx, kind, topic) in parsed {
            self.add_topic(idx, kind, topic);
        }
    }

    pub(super) fn unsubscribe(&mut self, v: &Value, req_id: Option<&str>) {
        let Some(args) = Self::topic_args(v) else {
            let reply = self.reply("unsubscribe", req_id, false, Some("error:args invalid"));
            self.out.control(reply);
            return;
        };
        for topic in &args {
            if let Ok((idx, kind)) = self.parse_topic(topic)
                && let Some(feed) = self.feeds.iter_mut().find(|f| f.symbol == idx)
            {
                match kind {
                    PublicTopic::Book(d) => feed.books.retain(|b| b.depth != d),
                    PublicTopic::Trades => feed.trades = None,
                    PublicTopic::Ticker => feed.ticker = None,
                }
            }
        }
        self.feeds.retain(|f| !f.books.is_empty() || f.trades.is_some() || f.ticker.is_some());
        let reply = self.reply("unsubscribe", req_id, true, None);
        self.out.control(reply);
    }

    /// The session's feed of a symbol, subscribing to the market's full book on first use.
    pub(super) fn feed(&mut self, idx: usize) -> Option<&mut SymbolFeed> {
        if let Some(pos) = self.feeds.iter().position(|f| f.symbol == idx) {
            return self.feeds.get_mut(pos);
        }
        let inst = self.ctx.market.instruments().get(idx)?.clone();
        let (snap, rx) = self.ctx.market.subscribe_book(idx, 1)?;
        let units = |levels: &[(Price, Qty)]| levels.first().map(|(p, q)| (p.units(), q.units()));
        let (best_bid, best_ask) = (units(&snap.bids), units(&snap.asks));
        let prev = best_bid.map(|(p, _)| p);
        self.feeds.push(SymbolFeed {
            symbol: idx,
            inst,
            rx,
            best_bid,
            best_ask,
            update_id: snap.update_id,
            books: Vec::new(),
            trades: None,
            ticker: None,
            stats: TradeStats { prev, ..TradeStats::default() },
        });
        self.feeds.last_mut()
    }

    pub(super) fn add_topic(&mut self, idx: usize, kind: PublicTopic, topic: String) {
        let cat = self.cat;
        let ts = self.ctx.market.now_ms();
        let now = Instant::now();
        let venue = self.venue;
        let ctx = self.ctx;
        let Some(feed) = self.feed(idx) else { return };
        let message = match kind {
            PublicTopic::Book(depth) => {
                let Some(interval) = venue.book_interval(depth) else { return };
                let (cursor, v) = BookCursor::watch(venue.books.of(idx), depth, interval, topic, ctx, now);
                let m = book_message(cat, (&cursor.topic, depth), "snapshot", &feed.inst, &v, ts);
                feed.books.push(cursor);
                m
            }
            PublicTopic::Trades => {
                feed.trades = Some(topic);
                return;
            }
            PublicTopic::Ticker => {
                let fields = feed.ticker_fields(cat, ts);
                let m = ticker_message(cat, &topic, "snapshot", &fields, feed.update_id, ts);
                feed.ticker =
                    Some(TickerTopic { topic, sent: fields, next_due: now + LINEAR_TICKER_INTERVAL, changed: false });
                m
            }
        };
        self.out.data(message);
    }
}

impl QueuedSession for PublicSession<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            let reply = self.reply("", None, false, Some("error:invalid json"));
            self.out.control(reply);
            return;
        };
        let req_id = req_id_of(&v);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("").to_owned();
        match op.as_str() {
            "ping" => {
                let reply = self.reply("ping", req_id.as_deref(), true, None);
                self.out.control(reply);
            }
            "subscribe" => self.subscribe(&v, req_id.as_deref()),
            "unsubscribe" => self.unsubscribe(&v, req_id.as_deref()),
            _ => {
                let reply = self.reply(&op, req_id.as_deref(), false, Some("error:invalid op"));
                self.out.control(reply);
            }
        }
    }

    /// Takes in every market update; `false` if a subscription was dropped.
    fn pump(&mut self) -> bool {
        let ts = self.ctx.market.now_ms();
        let cat = self.cat;
        for feed in &mut self.feeds {
            loop {
                match feed.rx.try_recv() {
                    Ok(update) => {
                        if let Some(m) = feed.apply(cat, &update, ts) {
                            self.out.data(m);
                        }
                        // Spot tickers are snapshots pushed in real time.
                        if cat == Category::Spot && !update.trades.is_empty() && feed.ticker.is_some() {
                            let fields = feed.ticker_fields(cat, ts);
                            if let Some(t) = &mut feed.ticker {
                                self.out.data(ticker_message(cat, &t.topic, "snapshot", &fields, feed.update_id, ts));
                                t.sent = fields;
                                t.changed = false;
                            }
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return false,
                }
            }
        }
        true
    }

    /// Pushes what is due: book views at their intervals, level-1 re-sends, linear ticker deltas.
    fn produce(&mut self, now: Instant) {
        let cat = self.cat;
        let ts = self.ctx.market.now_ms();
        for feed in &mut self.feeds {
            for m in feed.produce(cat, ts, self.ctx, now) {
                self.out.data(m);
            }
        }
    }
}

impl SymbolFeed {
    /// This symbol's pushes that are due at `now`: its book topics' views (published
    /// venue-wide, [`books`]), then a linear ticker delta.
    pub(super) fn produce(&mut self, cat: Category, ts: i64, ctx: &Ctx, now: Instant) -> Vec<String> {
        let feed = self;
        let mut pending = Vec::new();
        for cursor in &mut feed.books {
            let (depth, inst) = (cursor.depth, &feed.inst);
            match cursor.due(ctx, now) {
                Due::Nothing => {}
                Due::Pushes(pushes) => {
                    let kind = if depth == 1 { "snapshot" } else { "delta" };
                    for p in pushes {
                        pending.push(book_message(cat, (&cursor.topic, depth), kind, inst, &p.levels, ts));
                    }
                }
                Due::Snapshot(v) => {
                    pending.push(book_message(cat, (&cursor.topic, depth), "snapshot", inst, &v, ts));
                }
            }
        }
        if cat == Category::Linear && feed.ticker.as_ref().is_some_and(|t| t.changed && now >= t.next_due) {
            let fields = feed.ticker_fields(cat, ts);
            if let Some(t) = &mut feed.ticker {
                let mut delta: Vec<(&'static str, String)> = vec![("symbol", feed.inst.symbol().to_owned())];
                delta.extend(fields.iter().filter(|f| f.0 != "symbol" && !t.sent.contains(f)).cloned());
                if delta.len() > 1 {
                    pending.push(ticker_message(cat, &t.topic, "delta", &delta, feed.update_id, ts));
                }
                t.sent = fields;
                t.changed = false;
                t.next_due = now + LINEAR_TICKER_INTERVAL;
            }
        }
        pending
    }
}
