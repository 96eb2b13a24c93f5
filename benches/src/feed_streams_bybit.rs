//! The seeded Bybit v5 `orderbook.200.BTCUSDT` stream for `benches/feed_parse_bybit_kucoin_usdm.rs`
//! and `examples/feed_profile_bybit_kucoin_usdm.rs`, and its `serde_json` baseline.
//!
//! Wire format as `feed/src/bybit/parse.rs` reads it and `testdata/bybit/orderbook_spot.jsonl`
//! records it (spot key order): `{"topic":"orderbook.200.BTCUSDT","ts":<ms>,"type":"snapshot"|
//! "delta","data":{"s":"BTCUSDT","b":[[p,q],..],"a":[[p,q],..],"u":<id>,"seq":<cross seq>},
//! "cts":<ms>}`, prices and sizes in Bybit's shortest form (`"65140"`, `"65140.4"`, `"0.875077"`),
//! deletes with size `"0"`. A 200-level `snapshot`, then deltas whose `u` grows by exactly one
//! (Bybit's rule, `feed/src/bybit/sync.rs`) and whose `seq` grows by 1–30. Bybit has no checksum.
//!
//! The frames are written by the simulator's own encoder ([`spot_book_message`]), so the format
//! is written once for both; `tests/stream_digests.rs` pins the stream's bytes.
//!
//! The book model is the shared [`ModelBook`] (top-heavy changes around a fixed mid), 6–14 levels
//! a message. Set-up and baseline code: allocates freely.

use crate::feed_streams::{Change, ModelBook, SerdeBaseline, VenueStream, synced_on_frame};
use qt_core::{Book, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, Side, Venue};
use qt_venue_sim::bybit::{BookView, spot_book_message};
use rand::Rng;
use std::collections::BTreeMap;

/// Book depth of the stream's topic (`orderbook.200`).
pub const BYBIT_DEPTH: u16 = 200;

/// `u` of the snapshot.
const BYBIT_FIRST_UPDATE: u64 = 62_505_424;

/// `seq` of the snapshot.
const BYBIT_FIRST_SEQ: u64 = 112_488_545_843;

/// BTCUSDT as Bybit spot prints it in the recording: tick 0.1, lot 0.000001.
pub fn bybit_btcusdt() -> Instrument {
    let spec = InstrumentSpec::spot(Venue::Bybit, "BTCUSDT", "BTC", "USDT", "0.1", "0.000001");
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("the Bybit BTCUSDT fixture is a valid instrument");
    registry.get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// Bybit `orderbook.200.BTCUSDT` around 65 000: the 200-level snapshot frame, then `messages`
/// deltas of 6–14 levels.
pub fn bybit_orderbook_stream(messages: usize, seed: u64) -> VenueStream {
    const MID_TENTHS: i64 = 650_000;
    let instrument = bybit_btcusdt();
    let mut model = ModelBook::new(seed, usize::from(BYBIT_DEPTH), 2_000_000);
    let level = |c: &Change| {
        let tenths = if c.bid { MID_TENTHS - c.k as i64 } else { MID_TENTHS + c.k as i64 };
        (tenths, c.lots as i64)
    };
    let mut ts: i64 = 1_786_310_816_516;
    let mut frame_of = |kind: &str, u: u64, seq: u64, bids: &[Change], asks: &[Change]| {
        let view = BookView {
            u,
            seq,
            cts: ts - 31,
            bids: bids.iter().map(level).collect(),
            asks: asks.iter().map(level).collect(),
        };
        let frame = spot_book_message(usize::from(BYBIT_DEPTH), kind, &instrument, &view, ts);
        ts += 20;
        frame.into_bytes()
    };
    let full = |model: &ModelBook, bid: bool| -> Vec<Change> {
        let side = usize::from(!bid);
        (1..=model.depth()).map(|k| Change { bid, k, lots: model.sides[side][k] }).collect()
    };
    let (mut update, mut seq) = (BYBIT_FIRST_UPDATE, BYBIT_FIRST_SEQ);
    let snapshot = frame_of("snapshot", update, seq, &full(&model, true), &full(&model, false));
    let mut frames = Vec::with_capacity(messages);
    for _ in 0..messages {
        let n = model.rng.random_range(6..=14);
        let (bids, asks) = model.message(n);
        update += 1;
        seq += model.rng.random_range(1..=30);
        frames.push(frame_of("delta", update, seq, &bids, &asks));
    }
    VenueStream { instrument, snapshot, frames, first_measured: 0 }
}

/// The baseline synced on the Bybit snapshot frame.
pub fn bybit_serde_synced(stream: &VenueStream) -> SerdeBaseline {
    let mut b = SerdeBaseline::default();
    on_bybit_frame(&mut b, &stream.snapshot, &stream.instrument);
    assert_eq!(b.refused, 0, "the baseline accepts the snapshot");
    b
}

/// One Bybit `orderbook` frame through the baseline: `serde_json::Value`, topic, type, symbol and
/// the `u` = previous `u` + 1 rule (a snapshot replaces the book), then the levels into the
/// `BTreeMap` books with the same exact `parse_scaled`.
pub fn on_bybit_frame(b: &mut SerdeBaseline, frame: &[u8], instrument: &Instrument) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(frame) else {
        b.refused += 1;
        return;
    };
    let data = &v["data"];
    let snapshot = match v["type"].as_str() {
        Some("snapshot") => true,
        Some("delta") => false,
        _ => {
            b.refused += 1;
            return;
        }
    };
    let Some(update) = data["u"].as_i64() else {
        b.refused += 1;
        return;
    };
    let topic_ok =
        v["topic"].as_str().is_some_and(|t| t.strip_prefix("orderbook.200.").is_some_and(|s| s == instrument.symbol()));
    if !topic_ok || data["s"].as_str() != Some(instrument.symbol()) || (!snapshot && update != b.last + 1) {
        b.refused += 1;
        return;
    }
    if snapshot {
        b.bids.clear();
        b.asks.clear();
    }
    let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
    if !b.apply(&data["b"], true, ps, qs) || !b.apply(&data["a"], false, ps, qs) {
        b.refused += 1;
        return;
    }
    b.last = update;
}

/// A Bybit decoder (`orderbook.200`) that has applied `stream`'s snapshot, and an engine book
/// ([`crate::BOOK_DEPTH`] levels per side) holding what it emitted.
pub fn bybit_synced(stream: &VenueStream) -> (qt_feed::bybit::Decoder, Book) {
    let decoder = qt_feed::bybit::Decoder::new(std::slice::from_ref(&stream.instrument), BYBIT_DEPTH);
    let (decoder, book) = synced_on_frame(decoder, stream);
    assert_eq!(decoder.counters().snapshots, 1, "the snapshot applied");
    (decoder, book)
}

/// The baseline's measured path over Bybit frames. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_bybit(baseline: &mut SerdeBaseline, instrument: &Instrument, frames: &[Vec<u8>]) {
    for frame in frames {
        on_bybit_frame(baseline, frame, instrument);
    }
}

/// Both paths over the whole stream: no refusal, gap or resync, every delta applied, and the
/// same best 25 levels per side.
pub fn assert_same_bybit_outcome(stream: &VenueStream) {
    let frames = stream.measured();
    let (mut decoder, mut book) = bybit_synced(stream);
    crate::feed_streams::decode_into_book(&mut decoder, &mut book, frames);
    let c = decoder.counters();
    assert_eq!((c.parse_errors_total(), c.gaps, c.resyncs, c.ignored_deltas), (0, 0, 0, 0));
    assert_eq!(c.deltas_applied, frames.len() as u64, "every delta applied");
    assert!(book.is_valid());
    let mut baseline = bybit_serde_synced(stream);
    serde_bybit(&mut baseline, &stream.instrument, frames);
    assert_eq!(baseline.refused, 0, "the baseline accepted every frame");
    assert_same_top_levels(&book, &baseline);
}

/// The best 25 levels per side of `book` and of the baseline's books are the same.
pub fn assert_same_top_levels(book: &Book, baseline: &SerdeBaseline) {
    let ours = |side| book.levels(side).take(25).map(|l| (l.price.units(), l.qty.units())).collect::<Vec<_>>();
    let theirs = |m: &BTreeMap<i64, (i64, String, String)>, best_last: bool| {
        let level = |(p, (q, _, _)): (&i64, &(i64, String, String))| (*p, *q);
        if best_last {
            m.iter().rev().take(25).map(level).collect::<Vec<_>>()
        } else {
            m.iter().take(25).map(level).collect()
        }
    };
    let bids = ours(Side::Buy);
    assert_eq!(bids.len(), 25, "the book holds at least 25 bids");
    assert_eq!(bids, theirs(&baseline.bids, true));
    assert_eq!(ours(Side::Sell), theirs(&baseline.asks, false));
}
