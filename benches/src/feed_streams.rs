//! Seeded synthetic venue streams for `benches/feed_parse.rs` and `examples/feed_profile.rs`, and
//! the `serde_json` baselines they are measured against.
//!
//! The streams follow the performance brief's description (the public peers were measured on
//! the same kind of streams): 100 000 messages in the
//! venues' exact wire formats, ~8–10 levels per message, Binance diff depth of ~345 bytes a
//! message (the documented `depthUpdate` payload; our feed also receives the 40-byte
//! combined-stream envelope around it, which the frames here carry: 389 bytes a frame, 349 a payload), OKX `books` updates of
//! ~494 bytes (490 here) with real CRC32 checksums.
//!
//! Both are generated from one model of a venue's book around a fixed mid (bids at `mid − k`
//! ticks, asks at `mid + k`, so it never crosses): each level of a message picks a side and a
//! distance `k = 1 + ⌊Exp(mean 8)⌋` ticks from the mid — top-heavy, as depth streams are — and
//! an occupied level gets a new size (75 %) or is deleted (25 %), an empty one is inserted.
//! The generator keeps its own book of the exact wire strings and computes OKX's checksum from
//! it the way OKX defines it (top 25 levels per side, `bid:size:ask:size:…` interleaved, CRC32
//! as a signed 32-bit integer) — independently of the decoder's code, so a decoder that got the
//! checksum wrong would fail every message.
//!
//! Binance's diffs and OKX's `books` pushes are written by the simulator's own encoders
//! (`qt_venue_sim::binance::depth_update_text` in its combined-stream envelope,
//! `qt_venue_sim::okx::books_message`), so each format is written once;
//! `tests/stream_digests.rs` pins the streams' bytes.
//!
//! Everything here is set-up or baseline code: it allocates freely.

use qt_core::decimal::{DecimalStyle, format_scaled, parse_scaled};
use qt_core::{Book, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, MarketEvent, Nanos, Side, Venue};
use qt_feed::VenueDecoder;
use qt_venue_sim::binance::{depth_update_text, wrap_payload};
use qt_venue_sim::okx::{BooksHead, books_message};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Messages per stream, as PERFORMANCE.md measured.
pub const STREAM_MESSAGES: usize = 100_000;

/// Levels of the Binance REST snapshot (our feed's default `limit`).
const BINANCE_SNAPSHOT_LEVELS: usize = 1000;

/// First `lastUpdateId` of the Binance stream.
const BINANCE_FIRST_ID: u64 = 1_000_000_000;

/// Levels per side of OKX's `books` channel.
const OKX_LEVELS: usize = 400;

/// Mean distance from the mid, in ticks, of an updated level.
const MEAN_TICKS_FROM_MID: f64 = 8.0;

/// A seeded stream of one venue's book messages.
#[derive(Debug, Clone)]
pub struct VenueStream {
    /// The instrument the messages are for.
    pub instrument: Instrument,
    /// Binance: the REST depth body; OKX: the `action:"snapshot"` frame.
    pub snapshot: Vec<u8>,
    /// Binance: the first diff (buffered before the snapshot, which it bridges), then the
    /// measured ones; OKX: the `update` frames after the snapshot.
    pub frames: Vec<Vec<u8>>,
    /// Index of the first measured frame.
    pub first_measured: usize,
}

impl VenueStream {
    /// The frames a benchmark iteration decodes.
    pub fn measured(&self) -> &[Vec<u8>] {
        &self.frames[self.first_measured..]
    }

    /// Mean size of the measured frames, bytes.
    pub fn mean_frame_bytes(&self) -> f64 {
        let frames = self.measured();
        frames.iter().map(Vec::len).sum::<usize>() as f64 / frames.len().max(1) as f64
    }
}

/// BTC-USDT as OKX lists it: tick 0.1, lot 0.00000001.
pub fn okx_btc_usdt() -> Instrument {
    let spec = InstrumentSpec::spot(Venue::Okx, "BTC-USDT", "BTC", "USDT", "0.1", "0.00000001");
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("the OKX BTC-USDT fixture is a valid instrument");
    registry.get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// One level change the model drew: side (`true` = bid), ticks from the mid, new size in lots
/// (0 deletes).
pub(crate) struct Change {
    pub(crate) bid: bool,
    pub(crate) k: usize,
    pub(crate) lots: u64,
}

/// The generator's view of a venue's book: size in lots per side per distance from the mid.
pub(crate) struct ModelBook {
    /// `[bids, asks]`, indexed by `k` (0 unused); 0 = empty.
    pub(crate) sides: [Vec<u64>; 2],
    pub(crate) rng: ChaCha8Rng,
    max_lots: u64,
}

impl ModelBook {
    pub(crate) fn new(seed: u64, depth: usize, max_lots: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sides = [vec![0u64; depth + 1], vec![0u64; depth + 1]];
        for side in &mut sides {
            for lots in side.iter_mut().skip(1) {
                *lots = rng.random_range(1..=max_lots);
            }
        }
        Self { sides, rng, max_lots }
    }

    pub(crate) fn depth(&self) -> usize {
        self.sides[0].len() - 1
    }

    /// `n` changes at distinct levels, applied to the model; bids best first, then asks best first.
    pub(crate) fn message(&mut self, n: usize) -> (Vec<Change>, Vec<Change>) {
        let mut picked: Vec<(bool, usize)> = Vec::with_capacity(n);
        while picked.len() < n {
            let bid = self.rng.random_bool(0.5);
            let u: f64 = self.rng.random();
            let k = (1 + (-(1.0 - u).ln() * MEAN_TICKS_FROM_MID) as usize).min(self.depth());
            if !picked.contains(&(bid, k)) {
                picked.push((bid, k));
            }
        }
        picked.sort_by_key(|&(bid, k)| (!bid, k));
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for (bid, k) in picked {
            let slot = &mut self.sides[usize::from(!bid)][k];
            let lots =
                if *slot == 0 || self.rng.random_bool(0.75) { self.rng.random_range(1..=self.max_lots) } else { 0 };
            *slot = lots;
            let change = Change { bid, k, lots };
            if bid { bids.push(change) } else { asks.push(change) }
        }
        (bids, asks)
    }
}

/// Binance spot diff depth for BTCUSDT ([`crate::btcusdt`]: tick 0.01, lot 0.00001) around
/// 65 000, every decimal with the 8 places Binance prints: `messages` measured diffs with 4–12
/// levels (mean 8), consecutive update ids, the 1 000-level REST snapshot they follow.
pub fn binance_depth_stream(messages: usize, seed: u64) -> VenueStream {
    const MID_CENTS: i64 = 6_500_000;
    let mut model = ModelBook::new(seed, BINANCE_SNAPSHOT_LEVELS, 200_000);
    // Binance prints prices and sizes at 8 decimals: cents ×10^6, lots (0.00001) ×10^3.
    let price_text = |bid: bool, k: usize| {
        let cents = if bid { MID_CENTS - k as i64 } else { MID_CENTS + k as i64 };
        format_scaled(i128::from(cents) * 1_000_000, 8, DecimalStyle::Fixed)
    };
    let qty_text = |lots: u64| format_scaled(i128::from(lots) * 1000, 8, DecimalStyle::Fixed);
    let instrument = crate::btcusdt();
    // The diffs' levels as (cents, lots): units of the instrument, written by venue-sim's encoder.
    let units = |changes: &[Change]| -> Vec<(i64, i64)> {
        let cents = |c: &Change| if c.bid { MID_CENTS - c.k as i64 } else { MID_CENTS + c.k as i64 };
        changes.iter().map(|c| (cents(c), c.lots as i64)).collect()
    };

    let mut snapshot = format!("{{\"lastUpdateId\":{BINANCE_FIRST_ID},\"bids\":[");
    for (side, bid) in [(0, true), (1, false)] {
        if !bid {
            snapshot.push_str("],\"asks\":[");
        }
        for k in 1..=BINANCE_SNAPSHOT_LEVELS {
            let sep = if k == 1 { "" } else { "," };
            let _ = write!(snapshot, "{sep}[\"{}\",\"{}\"]", price_text(bid, k), qty_text(model.sides[side][k]));
        }
    }
    snapshot.push_str("]}");

    let mut frames = Vec::with_capacity(messages + 1);
    let mut last_id = BINANCE_FIRST_ID;
    for i in 0..=messages {
        let n = model.rng.random_range(4..=12);
        let (bids, asks) = model.message(n);
        let first = last_id + 1;
        last_id = first + model.rng.random_range(0..=20);
        let event_ms = 1_700_000_000_000 + i as i64 * 100;
        let payload = depth_update_text(&instrument, event_ms, (first, last_id), &units(&bids), &units(&asks));
        frames.push(wrap_payload(true, "btcusdt@depth@100ms", &payload).into_bytes());
    }
    VenueStream { instrument, snapshot: snapshot.into_bytes(), frames, first_measured: 1 }
}

/// OKX `books` for BTC-USDT ([`okx_btc_usdt`]) around 65 000: the 400-level snapshot, then
/// `messages` updates with 6–14 levels (mean 10), `prevSeqId` = the previous `seqId`, and the
/// checksum of the book after each message. Prices and sizes are printed the way OKX prints
/// them: shortest form (`"65000"`, `"65000.1"`, `"0.5"`), deletes with size `"0"`.
pub fn okx_books_stream(messages: usize, seed: u64) -> VenueStream {
    const MID_TENTHS: i64 = 650_000;
    let mut model = ModelBook::new(seed, OKX_LEVELS, 200_000_000);
    let price_text = |bid: bool, k: usize| {
        let tenths = if bid { MID_TENTHS - k as i64 } else { MID_TENTHS + k as i64 };
        format_scaled(i128::from(tenths), 1, DecimalStyle::Trimmed).as_str().to_string()
    };
    let size_text = |lots: u64| format_scaled(i128::from(lots), 8, DecimalStyle::Trimmed).as_str().to_string();
    // The checksum string of the model book (wire strings, top 25 per side, interleaved).
    let checksum = |model: &ModelBook| -> i32 {
        let top = |side: usize| -> Vec<String> {
            (1..=model.depth())
                .filter(|&k| model.sides[side][k] != 0)
                .take(25)
                .map(|k| format!("{}:{}", price_text(side == 0, k), size_text(model.sides[side][k])))
                .collect()
        };
        let (bids, asks) = (top(0), top(1));
        let mut parts = Vec::new();
        for i in 0..bids.len().max(asks.len()) {
            parts.extend(bids.get(i).cloned());
            parts.extend(asks.get(i).cloned());
        }
        crc32fast::hash(parts.join(":").as_bytes()) as i32
    };
    let instrument = okx_btc_usdt();
    let mut seq: i64 = 18_000_000_000;
    let mut ts: i64 = 1_700_000_000_000;
    let mut frame_of = |model: &mut ModelBook, action: &str, prev: i64, seq: i64, bids: &[Change], asks: &[Change]| {
        // Order counts are drawn asks first, then bids (the frame's order); a delete has none.
        let mut levels = |changes: &[Change]| -> Vec<(i64, i64, u64)> {
            let tenths = |c: &Change| if c.bid { MID_TENTHS - c.k as i64 } else { MID_TENTHS + c.k as i64 };
            let orders = |lots: u64, rng: &mut ChaCha8Rng| if lots == 0 { 0 } else { rng.random_range(1..=9) };
            changes.iter().map(|c| (tenths(c), c.lots as i64, orders(c.lots, &mut model.rng))).collect()
        };
        let (asks, bids) = (levels(asks), levels(bids));
        ts += 100;
        let head = BooksHead { action, ts, checksum: checksum(model), prev_seq: prev, seq: seq as u64 };
        books_message(&instrument, &head, &bids, &asks).into_bytes()
    };
    let full = |model: &ModelBook, bid: bool| -> Vec<Change> {
        let side = usize::from(!bid);
        (1..=model.depth()).map(|k| Change { bid, k, lots: model.sides[side][k] }).collect()
    };
    let (snap_bids, snap_asks) = (full(&model, true), full(&model, false));
    let snapshot = frame_of(&mut model, "snapshot", -1, seq, &snap_bids, &snap_asks);
    let mut frames = Vec::with_capacity(messages);
    for _ in 0..messages {
        let n = model.rng.random_range(6..=14);
        let (bids, asks) = model.message(n);
        let prev = seq;
        seq += model.rng.random_range(1..=3);
        frames.push(frame_of(&mut model, "update", prev, seq, &bids, &asks));
    }
    VenueStream { instrument, snapshot, frames, first_measured: 0 }
}

/// The straightforward stack the issue measures against: `serde_json::Value` per frame, the
/// same exact decimal conversion (`parse_scaled`), `BTreeMap` books. Holds the books between
/// frames; [`Self::on_binance_frame`] and [`Self::on_okx_frame`] do the same checks our
/// decoders do (symbol, sequence, and for OKX the CRC32 over the wire strings).
#[derive(Debug, Clone, Default)]
pub struct SerdeBaseline {
    /// Bids: price units → (size units, price text, size text).
    pub bids: BTreeMap<i64, (i64, String, String)>,
    /// Asks, likewise.
    pub asks: BTreeMap<i64, (i64, String, String)>,
    /// Last update id / `seqId`.
    pub last: i64,
    /// Frames refused (must stay 0 on the generated streams).
    pub refused: u64,
}

impl SerdeBaseline {
    /// Synced on a stream's snapshot (Binance REST body or OKX snapshot frame).
    pub fn synced(stream: &VenueStream, okx: bool) -> Self {
        let mut b = Self::default();
        let v: serde_json::Value = serde_json::from_slice(&stream.snapshot).expect("valid snapshot");
        let (ps, qs) = (stream.instrument.price_scale(), stream.instrument.qty_scale());
        let (data, bids_key, asks_key) = if okx { (&v["data"][0], "bids", "asks") } else { (&v, "bids", "asks") };
        for (key, book) in [(bids_key, &mut b.bids), (asks_key, &mut b.asks)] {
            for l in data[key].as_array().into_iter().flatten() {
                let (p, q) = (l[0].as_str().unwrap_or(""), l[1].as_str().unwrap_or(""));
                let (pu, qu) = (parse_scaled(p, ps).unwrap_or(0), parse_scaled(q, qs).unwrap_or(0));
                book.insert(pu, (qu, p.to_string(), q.to_string()));
            }
        }
        b.last = if okx { data["seqId"].as_i64().unwrap_or(0) } else { v["lastUpdateId"].as_i64().unwrap_or(0) };
        if !okx {
            // The first frame bridges the snapshot (as our decoder is set up).
            b.on_binance_frame(&stream.frames[0], &stream.instrument);
        }
        b
    }

    pub(crate) fn apply(&mut self, levels: &serde_json::Value, bid: bool, ps: u8, qs: u8) -> bool {
        let Some(levels) = levels.as_array() else { return false };
        let book = if bid { &mut self.bids } else { &mut self.asks };
        for l in levels {
            let (Some(p), Some(q)) = (l[0].as_str(), l[1].as_str()) else { return false };
            let (Ok(pu), Ok(qu)) = (parse_scaled(p, ps), parse_scaled(q, qs)) else { return false };
            if qu == 0 {
                book.remove(&pu);
            } else {
                book.insert(pu, (qu, p.to_string(), q.to_string()));
            }
        }
        true
    }

    /// One Binance combined-stream diff frame.
    pub fn on_binance_frame(&mut self, frame: &[u8], instrument: &Instrument) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(frame) else {
            self.refused += 1;
            return;
        };
        let data = &v["data"];
        let (Some(first), Some(last)) = (data["U"].as_i64(), data["u"].as_i64()) else {
            self.refused += 1;
            return;
        };
        if data["s"].as_str() != Some(instrument.symbol()) || last <= self.last || first > self.last + 1 {
            self.refused += 1;
            return;
        }
        let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
        if !self.apply(&data["b"], true, ps, qs) || !self.apply(&data["a"], false, ps, qs) {
            self.refused += 1;
        }
        self.last = last;
    }

    /// One OKX `books` update frame: sequence check, apply, checksum verification.
    pub fn on_okx_frame(&mut self, frame: &[u8], instrument: &Instrument) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(frame) else {
            self.refused += 1;
            return;
        };
        let data = &v["data"][0];
        if v["arg"]["channel"].as_str() != Some("books")
            || v["arg"]["instId"].as_str() != Some(instrument.symbol())
            || data["prevSeqId"].as_i64() != Some(self.last)
        {
            self.refused += 1;
            return;
        }
        let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
        if !self.apply(&data["asks"], false, ps, qs) || !self.apply(&data["bids"], true, ps, qs) {
            self.refused += 1;
            return;
        }
        self.last = data["seqId"].as_i64().unwrap_or(0);
        let mut text = String::new();
        let mut bids = self.bids.values().rev().take(25);
        let mut asks = self.asks.values().take(25);
        loop {
            let (b, a) = (bids.next(), asks.next());
            if b.is_none() && a.is_none() {
                break;
            }
            for (_, px, sz) in b.into_iter().chain(a) {
                if !text.is_empty() {
                    text.push(':');
                }
                text.push_str(px);
                text.push(':');
                text.push_str(sz);
            }
        }
        if data["checksum"].as_i64() != Some(i64::from(crc32fast::hash(text.as_bytes()) as i32)) {
            self.refused += 1;
        }
    }
}

/// `decoder` after `stream`'s snapshot frame (venues whose book image arrives as a frame: OKX,
/// Bybit, Kraken, Firi), and an engine book ([`crate::BOOK_DEPTH`] levels per side) holding what
/// it emitted (valid).
pub(crate) fn synced_on_frame<D: VenueDecoder>(mut decoder: D, stream: &VenueStream) -> (D, Book) {
    let mut book = Book::new(stream.instrument.id(), crate::BOOK_DEPTH);
    decoder.on_frame(&stream.snapshot, Nanos(0), &mut |ev: &MarketEvent| {
        let _ = book.apply(ev);
    });
    assert!(book.is_valid(), "the snapshot leaves the book valid");
    (decoder, book)
}

/// `decoder` after `stream`'s first frame (buffered) and then its REST snapshot body, which the
/// frame bridges (Binance spot and USD-M, KuCoin), and an engine book ([`crate::BOOK_DEPTH`]
/// levels per side) holding what it emitted (valid).
pub(crate) fn synced_on_body<D: VenueDecoder>(mut decoder: D, stream: &VenueStream) -> (D, Book) {
    let mut book = Book::new(stream.instrument.id(), crate::BOOK_DEPTH);
    let mut apply = |ev: &MarketEvent| {
        let _ = book.apply(ev);
    };
    decoder.on_frame(&stream.frames[0], Nanos(0), &mut apply);
    assert!(decoder.on_snapshot_body(0, &stream.snapshot, Nanos(0), &mut apply), "snapshot accepted");
    assert!(book.is_valid(), "the snapshot and the frame bridging it leave the book valid");
    (decoder, book)
}

/// A Binance decoder synced on `stream`'s snapshot (its first frame buffered before it), and an
/// engine book holding what it emitted.
pub fn binance_synced(stream: &VenueStream) -> (qt_feed::binance::Decoder, Book) {
    synced_on_body(qt_feed::binance::Decoder::new(std::slice::from_ref(&stream.instrument)), stream)
}

/// An OKX decoder that has applied `stream`'s snapshot frame (checksum verified), and an engine
/// book holding what it emitted.
pub fn okx_synced(stream: &VenueStream) -> (qt_feed::okx::Decoder, Book) {
    let (decoder, book) = synced_on_frame(qt_feed::okx::Decoder::new(std::slice::from_ref(&stream.instrument)), stream);
    assert_eq!(decoder.stats().checksum_ok, 1, "the snapshot's checksum verifies");
    (decoder, book)
}

/// The measured path: every frame through `decoder` (parse, venue sync, checksum) into `book`.
/// Not inlined, so `callgrind --toggle-collect` can count exactly this.
#[inline(never)]
pub fn decode_into_book<D: VenueDecoder>(decoder: &mut D, book: &mut Book, frames: &[Vec<u8>]) {
    let mut apply = |ev: &MarketEvent| {
        let _ = book.apply(ev);
    };
    for frame in frames {
        decoder.on_frame(frame, Nanos(0), &mut apply);
    }
}

/// The baseline's measured path over Binance frames. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_binance(baseline: &mut SerdeBaseline, instrument: &Instrument, frames: &[Vec<u8>]) {
    for frame in frames {
        baseline.on_binance_frame(frame, instrument);
    }
}

/// The baseline's measured path over OKX frames. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_okx(baseline: &mut SerdeBaseline, instrument: &Instrument, frames: &[Vec<u8>]) {
    for frame in frames {
        baseline.on_okx_frame(frame, instrument);
    }
}

/// Checks that both paths decoded the whole stream without a refusal, gap or checksum failure
/// and ended with the same best 25 levels per side (so they did the same work).
pub fn assert_same_outcome(stream: &VenueStream, okx: bool) {
    let frames = stream.measured();
    let (stats, book) = if okx {
        let (mut d, mut book) = okx_synced(stream);
        decode_into_book(&mut d, &mut book, frames);
        assert_eq!(d.stats().checksum_ok, frames.len() as u64 + 1, "every checksum verified");
        (d.stats(), book)
    } else {
        let (mut d, mut book) = binance_synced(stream);
        decode_into_book(&mut d, &mut book, frames);
        (d.stats(), book)
    };
    assert_eq!((stats.parse_errors, stats.gaps, stats.checksum_failed, stats.resyncs), (0, 0, 0, 0));
    assert!(book.is_valid());
    let mut baseline = SerdeBaseline::synced(stream, okx);
    if okx {
        serde_okx(&mut baseline, &stream.instrument, frames);
    } else {
        serde_binance(&mut baseline, &stream.instrument, frames);
    }
    assert_eq!(baseline.refused, 0, "the baseline accepted every frame");
    let ours = |side| book.levels(side).take(25).map(|l| (l.price.units(), l.qty.units())).collect::<Vec<_>>();
    let theirs = |m: &BTreeMap<i64, (i64, String, String)>, rev: bool| {
        let level = |(p, (q, _, _)): (&i64, &(i64, String, String))| (*p, *q);
        if rev {
            m.iter().rev().take(25).map(level).collect::<Vec<_>>()
        } else {
            m.iter().take(25).map(level).collect()
        }
    };
    assert_eq!(ours(Side::Buy), theirs(&baseline.bids, true));
    assert_eq!(ours(Side::Sell), theirs(&baseline.asks, false));
}
