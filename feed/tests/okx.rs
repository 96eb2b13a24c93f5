//! OKX v5 decoder: official checksum vectors, the recorded `books`/`trades` capture, the doc
//! samples, corruption, gaps, malformed input, a shadow-book property test and a zero-allocation check.

use proptest::prelude::*;
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Side, Venue};
use qt_feed::decoder::{ChecksumVerdict, VenueDecoder};
use qt_feed::kit::checksum_book::Level;
use qt_feed::okx::rules::okx_checksum;
use qt_feed::okx::{BOOK_DEPTH, Decoder};
use qt_test_support::{CountingAllocator, TestInstrument, allocations, xorshift};
use std::collections::BTreeMap;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn instrument(id: u32, symbol: &str, tick: &str, lot: &str) -> Instrument {
    TestInstrument::spot(Venue::Okx, symbol).tick(tick).lot(lot).assets("B", "Q").build(id)
}

/// The three instruments of the 2022 capture, at the decimals their strings use.
fn capture_symbols() -> Vec<Instrument> {
    vec![
        instrument(1, "BTC-USDT", "0.1", "0.00000001"),
        instrument(2, "UNI-USD-SWAP", "0.001", "1"),
        instrument(3, "BTC-USD-220527", "0.1", "1"),
    ]
}

fn read(name: &str) -> String {
    qt_test_support::capture_text("okx", name)
}

fn feed(dec: &mut Decoder, frame: &str) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    dec.on_frame(frame.as_bytes(), Nanos(7), &mut |e| out.push(*e));
    out
}

fn lvl(px: &str, sz: &str) -> Level {
    Level::new(0, 0, px.as_bytes(), sz.as_bytes()).unwrap()
}

fn is_invalidation(e: &MarketEvent) -> bool {
    e.kind == EventKind::BookSnapshot && e.is_clear() && !e.is_batch_end() && e.qty.units() == 0
}

#[test]
fn official_checksum_vectors() {
    // testdata/okx/sign_example.txt: check strings from the OKX docs, values from OKX's v3 doc.
    let bids = [lvl("3366.1", "7"), lvl("3366", "6")];
    let asks = [lvl("3366.8", "9"), lvl("3368", "8")];
    assert_eq!(okx_checksum(&bids, &asks), -1_881_014_294);
    let bids = [lvl("3366.1", "7")];
    let asks = [lvl("3366.8", "9"), lvl("3368", "8"), lvl("3372", "8")];
    assert_eq!(okx_checksum(&bids, &asks), 831_078_360);
    // One tick off, and one size off, both fail.
    assert_ne!(okx_checksum(&[lvl("3366.2", "7")], &asks), 831_078_360);
    assert_ne!(okx_checksum(&[lvl("3366.1", "8")], &asks), 831_078_360);
}

#[test]
fn capture_replays_with_every_checksum_matching() {
    let mut dec = Decoder::new(&capture_symbols());
    let mut records = 0u64;
    for line in read("control.jsonl").lines() {
        assert!(feed(&mut dec, line).is_empty());
    }
    for line in read("books.jsonl").lines() {
        let out = feed(&mut dec, line);
        assert_eq!(dec.last_checksum(), ChecksumVerdict::Match, "{line:.120}");
        assert!(out.last().is_some_and(MarketEvent::is_batch_end));
        records += out.len() as u64;
    }
    for line in read("trades.jsonl").lines() {
        let out = feed(&mut dec, line);
        assert!(out.iter().all(|e| e.kind == EventKind::Trade));
        records += out.len() as u64;
    }
    let c = dec.counters();
    // captures/README.md: 290 `books` messages, 290 checksums verified, 0 mismatches.
    assert_eq!(c.stats.checksum_ok, 290);
    assert_eq!(c.stats.checksum_failed, 0);
    assert_eq!(c.stats.gaps, 0);
    assert_eq!(c.stats.parse_errors, 0);
    assert_eq!(c.stats.resyncs, 0);
    assert_eq!(c.control, 9);
    assert_eq!(c.stats.messages, 9 + 290 + 74);
    assert_eq!(c.stats.records, records);
    for i in 0..3 {
        assert!(dec.is_live(i) && !dec.wants_resubscribe(i));
        let (bids, asks) = dec.book_levels(i).unwrap();
        assert!(bids.get(0).unwrap().price < asks.get(0).unwrap().price, "book {i} crossed");
        assert!(bids.len() <= BOOK_DEPTH && asks.len() <= BOOK_DEPTH);
    }
}

#[test]
fn doc_snapshot_sample_parses_exactly_and_its_illustrative_checksum_is_refused() {
    let mut dec = Decoder::new(&[instrument(9, "BTC-USDT", "0.01", "1")]);
    let out = feed(&mut dec, &read("snapshot_ws_books.json"));
    // NOTES: the sample's checksum -855196043 does not match its own levels (-2102840145).
    assert_eq!(dec.last_checksum(), ChecksumVerdict::Mismatch);
    assert_eq!(out.len(), 1);
    assert!(is_invalidation(&out[0]));
    assert!(dec.wants_resubscribe(0));
    // With the checksum marked "not provided" the sample is applied; our checksum of the
    // resulting book is the value NOTES computed.
    let text = read("snapshot_ws_books.json").replace("-855196043", "0");
    let out = feed(&mut dec, &text);
    assert_eq!(out.len(), 16);
    assert!(out[0].is_clear() && out[15].is_batch_end());
    assert!(out.iter().all(|e| e.kind == EventKind::BookSnapshot && e.seq == 123_456 && e.prev_seq == 0));
    assert_eq!(out[0].exchange_ns, Nanos(1_597_026_383_085_000_000));
    assert_eq!((out[0].side, out[0].price.units(), out[0].qty.units()), (Side::Buy, 847_697, 256));
    assert_eq!((out[7].side, out[7].price.units(), out[7].qty.units()), (Side::Buy, 844_600, 95));
    assert_eq!((out[8].side, out[8].price.units(), out[8].qty.units()), (Side::Sell, 847_698, 415));
    assert_eq!((out[9].price.units(), out[9].qty.units()), (847_700, 7));
    let (bids, asks) = dec.book_levels(0).unwrap();
    assert_eq!(okx_checksum(bids.iter(), asks.iter()), -2_102_840_145);
    assert_eq!(dec.counters().checksum_absent, 1);
    assert!(dec.is_live(0));

    // The update sample chains (prevSeqId 123456 = the snapshot's seqId); same sizes, so the
    // book is unchanged.
    let update = read("depth_update.json").replace("-855196043", "0");
    let out = feed(&mut dec, &update);
    assert_eq!(out.len(), 16);
    assert!(out.iter().all(|e| e.kind == EventKind::BookDelta && e.seq == 123_457 && e.prev_seq == 123_456));
    assert_eq!(dec.stats().gaps, 0);
    // Replayed again it no longer chains: a gap.
    let out = feed(&mut dec, &update);
    assert_eq!(dec.stats().gaps, 1);
    assert!(out.len() == 1 && is_invalidation(&out[0]));
}

#[test]
fn doc_bbo_and_trade_samples() {
    let mut dec =
        Decoder::new(&[instrument(4, "BCH-USDT-SWAP", "0.01", "1"), instrument(5, "BTC-USDT", "0.1", "0.00000001")]);
    let out = feed(&mut dec, &read("bbo_tbt.json"));
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].kind, out[0].side, out[0].price.units(), out[0].qty.units()),
        (EventKind::BestBidOffer, Side::Buy, 11_105, 57_745)
    );
    assert_eq!((out[1].side, out[1].price.units(), out[1].qty.units()), (Side::Sell, 11_106, 55_154));
    assert!(!out[0].is_batch_end() && out[1].is_batch_end());
    assert_eq!(out[1].seq, 363_996_337);
    assert_eq!(out[1].exchange_ns, Nanos(1_670_324_386_802_000_000));
    assert_eq!(out[0].instrument, InstrumentId(4));

    let out = feed(&mut dec, &read("trade.json"));
    assert_eq!(out.len(), 1);
    let t = out[0];
    assert_eq!((t.kind, t.side, t.price.units(), t.qty.units()), (EventKind::Trade, Side::Buy, 422_199, 12_060_306));
    assert_eq!((t.seq, t.exchange_ns, t.instrument), (130_639_474, Nanos(1_630_048_897_897_000_000), InstrumentId(5)));
    assert!(t.is_batch_end());
    assert_eq!(dec.stats().parse_errors, 0);
}

#[test]
fn corrupted_update_fails_the_checksum_and_invalidates() {
    let books = read("books.jsonl");
    let lines: Vec<&str> = books.lines().collect();
    // The first `update` of BTC-USDT with a bids level; change one size by one digit.
    let (at, line) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("\"BTC-USDT\"") && l.contains("\"update\"") && !l.contains("\"bids\":[]"))
        .unwrap();
    let bids_at = line.find("\"bids\":[[\"").unwrap() + 10;
    let size_start = bids_at + line[bids_at..].find("\",\"").unwrap() + 3;
    let mut bad = line.to_string().into_bytes();
    bad[size_start] = if bad[size_start] == b'1' { b'2' } else { b'1' };
    let bad = String::from_utf8(bad).unwrap();

    let mut dec = Decoder::new(&capture_symbols());
    for l in &lines[..at] {
        feed(&mut dec, l);
    }
    assert!(dec.is_live(0));
    let out = feed(&mut dec, &bad);
    assert_eq!(dec.last_checksum(), ChecksumVerdict::Mismatch);
    assert_eq!(dec.stats().checksum_failed, 1);
    assert!(out.len() == 1 && is_invalidation(&out[0]) && out[0].instrument == InstrumentId(1));
    assert!(!dec.is_live(0) && dec.wants_resubscribe(0));
    assert!(dec.take_resubscribe(0));
    assert!(!dec.wants_resubscribe(0));
    // Later updates for it are ignored until a snapshot; the other books carry on.
    let before = dec.counters().ignored_updates;
    for l in &lines[at + 1..] {
        feed(&mut dec, l);
    }
    assert!(dec.counters().ignored_updates > before);
    assert_eq!(dec.stats().checksum_failed, 1);
    assert!(dec.is_live(1) && dec.is_live(2));
    // The resubscription's snapshot (here: the recorded one) makes the book valid again.
    let snapshot = lines.iter().find(|l| l.contains("\"BTC-USDT\"") && l.contains("\"snapshot\"")).unwrap();
    let out = feed(&mut dec, snapshot);
    assert!(dec.is_live(0) && out[0].is_clear() && out.last().unwrap().is_batch_end());
}

fn frame(action: &str, prev: i64, seq: i64, bids: &[(u32, u32)], asks: &[(u32, u32)]) -> String {
    let side = |l: &[(u32, u32)]| {
        l.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\",\"0\",\"1\"]")).collect::<Vec<_>>().join(",")
    };
    format!(
        "{{\"arg\":{{\"channel\":\"books\",\"instId\":\"X-Y\"}},\"action\":\"{action}\",\"data\":[{{\"asks\":[{}],\"bids\":[{}],\"ts\":\"1\",\"checksum\":0,\"prevSeqId\":{prev},\"seqId\":{seq}}}]}}",
        side(asks),
        side(bids)
    )
}

#[test]
fn sequence_rules_heartbeat_reset_and_gap() {
    let mut dec = Decoder::new(&[instrument(1, "X-Y", "1", "1")]);
    feed(&mut dec, &frame("snapshot", -1, 10, &[(99, 1)], &[(101, 1)]));
    assert!(dec.is_live(0));
    // Heartbeat: no change, prevSeqId == seqId.
    assert!(feed(&mut dec, &frame("update", 10, 10, &[], &[])).is_empty());
    feed(&mut dec, &frame("update", 10, 11, &[(100, 2)], &[]));
    // Maintenance reset: seqId < prevSeqId once, then normal.
    feed(&mut dec, &frame("update", 11, 3, &[(99, 0)], &[]));
    feed(&mut dec, &frame("update", 3, 4, &[], &[(102, 5)]));
    assert_eq!(dec.stats().gaps, 0);
    let (bids, asks) = dec.book_levels(0).unwrap();
    assert_eq!(bids.iter().map(|l| (l.price, l.qty)).collect::<Vec<_>>(), [(100, 2)]);
    assert_eq!(asks.iter().map(|l| (l.price, l.qty)).collect::<Vec<_>>(), [(101, 1), (102, 5)]);
    // prevSeqId 5 != last seqId 4: a gap.
    let out = feed(&mut dec, &frame("update", 5, 6, &[(100, 3)], &[]));
    assert_eq!(dec.stats().gaps, 1);
    assert_eq!(dec.book_gaps(0), Some(1), "counted on the book for the live run summary");
    assert!(out.len() == 1 && is_invalidation(&out[0]));
    assert!(dec.wants_resubscribe(0) && !dec.is_live(0));
    assert_eq!(dec.stats().resyncs, 1);
}

/// Issue #14 (the OKX side of it): with a side holding `BOOK_DEPTH` levels, an update that
/// inserts a better level and then deletes one further down keeps every other level, as the
/// other order does. Trimmed after each level, the insert dropped the worst level and the
/// delete left the side one short for good (invisible to the top-25 checksum until the book
/// drained that far).
#[test]
fn a_full_side_keeps_its_worst_level_through_an_insert_then_a_delete() {
    let depth = BOOK_DEPTH as u32;
    let bids: Vec<(u32, u32)> = (1..=depth).rev().map(|p| (p, 1)).collect();
    let asks: Vec<(u32, u32)> = (depth + 10..2 * depth + 10).map(|p| (p, 1)).collect();
    for (bid_update, ask_update) in [
        ([(depth + 1, 2), (200, 0)], [(depth + 9, 2), (depth + 200, 0)]),
        ([(200, 0), (depth + 1, 2)], [(depth + 200, 0), (depth + 9, 2)]),
    ] {
        let mut dec = Decoder::new(&[instrument(1, "X-Y", "1", "1")]);
        feed(&mut dec, &frame("snapshot", -1, 1, &bids, &asks));
        feed(&mut dec, &frame("update", 1, 2, &bid_update, &ask_update));
        assert!(dec.is_live(0));
        let (b, a) = dec.book_levels(0).unwrap();
        let what = format!("{bid_update:?} {ask_update:?}");
        assert_eq!((b.len(), a.len()), (BOOK_DEPTH, BOOK_DEPTH), "{what}");
        assert_eq!(b.iter().next_back().map(|l| l.price), Some(1), "{what}: the worst bid stays");
        assert_eq!(
            a.iter().next_back().map(|l| l.price),
            Some(i64::from(2 * depth + 9)),
            "{what}: the worst ask stays"
        );
        assert_eq!(b.get(0).map(|l| (l.price, l.qty)), Some((i64::from(depth + 1), 2)), "{what}");
        assert!(b.iter().all(|l| l.price != 200) && a.iter().all(|l| l.price != i64::from(depth + 200)), "{what}");
    }
}

#[test]
fn malformed_frames_are_counted_not_panicked_on() {
    let mut dec = Decoder::new(&capture_symbols());
    let books = read("books.jsonl");
    let first = books.lines().next().unwrap();
    feed(&mut dec, first);
    assert!(dec.is_live(2));
    let bad = [
        "",
        "{",
        "[]",
        "null",
        "{\"arg\":1}",
        "{\"arg\":{\"channel\":\"books\",\"instId\":\"NOPE\"},\"action\":\"update\",\"data\":[]}",
        "{\"arg\":{\"channel\":\"candle1m\",\"instId\":\"BTC-USDT\"},\"data\":[]}",
        "{\"arg\":{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},\"data\":[{\"px\":\"1\"}]}",
        "{\"arg\":{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},\"data\":[{\"instId\":\"BTC-USDT\",\"tradeId\":\"1\",\"px\":\"1.23\",\"sz\":\"1\",\"side\":\"buy\",\"ts\":\"1\"}]}",
        "{\"arg\":{\"channel\":\"bbo-tbt\",\"instId\":\"BTC-USDT\"},\"data\":[{\"asks\":[[1,2]],\"bids\":[],\"ts\":\"1\"}]}",
        "{\"arg\":{\"channel\":\"books\",\"instId\":\"BTC-USD-220527\"},\"action\":\"update\",\"data\":[{\"asks\":[[\"-1\",\"1\"]],\"bids\":[],\"ts\":\"1\"}]}",
    ];
    for f in bad {
        assert!(feed(&mut dec, f).iter().all(is_invalidation), "{f}");
    }
    assert_eq!(dec.stats().parse_errors, bad.len() as u64);
    // The unreadable BTC-USD-220527 `books` frame invalidated that book.
    assert!(!dec.is_live(2) && dec.wants_resubscribe(2));
    // A truncated `books` frame is recognised as that symbol's and invalidates it too.
    feed(&mut dec, first);
    let out = feed(&mut dec, &books.lines().nth(3).unwrap()[..200]);
    assert!(out.iter().any(is_invalidation));
    // Control frames.
    assert!(feed(&mut dec, "pong").is_empty());
    assert!(feed(&mut dec, "{\"event\":\"error\",\"code\":\"60012\",\"msg\":\"Invalid request\"}").is_empty());
    assert_eq!(dec.counters().control_errors, 1);
    assert_eq!(dec.venue(), Venue::Okx);
}

#[test]
fn on_frame_allocates_nothing_after_warm_up() {
    let mut dec = Decoder::new(&capture_symbols());
    let frames: Vec<String> = ["control.jsonl", "books.jsonl", "trades.jsonl"]
        .iter()
        .flat_map(|f| read(f).lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let mut records = 0u64;
    let mut sink = |_: &MarketEvent| records += 1;
    for f in &frames {
        dec.on_frame(f.as_bytes(), Nanos(1), &mut sink);
    }
    let before = allocations();
    for f in &frames {
        dec.on_frame(f.as_bytes(), Nanos(2), &mut sink);
    }
    assert_eq!(allocations() - before, 0, "allocations over {} warm frames", frames.len());
    assert_eq!(dec.stats().checksum_failed, 0);
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut dec = Decoder::new(&capture_symbols());
    let books = read("books.jsonl");
    let lines: Vec<&[u8]> = books.lines().map(str::as_bytes).collect();
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    let mut buf = Vec::new();
    for _ in 0..3000 {
        let src = lines[(next() % lines.len() as u64) as usize];
        buf.clear();
        buf.extend_from_slice(&src[..src.len().min(600)]);
        match next() % 4 {
            0 => buf.truncate((next() % (buf.len() as u64 + 1)) as usize),
            1 => {
                for _ in 0..4 {
                    let i = (next() % buf.len() as u64) as usize;
                    buf[i] = next() as u8;
                }
            }
            2 => {
                buf.clear();
                buf.extend((0..next() % 64).map(|_| next() as u8));
            }
            _ => {
                let i = (next() % buf.len() as u64) as usize;
                buf[i] = b"0123456789.-\":,[]{}"[(next() % 19) as usize];
            }
        }
        dec.on_frame(&buf, Nanos(0), &mut |_| {});
    }
    assert_eq!(dec.stats().messages, 3000);
}

/// `(price, size, is_bid)` as generated.
type RawLevel = (u32, u32, bool);

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random snapshot + updates through the decoder equal a `BTreeMap` reference after every
    /// message (bounded at `BOOK_DEPTH`: after each whole message the worst levels beyond it drop).
    #[test]
    fn shadow_book_matches_btreemap(
        snapshot in prop::collection::vec((1u32..600, 1u32..50, any::<bool>()), 0..60),
        updates in prop::collection::vec(prop::collection::vec((1u32..600, 0u32..5, any::<bool>()), 0..12), 1..40),
    ) {
        let mut dec = Decoder::new(&[instrument(1, "X-Y", "1", "1")]);
        let mut bids: BTreeMap<u32, u32> = BTreeMap::new();
        let mut asks: BTreeMap<u32, u32> = BTreeMap::new();
        let split = |levels: &[(u32, u32, bool)]| {
            let (b, a): (Vec<&RawLevel>, Vec<&RawLevel>) = levels.iter().partition(|l| l.2);
            (b.iter().map(|l| (l.0, l.1)).collect::<Vec<_>>(), a.iter().map(|l| (l.0, l.1)).collect::<Vec<_>>())
        };
        let (b, a) = split(&snapshot);
        // A snapshot lists each price once.
        let b: Vec<_> = b.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect();
        let a: Vec<_> = a.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect();
        bids.extend(b.iter().copied());
        asks.extend(a.iter().copied());
        feed(&mut dec, &frame("snapshot", -1, 1, &b, &a));
        for (n, update) in updates.iter().enumerate() {
            let (b, a) = split(update);
            for (book, levels, best_high) in [(&mut bids, &b, true), (&mut asks, &a, false)] {
                for &(p, q) in levels {
                    if q == 0 { book.remove(&p); } else { book.insert(p, q); }
                }
                // The whole message, then the bound.
                while book.len() > BOOK_DEPTH {
                    let worst = if best_high { *book.keys().next().unwrap() } else { *book.keys().next_back().unwrap() };
                    book.remove(&worst);
                }
            }
            let seq = n as i64 + 1;
            feed(&mut dec, &frame("update", seq, seq + 1, &b, &a));
            let (sb, sa) = dec.book_levels(0).unwrap();
            let got_b: Vec<(i64, i64)> = sb.iter().map(|l| (l.price, l.qty)).collect();
            let got_a: Vec<(i64, i64)> = sa.iter().map(|l| (l.price, l.qty)).collect();
            let want_b: Vec<(i64, i64)> = bids.iter().rev().map(|(p, q)| (i64::from(*p), i64::from(*q))).collect();
            let want_a: Vec<(i64, i64)> = asks.iter().map(|(p, q)| (i64::from(*p), i64::from(*q))).collect();
            prop_assert_eq!(got_b, want_b);
            prop_assert_eq!(got_a, want_a);
        }
        prop_assert_eq!(dec.stats().gaps, 0);
        prop_assert_eq!(dec.stats().parse_errors, 0);
    }
}
