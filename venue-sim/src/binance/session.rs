//! Binance spot's WebSocket streams: one [`Session`] per connection with its subscriptions,
//! diff windows, live `SUBSCRIBE`/`UNSUBSCRIBE`/property requests, listen-key streams and pings.

use super::wire::{account_position_json, diff_json};
use super::{BinanceSpot, LISTEN_KEY_CHECK, MAX_OUTBOX, WS_POLL};
use crate::kit::combined_streams::wrap_payload;
use crate::kit::decimal_text::{levels_json, ms, price_text, qty_text};
use crate::market::{AccountEvent, BookUpdate};
use crate::protocol::{Ctx, WsIncoming, WsSession};
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::{AccountId, InstrumentKind, Price, Qty, Side};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A stream a session can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stream {
    /// `<symbol>@depth[@100ms]`.
    Diff { symbol: usize, every: Duration },
    /// `<symbol>@depth<levels>[@100ms]`.
    Partial { symbol: usize, levels: usize, every: Duration },
    /// `<symbol>@bookTicker`.
    BookTicker { symbol: usize },
    /// `<symbol>@trade`.
    Trade { symbol: usize },
    /// A listen key.
    User { listen_key: String },
}

impl Stream {
    pub(super) fn symbol(&self) -> Option<usize> {
        match self {
            Stream::Diff { symbol, .. }
            | Stream::Partial { symbol, .. }
            | Stream::BookTicker { symbol }
            | Stream::Trade { symbol } => Some(*symbol),
            Stream::User { .. } => None,
        }
    }
}

/// Per-stream state of a session.
#[derive(Debug)]
pub(super) enum StreamState {
    /// Book operations since the last diff, and when the window closes.
    Diff {
        pending: Vec<Arc<BookUpdate>>,
        next_flush: Instant,
    },
    Partial {
        next_flush: Instant,
    },
    BookTicker {
        last: Option<((Price, Qty), (Price, Qty))>,
    },
    Trade,
    User {
        account: AccountId,
        rx: Receiver<Arc<AccountEvent>>,
    },
}

#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) name: String,
    pub(super) stream: Stream,
    pub(super) state: StreamState,
}

/// Something queued for the client.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// A stream message (subject to frame faults).
    Data(String),
    /// A user data stream message (subject to frame faults and to account frame faults).
    Account(String),
    /// A reply to a control request.
    Control(String),
    /// The bench probe's trigger frame (a diff; timed as it is written, never faulted).
    Trigger(String),
}

/// Why a stream name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadStream(String);

/// A live subscription request from the client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ControlRequest {
    pub(super) method: ControlMethod,
    #[serde(default)]
    pub(super) params: Option<Vec<Value>>,
    #[serde(default)]
    #[allow(dead_code, reason = "checked on the raw JSON, where a missing id differs from null")]
    pub(super) id: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types, reason = "the wire names, matched by serde")]
pub(super) enum ControlMethod {
    SUBSCRIBE,
    UNSUBSCRIBE,
    LIST_SUBSCRIPTIONS,
    SET_PROPERTY,
    GET_PROPERTY,
}

/// One WebSocket session: its subscriptions, the market feeds behind them, and what is queued
/// for the client.
pub(super) struct Session<'a> {
    pub(super) venue: &'a BinanceSpot,
    pub(super) ctx: &'a Ctx,
    pub(super) combined: bool,
    pub(super) subs: Vec<Subscription>,
    /// One book feed per symbol any subscription needs.
    pub(super) books: HashMap<usize, Receiver<Arc<BookUpdate>>>,
    pub(super) outbox: VecDeque<Outgoing>,
    pub(super) next_ping: Instant,
    pub(super) next_key_check: Instant,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("combined", &self.combined)
            .field("subs", &self.subs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
            .field("queued", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Session<'a> {
    pub(super) fn new(venue: &'a BinanceSpot, ctx: &'a Ctx, combined: bool) -> Self {
        let now = Instant::now();
        Self {
            venue,
            ctx,
            combined,
            subs: Vec::new(),
            books: HashMap::new(),
            outbox: VecDeque::new(),
            next_ping: now + venue.limits.ws_ping_interval,
            next_key_check: now + LISTEN_KEY_CHECK,
        }
    }

    /// Parses a stream name (lower-case symbol, Binance's suffixes) or a live listen key.
    pub(super) fn parse_stream(&self, name: &str) -> Result<Stream, BadStream> {
        let bad = || BadStream(name.to_string());
        let Some((sym, kind)) = name.split_once('@') else {
            return self
                .venue
                .listen_key_account(name, self.ctx.market.now_ms())
                .map(|_| Stream::User { listen_key: name.to_string() })
                .ok_or_else(bad);
        };
        if sym.is_empty() || sym.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let market = &self.ctx.market;
        let symbol = market
            .instruments()
            .iter()
            .position(|i| i.kind() == InstrumentKind::Spot && i.symbol().eq_ignore_ascii_case(sym))
            .ok_or_else(bad)?;
        let second = Duration::from_millis(1000);
        let fast = Duration::from_millis(100);
        let stream = match kind {
            "depth" | "depth@1000ms" => {
                Stream::Diff { symbol, every: self.venue.limits.diff_interval.unwrap_or(second) }
            }
            "depth@100ms" => Stream::Diff { symbol, every: self.venue.limits.diff_interval.unwrap_or(fast) },
            "bookTicker" => Stream::BookTicker { symbol },
            "trade" => Stream::Trade { symbol },
            other => {
                let (levels, every) = match other.split_once('@') {
                    Some((l, "100ms")) => (l, fast),
                    Some((l, "1000ms")) => (l, second),
                    Some(_) => return Err(bad()),
                    None => (other, second),
                };
                match levels {
                    "depth5" => Stream::Partial { symbol, levels: 5, every },
                    "depth10" => Stream::Partial { symbol, levels: 10, every },
                    "depth20" => Stream::Partial { symbol, levels: 20, every },
                    _ => return Err(bad()),
                }
            }
        };
        Ok(stream)
    }

    pub(super) fn subscribe(&mut self, name: &str) -> Result<(), BadStream> {
        if self.subs.iter().any(|s| s.name == name) {
            return Ok(());
        }
        let stream = self.parse_stream(name)?;
        let now = Instant::now();
        let market = &self.ctx.market;
        if let Some(symbol) = stream.symbol()
            && !self.books.contains_key(&symbol)
        {
            let (_, rx) = market.subscribe_book(symbol, 0).ok_or_else(|| BadStream(name.to_string()))?;
            self.books.insert(symbol, rx);
        }
        let state = match &stream {
            Stream::Diff { every, .. } => StreamState::Diff { pending: Vec::new(), next_flush: now + *every },
            Stream::Partial { every, .. } => StreamState::Partial { next_flush: now + *every },
            Stream::BookTicker { .. } => StreamState::BookTicker { last: None },
            Stream::Trade { .. } => StreamState::Trade,
            Stream::User { listen_key } => {
                let account = self
                    .venue
                    .listen_key_account(listen_key, market.now_ms())
                    .ok_or_else(|| BadStream(name.to_string()))?;
                let rx = market.subscribe_account(account).ok_or_else(|| BadStream(name.to_string()))?;
                StreamState::User { account, rx }
            }
        };
        self.subs.push(Subscription { name: name.to_string(), stream, state });
        Ok(())
    }

    pub(super) fn unsubscribe(&mut self, name: &str) {
        self.subs.retain(|s| s.name != name);
        let needed: Vec<usize> = self.subs.iter().filter_map(|s| s.stream.symbol()).collect();
        self.books.retain(|symbol, _| needed.contains(symbol));
    }

    pub(super) fn reply(&mut self, v: Value) {
        self.outbox.push_back(Outgoing::Control(v.to_string()));
    }

    /// Handles one text frame from the client (Binance's live subscription requests).
    pub(super) fn on_control(&mut self, text: &str) {
        let raw: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.reply(json!({ "code": 3, "msg": format!("Invalid JSON: {e}") }));
                return;
            }
        };
        let id = raw.get("id").cloned();
        let req: ControlRequest = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                self.reply(json!({ "code": 2, "msg": format!("Invalid request: {e}"), "id": id }));
                return;
            }
        };
        let id = match id {
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Value::Number(n),
            Some(Value::String(s)) if s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric()) => Value::String(s),
            Some(Value::Null) => Value::Null,
            _ => {
                self.reply(json!({ "code": 2, "msg": "Invalid request: request ID must be an unsigned integer" }));
                return;
            }
        };
        let params = req.params.unwrap_or_default();
        match req.method {
            ControlMethod::SUBSCRIBE | ControlMethod::UNSUBSCRIBE => {
                let mut names = Vec::new();
                for p in &params {
                    match p.as_str() {
                        Some(n) => names.push(n.to_string()),
                        None => {
                            self.reply(
                                json!({ "code": 2, "msg": "Invalid request: stream names must be strings", "id": id }),
                            );
                            return;
                        }
                    }
                }
                if matches!(req.method, ControlMethod::SUBSCRIBE) {
                    if let Some(bad) = names.iter().find(|n| self.parse_stream(n).is_err()) {
                        let msg = format!("Invalid request: unknown stream `{bad}`");
                        self.reply(json!({ "code": 2, "msg": msg, "id": id }));
                        return;
                    }
                    for n in &names {
                        if let Err(BadStream(bad)) = self.subscribe(n) {
                            let msg = format!("Invalid request: unknown stream `{bad}`");
                            self.reply(json!({ "code": 2, "msg": msg, "id": id }));
                            return;
                        }
                    }
                } else {
                    for n in &names {
                        self.unsubscribe(n);
                    }
                }
                self.reply(json!({ "result": null, "id": id }));
            }
            ControlMethod::LIST_SUBSCRIPTIONS => {
                let names: Vec<&str> = self.subs.iter().map(|s| s.name.as_str()).collect();
                let v = json!({ "result": names, "id": id });
                self.reply(v);
            }
            ControlMethod::SET_PROPERTY => match params.as_slice() {
                [Value::String(name), value] if name == "combined" => match value.as_bool() {
                    Some(b) => {
                        self.combined = b;
                        self.reply(json!({ "result": null, "id": id }));
                    }
                    None => self.reply(json!({ "code": 1, "msg": "Invalid value type: expected Boolean", "id": id })),
                },
                [Value::String(_), _] => self.reply(json!({ "code": 0, "msg": "Unknown property", "id": id })),
                _ => {
                    self.reply(json!({ "code": 2, "msg": "Invalid request: property name must be a string", "id": id }))
                }
            },
            ControlMethod::GET_PROPERTY => match params.as_slice() {
                [Value::String(name)] if name == "combined" => {
                    let v = json!({ "result": self.combined, "id": id });
                    self.reply(v);
                }
                [Value::String(_)] => self.reply(json!({ "code": 0, "msg": "Unknown property", "id": id })),
                _ => {
                    self.reply(json!({ "code": 2, "msg": "Invalid request: property name must be a string", "id": id }))
                }
            },
        }
    }

    /// Moves market and account events into the subscriptions; `Err` if a feed was dropped
    /// for falling behind (the session must end, as Binance disconnects a slow consumer).
    pub(super) fn pump(&mut self) -> Result<(), ()> {
        let mut updates: Vec<Arc<BookUpdate>> = Vec::new();
        for rx in self.books.values() {
            loop {
                match rx.try_recv() {
                    Ok(u) => updates.push(u),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(()),
                }
            }
        }
        let market = self.ctx.market.clone();
        let now_ms = market.now_ms();
        let mut out: Vec<String> = Vec::new();
        for u in &updates {
            let Some(inst) = market.instruments().get(u.symbol) else { continue };
            for sub in self.subs.iter_mut().filter(|s| s.stream.symbol() == Some(u.symbol)) {
                match &mut sub.state {
                    StreamState::Diff { pending, .. } => {
                        if !u.levels.is_empty() {
                            pending.push(u.clone());
                        }
                    }
                    StreamState::BookTicker { last } => {
                        let (Some(bid), Some(ask)) = (u.best_bid, u.best_ask) else { continue };
                        if *last != Some((bid, ask)) {
                            *last = Some((bid, ask));
                            let payload = json!({
                                "u": u.update_id,
                                "s": inst.symbol(),
                                "b": price_text(inst, bid.0),
                                "B": qty_text(inst, bid.1),
                                "a": price_text(inst, ask.0),
                                "A": qty_text(inst, ask.1),
                            });
                            out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
                        }
                    }
                    StreamState::Trade => {
                        for t in &u.trades {
                            let payload = json!({
                                "e": "trade",
                                "E": now_ms,
                                "s": inst.symbol(),
                                "t": t.trade_id,
                                "p": price_text(inst, t.price),
                                "q": qty_text(inst, t.qty),
                                "T": ms(t.ts),
                                "m": t.aggressor == Side::Sell,
                                "M": true,
                            });
                            out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
                        }
                    }
                    StreamState::Partial { .. } | StreamState::User { .. } => {}
                }
            }
        }
        let mut account_out = Vec::new();
        for sub in &self.subs {
            let StreamState::User { account, rx } = &sub.state else { continue };
            loop {
                let ev = match rx.try_recv() {
                    Ok(ev) => ev,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(()),
                };
                let payload = match &*ev {
                    AccountEvent::Order { exec, order } => {
                        match self.venue.execution_report(&market, exec, order, *account) {
                            Some(v) => v,
                            None => continue,
                        }
                    }
                    AccountEvent::Balances { ts, balances } => account_position_json(*ts, balances, now_ms),
                    // Derivative positions are not on a spot stream.
                    AccountEvent::Position { .. } => continue,
                };
                account_out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
            }
        }
        self.outbox.extend(out.into_iter().map(Outgoing::Data));
        self.outbox.extend(account_out.into_iter().map(Outgoing::Account));
        Ok(())
    }

    /// Closes the windows that are due: diffs (with an injected sequence skip if one is
    /// pending) and partial books.
    pub(super) fn flush_windows(&mut self, now: Instant) {
        let market = self.ctx.market.clone();
        let mut out = Vec::new();
        for sub in &mut self.subs {
            match (&sub.stream, &mut sub.state) {
                (Stream::Diff { symbol, every }, StreamState::Diff { pending, next_flush }) if now >= *next_flush => {
                    *next_flush = advance(*next_flush, *every, now);
                    if pending.is_empty() {
                        continue;
                    }
                    if self.ctx.faults.take_skip_sequence() {
                        // The first operation of this diff is lost, ids and levels alike.
                        pending.remove(0);
                    }
                    // A zero window (the test-speed knob) sends every operation on its own.
                    let per_diff = if every.is_zero() { 1 } else { pending.len().max(1) };
                    for ops in pending.chunks(per_diff) {
                        if let Some(payload) = diff_json(&market, *symbol, ops) {
                            let text = wrap_payload(self.combined, &sub.name, &payload);
                            let last = ops.last().map_or(0, |u| u.update_id);
                            let probe = self.venue.probe.as_ref();
                            out.push(if probe.is_some_and(|p| p.is_trigger_frame(*symbol, last)) {
                                Outgoing::Trigger(text)
                            } else {
                                Outgoing::Data(text)
                            });
                        }
                    }
                    pending.clear();
                }
                (Stream::Partial { symbol, levels, every }, StreamState::Partial { next_flush })
                    if now >= *next_flush =>
                {
                    *next_flush = advance(*next_flush, *every, now);
                    let (Some(snap), Some(inst)) =
                        (market.snapshot(*symbol, *levels), market.instruments().get(*symbol))
                    else {
                        continue;
                    };
                    let payload = json!({
                        "lastUpdateId": snap.update_id,
                        "bids": levels_json(inst, &snap.bids),
                        "asks": levels_json(inst, &snap.asks),
                    });
                    out.push(Outgoing::Data(wrap_payload(self.combined, &sub.name, &payload.to_string())));
                }
                _ => {}
            }
        }
        self.outbox.extend(out);
    }

    /// Sends everything queued, applying pending frame faults to stream messages (market data:
    /// malformed and truncated frames; account events: malformed account frames).
    pub(super) fn send_outbox(&mut self, ws: &mut dyn WsSession) -> std::io::Result<()> {
        let faults = &self.ctx.faults;
        while let Some(msg) = self.outbox.pop_front() {
            match msg {
                Outgoing::Control(text) => ws.send_text(&text)?,
                Outgoing::Trigger(text) => {
                    if let Some(probe) = &self.venue.probe {
                        probe.trigger_frame_writing(Instant::now());
                    }
                    ws.send_text(&text)?;
                }
                // Account events take only the account-frame fault: the market frame faults
                // are for market data (a test that breaks the book must not break a fill).
                Outgoing::Account(_) if faults.take_malformed_account_frame() => {
                    ws.send_raw_text(b"{\"e\":\"executionReport\",\"E\":,]")?;
                }
                Outgoing::Account(text) => ws.send_text(&text)?,
                Outgoing::Data(text) => {
                    if faults.take_malformed_frame() {
                        ws.send_raw_text(b"{\"e\":\"depthUpdate\",\"E\":,]")?;
                    } else if faults.take_truncated_frame() {
                        ws.send_raw_text(&text.as_bytes()[..text.len() / 2])?;
                    } else {
                        ws.send_text(&text)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether every listen key of the session is still live; sends `listenKeyExpired` for the
    /// first that is not.
    pub(super) fn check_listen_keys(&mut self, ws: &mut dyn WsSession) -> bool {
        let now_ms = self.ctx.market.now_ms();
        for sub in &self.subs {
            if let Stream::User { listen_key } = &sub.stream
                && self.venue.listen_key_account(listen_key, now_ms).is_none()
            {
                let payload = json!({ "e": "listenKeyExpired", "E": now_ms, "listenKey": listen_key });
                let _ = ws.send_text(&wrap_payload(self.combined, &sub.name, &payload.to_string()));
                return false;
            }
        }
        true
    }

    /// The session loop; returns when the client leaves, a fault drops the session, or the
    /// simulator stops.
    pub(super) fn run(&mut self, ws: &mut dyn WsSession) {
        let faults = self.ctx.faults.clone();
        let generation = faults.ws_generation();
        loop {
            if self.ctx.stop.load(Ordering::Relaxed) {
                ws.close(true);
                return;
            }
            if faults.ws_generation() != generation || faults.in_outage() {
                ws.close(false);
                return;
            }
            match ws.recv(WS_POLL) {
                Ok(Some(WsIncoming::Text(text))) => self.on_control(&text),
                Ok(Some(WsIncoming::Binary(_))) | Ok(None) => {}
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
            }
            if self.pump().is_err() {
                log::debug!("venue-sim binance: session fell behind its feed; dropping it");
                ws.close(false);
                return;
            }
            let now = Instant::now();
            if now >= self.next_key_check {
                self.next_key_check = now + LISTEN_KEY_CHECK;
                if !self.check_listen_keys(ws) {
                    ws.close(true);
                    return;
                }
            }
            if faults.ws_stalled() {
                // Nothing goes out; diffs keep accumulating and messages queue.
                if self.outbox.len() > MAX_OUTBOX {
                    ws.close(false);
                    return;
                }
                continue;
            }
            self.flush_windows(now);
            if self.send_outbox(ws).is_err() {
                return;
            }
            if now >= self.next_ping {
                self.next_ping = now + self.venue.limits.ws_ping_interval;
                if ws.send_ping(self.ctx.market.now_ms().to_string().as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// The next window end after `now` on the grid of `every` from `prev`.
pub(super) fn advance(prev: Instant, every: Duration, now: Instant) -> Instant {
    let next = prev + every;
    if next > now { next } else { now + every }
}
