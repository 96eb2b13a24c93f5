//! A seeded Kraken WS v2 `book` stream for `benches/feed_parse_kraken_firi.rs` and
//! `examples/feed_profile_kraken_firi.rs`, and the `serde_json` baseline it is measured against.
//!
//! The stream: BTC/USD (tick 0.1, lot 0.00000001, Kraken's `price_precision` 1 and
//! `qty_precision` 8) at subscribed depth [`KRAKEN_DEPTH`]: one `snapshot` of the top 25 levels
//! per side, then `update`s, in the message shape the v2 `book` page documents and the venue
//! simulator sends — `{"channel":"book","type":..,"data":[{"symbol":"BTC/USD","bids":[{"price":
//! 64999.9,"qty":0.12345678}],"asks":[..],"checksum":..,"timestamp":"..Z"}]}` — prices and
//! quantities as bare JSON **numbers** printed at the pair's precision (as the checksum guide's
//! `0.00100000` shows), no sequence numbers.
//!
//! The venue's full book is [`crate::feed_streams`]'s top-heavy `ModelBook` (400 ticks a side,
//! 6–14 changes a message at `1 + ⌊Exp(mean 8)⌋` ticks from the mid). The frames are written by
//! the venue simulator's own Kraken encoder over a mirror of that book
//! (`qt_venue_sim::kraken::{book_update, book_message, checksum}`), so the format is written once:
//! each update carries what Kraken's subscribed view shows of the changes — per side the levels
//! of the top 25 deleted from the book (qty 0) first, then the levels whose size changed or which
//! entered the top 25, best first; a level pushed out of the top 25 is **not** deleted (the
//! client truncates) and a change below the view is not sent — with the checksum of the view
//! built from the text as sent (top 10 asks low → high, then top 10 bids high → low, each price
//! and qty with the `.` removed and leading zeros stripped, CRC32). `tests/stream_digests.rs`
//! pins the stream's bytes (taken from the hand-written generator this replaced); the checksum
//! is checked independently by the serde baseline and by our decoder on every frame.
//!
//! Everything here is set-up or baseline code: it allocates freely.

use crate::feed_streams::{ModelBook, STREAM_MESSAGES, VenueStream, synced_on_frame};
use qt_core::decimal::parse_scaled;
use qt_core::{Book, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, Side, Venue};
use qt_feed::VenueDecoder;
use qt_feed::kraken::{Decoder, Precision};
use qt_venue_sim::kraken::{book_message, book_update, checksum};
use qt_venue_sim::public_stream::{MirrorBook, PublishedView};
use rand::Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The subscribed `book` depth (one of Kraken's 10/25/100/500/1000).
pub const KRAKEN_DEPTH: usize = 25;

/// Levels per side in Kraken's checksum.
const CHECKSUM_LEVELS: usize = 10;

/// Ticks per side of the venue's full book behind the subscribed view.
const MODEL_LEVELS: usize = 400;

/// The mid, in ticks of 0.1.
const MID_TENTHS: i64 = 650_000;

/// Largest level size, lots of 0.00000001 (2 BTC).
const MAX_LOTS: u64 = 200_000_000;

/// 2026-12-02T10:00:00Z, where the stream's timestamps start (Unix nanoseconds).
const STREAM_START_NS: i64 = 1_796_205_600 * 1_000_000_000;

/// BTC/USD as Kraken lists it: tick 0.1, lot 0.00000001.
pub fn kraken_btc_usd() -> Instrument {
    let spec = InstrumentSpec::spot(Venue::Kraken, "BTC/USD", "BTC", "USD", "0.1", "0.00000001");
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("the Kraken BTC/USD fixture is a valid instrument");
    registry.get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// Kraken's `price_precision` / `qty_precision` of BTC/USD.
pub fn kraken_btc_usd_precision() -> Precision {
    Precision { price: 1, qty: 8 }
}

/// Kraken v2 `book` for BTC/USD ([`kraken_btc_usd`]) at depth [`KRAKEN_DEPTH`]: the snapshot,
/// then `messages` updates (see the module doc), each with the checksum of the book after it.
pub fn kraken_book_stream(messages: usize, seed: u64) -> VenueStream {
    let inst = kraken_btc_usd();
    let mut model = ModelBook::new(seed, MODEL_LEVELS, MAX_LOTS);
    let price = |bid: bool, k: usize| if bid { MID_TENTHS - k as i64 } else { MID_TENTHS + k as i64 };
    let mut book = MirrorBook::default();
    for (s, bid) in [(0, true), (1, false)] {
        let side = if bid { &mut book.bids } else { &mut book.asks };
        side.extend((1..=model.depth()).map(|k| (price(bid, k), model.sides[s][k] as i64)));
    }
    let (mut view, bids, asks) = PublishedView::snapshot(&book, KRAKEN_DEPTH);
    let snapshot = book_message(&inst, "snapshot", &bids, &asks, checksum(&inst, &view), 0).into_bytes();
    let mut frames = Vec::with_capacity(messages);
    let mut micros = 0i64;
    while frames.len() < messages {
        let n = model.rng.random_range(6..=14);
        let (bids, asks) = model.message(n);
        for c in bids.iter().chain(&asks) {
            let side = if c.bid { &mut book.bids } else { &mut book.asks };
            if c.lots == 0 {
                side.remove(&price(c.bid, c.k))
            } else {
                side.insert(price(c.bid, c.k), c.lots as i64)
            };
        }
        micros += model.rng.random_range(1_000..=200_000);
        // Every change below the view: Kraken sends nothing.
        let Some((bids, asks, sum)) = book_update(&inst, &mut view, &book) else { continue };
        frames.push(book_message(&inst, "update", &bids, &asks, sum, STREAM_START_NS + micros * 1000).into_bytes());
    }
    VenueStream { instrument: inst, snapshot, frames, first_measured: 0 }
}

/// The standard Kraken stream: [`STREAM_MESSAGES`] updates with [`crate::SEED`].
pub fn kraken_standard_stream() -> VenueStream {
    kraken_book_stream(STREAM_MESSAGES, crate::SEED)
}

/// The straightforward serde stack on Kraken frames: `serde_json::Value` per frame, each number's
/// text (`Number`'s `Display`) through the same exact `parse_scaled`, `BTreeMap` books truncated
/// to the subscribed depth once all of a message's levels are applied, and the checksum as a `String` of the top levels'
/// digits (units at the pair's precision, which the instrument's scales equal here) hashed with
/// `crc32fast`. The channel, type and symbol are checked; Kraken has no sequence numbers.
#[derive(Debug, Clone, Default)]
pub struct KrakenSerdeBaseline {
    /// Bids: price units → qty units.
    pub bids: BTreeMap<i64, i64>,
    /// Asks, likewise.
    pub asks: BTreeMap<i64, i64>,
    /// Frames refused, checksum mismatches included (must stay 0 on the generated stream).
    pub refused: u64,
    /// Checksums that matched.
    pub checksums_ok: u64,
}

impl KrakenSerdeBaseline {
    /// Synced on the stream's snapshot.
    pub fn synced(stream: &VenueStream) -> Self {
        let mut b = Self::default();
        b.on_frame(&stream.snapshot, &stream.instrument);
        b
    }

    /// Applies one side's levels in order; `false` if one is unreadable.
    fn apply(&mut self, levels: &serde_json::Value, bid: bool, ps: u8, qs: u8) -> bool {
        let Some(levels) = levels.as_array() else { return false };
        let book = if bid { &mut self.bids } else { &mut self.asks };
        for l in levels {
            let (Some(p), Some(q)) = (l["price"].as_number(), l["qty"].as_number()) else { return false };
            let (Ok(pu), Ok(qu)) = (parse_scaled(&p.to_string(), ps), parse_scaled(&q.to_string(), qs)) else {
                return false;
            };
            if qu == 0 {
                book.remove(&pu);
            } else {
                book.insert(pu, qu);
            }
        }
        // The side's whole list, then the subscribed depth (Kraken's rule; the two sides are
        // independent, so per side is per message).
        while book.len() > KRAKEN_DEPTH {
            if bid {
                book.pop_first()
            } else {
                book.pop_last()
            };
        }
        true
    }

    /// One `book` frame (snapshot or update): apply, then verify the checksum.
    pub fn on_frame(&mut self, frame: &[u8], instrument: &Instrument) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(frame) else {
            self.refused += 1;
            return;
        };
        let snapshot = match v["type"].as_str() {
            Some("snapshot") => true,
            Some("update") => false,
            _ => {
                self.refused += 1;
                return;
            }
        };
        let item = &v["data"][0];
        if v["channel"].as_str() != Some("book") || item["symbol"].as_str() != Some(instrument.symbol()) {
            self.refused += 1;
            return;
        }
        if snapshot {
            self.bids.clear();
            self.asks.clear();
        }
        let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
        if !self.apply(&item["asks"], false, ps, qs) || !self.apply(&item["bids"], true, ps, qs) {
            self.refused += 1;
            return;
        }
        let mut text = String::new();
        let asks = self.asks.iter().take(CHECKSUM_LEVELS);
        for (p, q) in asks.chain(self.bids.iter().rev().take(CHECKSUM_LEVELS)) {
            let _ = write!(text, "{p}{q}");
        }
        if item["checksum"].as_u64() == Some(u64::from(crc32fast::hash(text.as_bytes()))) {
            self.checksums_ok += 1;
        } else {
            self.refused += 1;
        }
    }
}

/// A Kraken decoder (depth [`KRAKEN_DEPTH`]) that has applied the stream's snapshot (checksum
/// verified), and an engine book holding what it emitted.
pub fn kraken_synced(stream: &VenueStream) -> (Decoder, Book) {
    let inst = std::slice::from_ref(&stream.instrument);
    let (decoder, book) =
        synced_on_frame(Decoder::with_depth(inst, &[kraken_btc_usd_precision()], KRAKEN_DEPTH), stream);
    assert_eq!(decoder.stats().checksum_ok, 1, "the snapshot's checksum verifies");
    (decoder, book)
}

/// The baseline's measured path over Kraken frames. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_kraken(baseline: &mut KrakenSerdeBaseline, instrument: &Instrument, frames: &[Vec<u8>]) {
    for frame in frames {
        baseline.on_frame(frame, instrument);
    }
}

/// Checks that both paths decoded the whole stream with every checksum verified and nothing
/// refused, and ended with the same books (the whole subscribed depth, both sides).
pub fn assert_same_kraken_outcome(stream: &VenueStream) {
    let frames = stream.measured();
    let (mut decoder, mut book) = kraken_synced(stream);
    crate::feed_streams::decode_into_book(&mut decoder, &mut book, frames);
    let c = decoder.counters();
    assert_eq!(c.stats.checksum_ok, frames.len() as u64 + 1, "every checksum verified");
    assert_eq!((c.stats.parse_errors, c.stats.checksum_failed, c.stats.resyncs, c.ignored_updates), (0, 0, 0, 0));
    assert!(book.is_valid() && !book.is_crossed());
    let mut baseline = KrakenSerdeBaseline::synced(stream);
    serde_kraken(&mut baseline, &stream.instrument, frames);
    assert_eq!((baseline.refused, baseline.checksums_ok), (0, frames.len() as u64 + 1));
    let ours = |side| book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect::<Vec<_>>();
    let theirs = |m: &BTreeMap<i64, i64>, rev: bool| {
        let level = |(p, q): (&i64, &i64)| (*p, *q);
        if rev { m.iter().rev().map(level).collect::<Vec<_>>() } else { m.iter().map(level).collect() }
    };
    assert_eq!(ours(Side::Buy), theirs(&baseline.bids, true));
    assert_eq!(ours(Side::Sell), theirs(&baseline.asks, false));
    assert_eq!(ours(Side::Buy).len(), KRAKEN_DEPTH, "the view stays full");
}
