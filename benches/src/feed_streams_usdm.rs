//! The seeded Binance USD-M futures diff-depth stream (`btcusdt@depth@100ms`) for
//! `benches/feed_parse_bybit_kucoin_usdm.rs` and `examples/feed_profile_bybit_kucoin_usdm.rs`, and
//! its `serde_json` baseline.
//!
//! Wire format as `feed/src/binance_usdm/parse.rs` reads it and `testdata/binance_usdm/depth.jsonl`
//! records it: combined-stream frames `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate",
//! "E":<ms>,"T":<ms>,"s":"BTCUSDT","U":<first>,"u":<last>,"pu":<previous u>,"b":[[p,q],..],
//! "a":[[p,q],..]}}`, decimals printed at the contract's precision (`"65000.10"`, `"1.234"`, deletes
//! `"0.000"`), after the 1 000-level `GET /fapi/v1/depth` body (`lastUpdateId,E,T,bids,asks`).
//! Update ids follow the futures rule (`feed/src/binance_usdm/sync.rs`): `pu` = the previous
//! event's `u`, and `U` is NOT `previous u + 1` (it jumps 1–50 ahead, as on the venue). The
//! first frame is buffered before the snapshot and bridges it (`U <= lastUpdateId <= u`).
//!
//! The book model is the shared [`ModelBook`], 6–14 levels a message. The REST body and the
//! payloads are written by the venue simulator's own encoders (`qt_venue_sim::binance_usdm::
//! {depth_body, depth_update_text}`, in the shared combined-stream `wrap_payload`), which its REST
//! answers and sessions use, so the format is written once; `tests/stream_digests.rs` pins the
//! stream's bytes (taken from the hand-written generator this replaced). Set-up and baseline
//! code: allocates freely.

use crate::feed_streams::{Change, ModelBook, SerdeBaseline, VenueStream, synced_on_body};
use crate::feed_streams_bybit::assert_same_top_levels;
use qt_core::decimal::parse_scaled;
use qt_core::{Book, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, Venue};
use qt_venue_sim::binance::wrap_payload;
use qt_venue_sim::binance_usdm::{depth_body, depth_update_text};
use rand::Rng;

/// Levels per side of the REST snapshot (`limit=1000`).
const USDM_SNAPSHOT_LEVELS: usize = 1000;

/// `lastUpdateId` of the snapshot.
const USDM_SNAPSHOT_ID: u64 = 600_859_605_926;

/// BTCUSDT perpetual as USD-M lists it: tick 0.10, lot 0.001, prices printed with its
/// `pricePrecision` of 2 decimals (the price scale).
pub fn usdm_btcusdt() -> Instrument {
    let mut spec = InstrumentSpec::spot(Venue::BinanceUsdm, "BTCUSDT", "BTC", "USDT", "0.10", "0.001");
    spec.kind = qt_core::InstrumentKind::LinearPerpetual;
    spec.price_scale = Some(2);
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("the USD-M BTCUSDT fixture is a valid instrument");
    registry.get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// USD-M `btcusdt@depth@100ms` around 65 000: the 1 000-level REST body, the bridging diff, then
/// `messages` measured diffs of 6–14 levels chained by `pu`.
pub fn usdm_depth_stream(messages: usize, seed: u64) -> VenueStream {
    const MID_TICKS: i64 = 650_000;
    let inst = usdm_btcusdt();
    let mut model = ModelBook::new(seed, USDM_SNAPSHOT_LEVELS, 20_000);
    // Price units are cents (2 decimals; a tick of 0.10 is 10 of them), sizes are lots (3 decimals).
    let cents = |bid: bool, k: usize| 10 * if bid { MID_TICKS - k as i64 } else { MID_TICKS + k as i64 };
    let mut ms: i64 = 1_626_992_741_264;
    let side = |model: &ModelBook, bid: bool| -> Vec<(i64, i64)> {
        (1..=USDM_SNAPSHOT_LEVELS).map(|k| (cents(bid, k), model.sides[usize::from(!bid)][k] as i64)).collect()
    };
    let snapshot = depth_body(&inst, USDM_SNAPSHOT_ID, (ms + 3, ms), &side(&model, true), &side(&model, false));

    let mut frames = Vec::with_capacity(messages + 1);
    // The bridging diff straddles the snapshot's id; its `pu` is before it.
    let mut first = USDM_SNAPSHOT_ID - 40;
    let mut last = USDM_SNAPSHOT_ID + 60;
    let mut prev = first - 15;
    let units = |changes: &[Change]| -> Vec<(i64, i64)> {
        changes.iter().map(|c| (cents(c.bid, c.k), c.lots as i64)).collect()
    };
    for _ in 0..=messages {
        let n = model.rng.random_range(6..=14);
        let (bids, asks) = model.message(n);
        ms += 100;
        let payload = depth_update_text(&inst, (ms, ms - 13), (first, last, prev), &units(&bids), &units(&asks));
        frames.push(wrap_payload(true, "btcusdt@depth@100ms", &payload).into_bytes());
        prev = last;
        first = last + model.rng.random_range(1..=50);
        last = first + model.rng.random_range(0..=200);
    }
    VenueStream { instrument: inst, snapshot: snapshot.into_bytes(), frames, first_measured: 1 }
}

/// The baseline synced on the REST body and the bridging diff (`U <= lastUpdateId <= u`).
pub fn usdm_serde_synced(stream: &VenueStream) -> SerdeBaseline {
    let mut b = SerdeBaseline::default();
    let v: serde_json::Value = serde_json::from_slice(&stream.snapshot).expect("valid snapshot");
    let (ps, qs) = (stream.instrument.price_scale(), stream.instrument.qty_scale());
    for (key, book) in [("bids", &mut b.bids), ("asks", &mut b.asks)] {
        for l in v[key].as_array().into_iter().flatten() {
            let (p, q) = (l[0].as_str().unwrap_or(""), l[1].as_str().unwrap_or(""));
            let (pu, qu) = (parse_scaled(p, ps).unwrap_or(0), parse_scaled(q, qs).unwrap_or(0));
            book.insert(pu, (qu, p.to_string(), q.to_string()));
        }
    }
    let snapshot_id = v["lastUpdateId"].as_i64().expect("lastUpdateId");
    let bridge: serde_json::Value = serde_json::from_slice(&stream.frames[0]).expect("valid bridging diff");
    let data = &bridge["data"];
    let (first, last) = (data["U"].as_i64().unwrap_or(i64::MAX), data["u"].as_i64().unwrap_or(0));
    assert!(first <= snapshot_id && snapshot_id <= last, "the first diff bridges the snapshot");
    assert!(b.apply(&data["b"], true, ps, qs) && b.apply(&data["a"], false, ps, qs));
    b.last = last;
    b
}

/// One USD-M diff frame through the baseline: `serde_json::Value`, symbol, `pu` = previous `u`,
/// then the levels into the `BTreeMap` books with the same exact `parse_scaled`.
pub fn on_usdm_frame(b: &mut SerdeBaseline, frame: &[u8], instrument: &Instrument) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(frame) else {
        b.refused += 1;
        return;
    };
    let data = &v["data"];
    let (Some(last), Some(prev)) = (data["u"].as_i64(), data["pu"].as_i64()) else {
        b.refused += 1;
        return;
    };
    if data["s"].as_str() != Some(instrument.symbol()) || prev != b.last {
        b.refused += 1;
        return;
    }
    let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
    if !b.apply(&data["b"], true, ps, qs) || !b.apply(&data["a"], false, ps, qs) {
        b.refused += 1;
    }
    b.last = last;
}

/// A USD-M decoder synced on `stream`'s snapshot (its first diff buffered before it), and an
/// engine book ([`crate::BOOK_DEPTH`] levels per side) holding what it emitted.
pub fn usdm_synced(stream: &VenueStream) -> (qt_feed::binance_usdm::Decoder, Book) {
    let (decoder, book) =
        synced_on_body(qt_feed::binance_usdm::Decoder::new(std::slice::from_ref(&stream.instrument)), stream);
    assert_eq!(decoder.counters().snapshots_applied, 1, "the buffered diff bridges the snapshot");
    (decoder, book)
}

/// The baseline's measured path over USD-M frames. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_usdm(baseline: &mut SerdeBaseline, instrument: &Instrument, frames: &[Vec<u8>]) {
    for frame in frames {
        on_usdm_frame(baseline, frame, instrument);
    }
}

/// Both paths over the whole stream: no refusal, gap, stale event or resync, and the same best 25
/// levels per side.
pub fn assert_same_usdm_outcome(stream: &VenueStream) {
    let frames = stream.measured();
    let (mut decoder, mut book) = usdm_synced(stream);
    crate::feed_streams::decode_into_book(&mut decoder, &mut book, frames);
    let c = decoder.counters();
    assert_eq!((c.parse_errors_total(), c.gaps, c.resyncs, c.stale_events, c.buffer_overflows), (0, 0, 0, 0, 0));
    assert_eq!(c.messages, frames.len() as u64 + 1, "every frame reached the decoder");
    assert!(book.is_valid());
    let mut baseline = usdm_serde_synced(stream);
    serde_usdm(&mut baseline, &stream.instrument, frames);
    assert_eq!(baseline.refused, 0, "the baseline accepted every frame");
    assert_same_top_levels(&book, &baseline);
}
