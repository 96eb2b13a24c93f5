//! The seeded KuCoin spot level-2 stream (`/market/level2:BTC-USDT`, `trade.l2update`) for
//! `benches/feed_parse_bybit_kucoin_usdm.rs` and `examples/feed_profile_bybit_kucoin_usdm.rs`, and
//! its `serde_json` baseline.
//!
//! Wire format as `feed/src/kucoin/parse.rs` reads it and `testdata/kucoin/depth_update.json` (the
//! current documentation sample) shows it: `{"topic":"/market/level2:BTC-USDT","type":"message",
//! "subject":"trade.l2update","data":{"changes":{"asks":[[p,q,seq],..],"bids":[[p,q,seq],..]},
//! "sequenceEnd":<n>,"sequenceStart":<n>,"symbol":"BTC-USDT","time":<ms>}}`, prices and sizes in
//! KuCoin's shortest form (`"67993.3"`, `"1.21427407"`, deletes `"0"`), after the REST body of
//! `GET /api/v3/market/orderbook/level2` (`{"code":"200000","data":{"time","sequence":"<n>",
//! "bids","asks"}}`, 1 000 levels a side here). Each change carries its own sequence; a message's
//! changes take `sequenceStart..=sequenceEnd` in order, and the next message starts at the
//! previous `sequenceEnd + 1` (KuCoin's "Level2 calibration", `feed/src/kucoin/sync.rs`). The
//! first increment is buffered before the snapshot and starts right after its `sequence`.
//!
//! The book model is the shared [`ModelBook`], 6–14 levels a message. The REST body and the
//! increments are written by the venue simulator's own encoders (`qt_venue_sim::kucoin::
//! {level2_body, level2_message}`), which its REST answers and sessions use, so the format is
//! written once; `tests/stream_digests.rs` pins the stream's bytes (taken from the hand-written
//! generator this replaced). Set-up and baseline code: allocates freely.

use crate::feed_streams::{Change, ModelBook, SerdeBaseline, VenueStream, synced_on_body};
use crate::feed_streams_bybit::assert_same_top_levels;
use qt_core::decimal::parse_scaled;
use qt_core::{Book, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, Venue};
use qt_venue_sim::kucoin::{self, level2_body, level2_message};
use rand::Rng;

/// Levels per side of the REST snapshot.
const KUCOIN_SNAPSHOT_LEVELS: usize = 1000;

/// `sequence` of the snapshot.
const KUCOIN_SNAPSHOT_SEQUENCE: u64 = 14_701_689_783;

/// BTC-USDT as KuCoin lists it: tick 0.1, lot 0.00000001.
pub fn kucoin_btc_usdt() -> Instrument {
    let spec = InstrumentSpec::spot(Venue::Kucoin, "BTC-USDT", "BTC", "USDT", "0.1", "0.00000001");
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("the KuCoin BTC-USDT fixture is a valid instrument");
    registry.get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// KuCoin level-2 for BTC-USDT around 65 000: the 1 000-level REST body, the first increment
/// (buffered before it), then `messages` measured increments of 6–14 changes.
pub fn kucoin_level2_stream(messages: usize, seed: u64) -> VenueStream {
    const MID_TENTHS: i64 = 650_000;
    let inst = kucoin_btc_usdt();
    let mut model = ModelBook::new(seed, KUCOIN_SNAPSHOT_LEVELS, 200_000_000);
    let price = |bid: bool, k: usize| if bid { MID_TENTHS - k as i64 } else { MID_TENTHS + k as i64 };
    let mut ms: i64 = 1_729_816_425_625;
    let side = |model: &ModelBook, bid: bool| -> Vec<(i64, i64)> {
        (1..=KUCOIN_SNAPSHOT_LEVELS).map(|k| (price(bid, k), model.sides[usize::from(!bid)][k] as i64)).collect()
    };
    let snapshot = level2_body(&inst, ms, KUCOIN_SNAPSHOT_SEQUENCE, &side(&model, true), &side(&model, false));

    let mut frames = Vec::with_capacity(messages + 1);
    let mut next = KUCOIN_SNAPSHOT_SEQUENCE + 1;
    for _ in 0..=messages {
        let n = model.rng.random_range(6..=14);
        let (bids, asks) = model.message(n);
        let start = next;
        ms += 100;
        // Asks come first in the frame, so they take the first sequences.
        let mut changes = |side: &[Change]| -> Vec<kucoin::Change> {
            side.iter().map(|c| (price(c.bid, c.k), c.lots as i64, post_inc(&mut next))).collect()
        };
        let (asks, bids) = (changes(&asks), changes(&bids));
        frames.push(level2_message(&inst, (start, next - 1), ms, &asks, &bids).into_bytes());
    }
    VenueStream { instrument: inst, snapshot: snapshot.into_bytes(), frames, first_measured: 1 }
}

/// `*n`, then increments it.
fn post_inc(n: &mut u64) -> u64 {
    *n += 1;
    *n - 1
}

/// The baseline synced on the REST body and the first increment.
pub fn kucoin_serde_synced(stream: &VenueStream) -> SerdeBaseline {
    let mut b = SerdeBaseline::default();
    let v: serde_json::Value = serde_json::from_slice(&stream.snapshot).expect("valid snapshot");
    assert_eq!(v["code"].as_str(), Some("200000"));
    let data = &v["data"];
    let (ps, qs) = (stream.instrument.price_scale(), stream.instrument.qty_scale());
    for (key, book) in [("bids", &mut b.bids), ("asks", &mut b.asks)] {
        for l in data[key].as_array().into_iter().flatten() {
            let (p, q) = (l[0].as_str().unwrap_or(""), l[1].as_str().unwrap_or(""));
            let (pu, qu) = (parse_scaled(p, ps).unwrap_or(0), parse_scaled(q, qs).unwrap_or(0));
            book.insert(pu, (qu, p.to_string(), q.to_string()));
        }
    }
    b.last = data["sequence"].as_str().and_then(|s| s.parse().ok()).expect("sequence");
    on_kucoin_frame(&mut b, &stream.frames[0], &stream.instrument);
    assert_eq!(b.refused, 0, "the first increment connects to the snapshot");
    b
}

/// One change array (`[[price, size, sequence], ..]`) into `book`: changes at or below the book's
/// sequence are skipped, price `"0"` is a sequence-only entry. `false` if malformed.
fn apply_changes(b: &mut SerdeBaseline, levels: &serde_json::Value, bid: bool, ps: u8, qs: u8) -> bool {
    let Some(levels) = levels.as_array() else { return false };
    let last = b.last;
    let book = if bid { &mut b.bids } else { &mut b.asks };
    for l in levels {
        let (Some(p), Some(q), Some(s)) = (l[0].as_str(), l[1].as_str(), l[2].as_str()) else { return false };
        let (Ok(pu), Ok(qu), Ok(seq)) = (parse_scaled(p, ps), parse_scaled(q, qs), s.parse::<i64>()) else {
            return false;
        };
        if seq <= last || pu == 0 {
            continue;
        }
        if qu == 0 {
            book.remove(&pu);
        } else {
            book.insert(pu, (qu, p.to_string(), q.to_string()));
        }
    }
    true
}

/// One KuCoin level-2 frame through the baseline: `serde_json::Value`, topic and symbol, the
/// increment connecting (`sequenceStart <= book + 1`, `sequenceEnd > book`), then the changes
/// newer than the book into the `BTreeMap` books with the same exact `parse_scaled`.
pub fn on_kucoin_frame(b: &mut SerdeBaseline, frame: &[u8], instrument: &Instrument) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(frame) else {
        b.refused += 1;
        return;
    };
    let data = &v["data"];
    let (Some(start), Some(end)) = (data["sequenceStart"].as_i64(), data["sequenceEnd"].as_i64()) else {
        b.refused += 1;
        return;
    };
    let topic_ok = v["topic"].as_str().and_then(|t| t.strip_prefix("/market/level2:")) == Some(instrument.symbol());
    if v["type"].as_str() != Some("message")
        || !topic_ok
        || data["symbol"].as_str() != Some(instrument.symbol())
        || start > b.last + 1
        || end <= b.last
    {
        b.refused += 1;
        return;
    }
    let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
    let changes = &data["changes"];
    if !apply_changes(b, &changes["bids"], true, ps, qs) || !apply_changes(b, &changes["asks"], false, ps, qs) {
        b.refused += 1;
        return;
    }
    b.last = end;
}

/// A KuCoin decoder synced on `stream`'s snapshot (its first increment buffered before it), and
/// an engine book ([`crate::BOOK_DEPTH`] levels per side) holding what it emitted.
pub fn kucoin_synced(stream: &VenueStream) -> (qt_feed::kucoin::Decoder, Book) {
    let (decoder, book) =
        synced_on_body(qt_feed::kucoin::Decoder::new(std::slice::from_ref(&stream.instrument)), stream);
    assert_eq!(decoder.counters().snapshots_applied, 1, "the buffered increment connects to the snapshot");
    (decoder, book)
}

/// The baseline's measured path over KuCoin frames. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_kucoin(baseline: &mut SerdeBaseline, instrument: &Instrument, frames: &[Vec<u8>]) {
    for frame in frames {
        on_kucoin_frame(baseline, frame, instrument);
    }
}

/// Both paths over the whole stream: no refusal, gap, stale increment or resync, and the same
/// best 25 levels per side.
pub fn assert_same_kucoin_outcome(stream: &VenueStream) {
    let frames = stream.measured();
    let (mut decoder, mut book) = kucoin_synced(stream);
    crate::feed_streams::decode_into_book(&mut decoder, &mut book, frames);
    let c = decoder.counters();
    assert_eq!((c.parse_errors.iter().sum::<u64>(), c.gaps, c.resyncs, c.stale, c.buffer_overflows), (0, 0, 0, 0, 0));
    assert_eq!(c.messages, frames.len() as u64 + 1, "every frame reached the decoder");
    assert!(book.is_valid());
    let mut baseline = kucoin_serde_synced(stream);
    serde_kucoin(&mut baseline, &stream.instrument, frames);
    assert_eq!(baseline.refused, 0, "the baseline accepted every frame");
    assert_same_top_levels(&book, &baseline);
}
