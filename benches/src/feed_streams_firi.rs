//! A seeded stream of Firi `GET /v2/markets/BTCNOK/depth` bodies for
//! `benches/feed_parse_kraken_firi.rs` and `examples/feed_profile_kraken_firi.rs`, and the
//! `serde_json` baseline it is measured against.
//!
//! Firi has no market-data stream: our poller fetches the depth body and the decoder turns each
//! one into a full book image. So every "message" here is one body —
//! `{"bids":[["999999.99","0.01430993"],..],"asks":[..]}`, best first, decimal strings at the
//! instrument's grid (2 decimals of NOK, 8 of BTC), the shape `feed/src/firi/parse.rs` reads
//! and the venue simulator serves — with [`FIRI_LEVELS`] levels a side (what a poller asking
//! `?bids=50&asks=50` gets; the simulator's default is 100). Between two polls the venue's book
//! (the top-heavy `ModelBook` of [`crate::feed_streams`], 400 ticks a side around
//! 1 000 000.00 NOK) takes 6–14 level changes. Each body is the top 50 occupied levels, written
//! by the simulator's own encoder (`qt_venue_sim::firi::depth_body`), so the format is written
//! once; `tests/stream_digests.rs` pins the stream's bytes.
//!
//! [`FIRI_BODIES`], not 100 000: a body is ~3.2 kB (100 levels), so 100 000 bodies would hold
//! ~320 MB for the whole run on a machine shared by three engineers; 10 000 bodies are 1 000 000
//! levels, ten times the levels of the 100 000-message WebSocket streams.
//!
//! Everything here is set-up or baseline code: it allocates freely.

use crate::feed_streams::{ModelBook, VenueStream, synced_on_frame};
use qt_core::decimal::parse_scaled;
use qt_core::{Book, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, Side, Venue};
use qt_feed::firi::Decoder;
use qt_venue_sim::firi::depth_body;
use rand::Rng;
use std::collections::BTreeMap;

/// Bodies in the standard stream (see the module doc for why not 100 000).
pub const FIRI_BODIES: usize = 10_000;

/// Levels per side of a body.
pub const FIRI_LEVELS: usize = 50;

/// Ticks per side of the venue's book behind the body.
const MODEL_LEVELS: usize = 400;

/// The mid, in øre (0.01 NOK).
const MID_ORE: i64 = 100_000_000;

/// Largest level size, lots of 0.00000001 (2 BTC).
const MAX_LOTS: u64 = 200_000_000;

/// BTCNOK as Firi lists it: tick 0.01, lot 0.00000001.
pub fn firi_btc_nok() -> Instrument {
    let spec = InstrumentSpec::spot(Venue::Firi, "BTCNOK", "BTC", "NOK", "0.01", "0.00000001");
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("the Firi BTCNOK fixture is a valid instrument");
    registry.get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// `bodies` Firi depth bodies for BTCNOK ([`firi_btc_nok`]), [`FIRI_LEVELS`] a side, the book
/// changing between them (see the module doc). Every body is a measured frame; `snapshot` is
/// the first body too (what the decoder saw before the measured polls).
pub fn firi_depth_stream(bodies: usize, seed: u64) -> VenueStream {
    let mut model = ModelBook::new(seed, MODEL_LEVELS, MAX_LOTS);
    let instrument = firi_btc_nok();
    // The top FIRI_LEVELS occupied levels of side `s` as (øre, lots), written by venue-sim's encoder.
    let side = |model: &ModelBook, s: usize| -> Vec<(i64, i64)> {
        let ore = |k: usize| if s == 0 { MID_ORE - k as i64 } else { MID_ORE + k as i64 };
        let occupied = (1..=model.depth()).filter(|&k| model.sides[s][k] != 0).take(FIRI_LEVELS);
        occupied.map(|k| (ore(k), model.sides[s][k] as i64)).collect()
    };
    let body_of = |model: &ModelBook| depth_body(&instrument, &side(model, 0), &side(model, 1)).into_bytes();
    let snapshot = body_of(&model);
    let mut frames = Vec::with_capacity(bodies);
    for _ in 0..bodies {
        let n = model.rng.random_range(6..=14);
        let _ = model.message(n);
        frames.push(body_of(&model));
    }
    VenueStream { instrument, snapshot, frames, first_measured: 0 }
}

/// The standard Firi stream: [`FIRI_BODIES`] bodies with [`crate::SEED`].
pub fn firi_standard_stream() -> VenueStream {
    firi_depth_stream(FIRI_BODIES, crate::SEED)
}

/// The straightforward serde stack on Firi bodies: `serde_json::Value` per body, the decimal
/// strings through the same exact `parse_scaled` (a level must have a positive price and size,
/// as our decoder requires), and the `BTreeMap` books replaced by each body's levels. Firi's body
/// names no market and carries no sequence, so there is nothing else to check.
#[derive(Debug, Clone, Default)]
pub struct FiriSerdeBaseline {
    /// Bids: price units → qty units.
    pub bids: BTreeMap<i64, i64>,
    /// Asks, likewise.
    pub asks: BTreeMap<i64, i64>,
    /// Bodies refused (must stay 0 on the generated stream).
    pub refused: u64,
    /// Bodies applied.
    pub books: u64,
}

impl FiriSerdeBaseline {
    /// Holding the stream's first body.
    pub fn synced(stream: &VenueStream) -> Self {
        let mut b = Self::default();
        b.on_body(&stream.snapshot, &stream.instrument);
        b
    }

    /// One side's levels into `book`; `false` if one is unreadable.
    fn side(levels: &serde_json::Value, book: &mut BTreeMap<i64, i64>, ps: u8, qs: u8) -> bool {
        let Some(levels) = levels.as_array() else { return false };
        for l in levels {
            let (Some(p), Some(q)) = (l[0].as_str(), l[1].as_str()) else { return false };
            match (parse_scaled(p, ps), parse_scaled(q, qs)) {
                (Ok(pu), Ok(qu)) if pu > 0 && qu > 0 => {
                    book.insert(pu, qu);
                }
                _ => return false,
            }
        }
        true
    }

    /// One depth body: the books become its levels (or stay, counted, if it is refused).
    pub fn on_body(&mut self, body: &[u8], instrument: &Instrument) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            self.refused += 1;
            return;
        };
        let (ps, qs) = (instrument.price_scale(), instrument.qty_scale());
        let (mut bids, mut asks) = (BTreeMap::new(), BTreeMap::new());
        if !Self::side(&v["bids"], &mut bids, ps, qs) || !Self::side(&v["asks"], &mut asks, ps, qs) {
            self.refused += 1;
            return;
        }
        (self.bids, self.asks) = (bids, asks);
        self.books += 1;
    }
}

/// A Firi decoder that has applied the stream's first body, and an engine book holding what
/// it emitted.
pub fn firi_synced(stream: &VenueStream) -> (Decoder, Book) {
    let (decoder, book) = synced_on_frame(Decoder::new(stream.instrument.clone()), stream);
    assert_eq!(decoder.counters().snapshots, 1, "the first body is a book");
    (decoder, book)
}

/// The baseline's measured path over Firi bodies. Not inlined (for callgrind).
#[inline(never)]
pub fn serde_firi(baseline: &mut FiriSerdeBaseline, instrument: &Instrument, bodies: &[Vec<u8>]) {
    for body in bodies {
        baseline.on_body(body, instrument);
    }
}

/// Checks that both paths took every body as a book (none refused) and ended with the same
/// books: all [`FIRI_LEVELS`] levels of both sides.
pub fn assert_same_firi_outcome(stream: &VenueStream) {
    let bodies = stream.measured();
    let (mut decoder, mut book) = firi_synced(stream);
    crate::feed_streams::decode_into_book(&mut decoder, &mut book, bodies);
    let c = decoder.counters();
    assert_eq!((c.snapshots, c.parse_errors.iter().sum::<u64>()), (bodies.len() as u64 + 1, 0));
    assert!(book.is_valid() && !book.is_crossed());
    let mut baseline = FiriSerdeBaseline::synced(stream);
    serde_firi(&mut baseline, &stream.instrument, bodies);
    assert_eq!((baseline.refused, baseline.books), (0, bodies.len() as u64 + 1));
    let ours = |side| book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect::<Vec<_>>();
    let theirs = |m: &BTreeMap<i64, i64>, rev: bool| {
        let level = |(p, q): (&i64, &i64)| (*p, *q);
        if rev { m.iter().rev().map(level).collect::<Vec<_>>() } else { m.iter().map(level).collect() }
    };
    assert_eq!(ours(Side::Buy), theirs(&baseline.bids, true));
    assert_eq!(ours(Side::Sell), theirs(&baseline.asks, false));
    assert_eq!(ours(Side::Sell).len(), FIRI_LEVELS, "every body is full");
}
