//! `bybit::Decoder` and its parser over the verbatim Bybit v5 samples and recorded traffic in
//! `testdata/bybit/` (sources in its README): exact values, replay with no gaps, an injected gap,
//! malformed and truncated frames, and random bytes. No sockets; fast.

use qt_core::{Book, EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Side};
use qt_core::{Price, Qty, Venue};
use qt_feed::VenueDecoder;
use qt_feed::bybit::Decoder;
use qt_feed::bybit::wire::{FrameParser, ParseError, Parsed};
use qt_test_support::{TestInstrument, xorshift};

fn instrument(id: u32, symbol: &str, tick: &str, lot: &str) -> Instrument {
    TestInstrument::spot(Venue::Bybit, symbol).tick(tick).lot(lot).build(id)
}

fn read(name: &str) -> String {
    qt_test_support::capture_text("bybit", name)
}

/// The recorded spot instruments (grids from the recording's own decimals).
fn spot_symbols() -> Vec<Instrument> {
    vec![instrument(0, "BTCUSDT", "0.1", "0.000001"), instrument(1, "ETHUSDT", "0.01", "0.00001")]
}

fn p(units: i64) -> Price {
    Price::from_units(units)
}

fn q(units: i64) -> Qty {
    Qty::from_units(units)
}

/// Replays `lines` and applies every record to one book per symbol.
fn replay<'a>(decoder: &mut Decoder, books: &mut [Book], lines: impl Iterator<Item = &'a str>) -> Vec<MarketEvent> {
    let mut all = Vec::new();
    for (n, line) in lines.enumerate() {
        decoder.on_frame(line.as_bytes(), Nanos(n as i64), &mut |ev| all.push(*ev));
    }
    for ev in &all {
        if matches!(ev.kind, EventKind::BookSnapshot | EventKind::BookDelta) {
            books[ev.instrument.0 as usize].apply(ev).expect("record applies");
        }
    }
    all
}

#[test]
fn doc_delta_sample_parses_to_exact_values() {
    let mut parser = FrameParser::new(&[instrument(0, "BTCUSDT", "0.01", "0.001")], 50);
    let mut out = Vec::new();
    let parsed = parser.parse_frame(read("depth_update.json").as_bytes(), Nanos(5), &mut out).expect("parses");
    assert_eq!(parsed, Parsed::Book { symbol: 0, snapshot: false, update: 177_400_507, seq: 66_544_703_342 });
    assert_eq!(out.len(), 12);
    let levels: Vec<(Side, Price, Qty)> = out.iter().map(|e| (e.side, e.price, e.qty)).collect();
    assert_eq!(levels[0], (Side::Buy, p(3_024_720), q(30_028)));
    assert_eq!(levels[4], (Side::Buy, p(3_024_000), q(0)));
    assert_eq!(levels[5], (Side::Sell, p(3_024_870), q(0)));
    assert_eq!(levels[11], (Side::Sell, p(3_025_250), q(4_591)));
    assert!(out.iter().all(|e| e.exchange_ns == Nanos(1_687_940_967_466_000_000) && e.local_ns == Nanos(5)));
    assert!(out.iter().all(|e| e.seq == 177_400_507 && e.kind == EventKind::BookDelta && e.flags == 0));
}

#[test]
fn doc_snapshot_sample_with_ellipsis_is_refused_and_parses_without_it() {
    let text = read("snapshot_ws_orderbook50.json.txt");
    let mut d = Decoder::new(&[instrument(0, "BTCUSDT", "0.01", "0.001")], 50);
    let mut out = Vec::new();
    d.on_frame(text.as_bytes(), Nanos(1), &mut |e| out.push(*e));
    assert_eq!(d.counters().parse_errors[ParseError::Json.reason_index()], 1);
    // Not a JSON frame starting with `{"topic":"`, so no symbol to resync; nothing emitted.
    assert!(out.is_empty());
    // Drop the doc's `...,` placeholders and the trailing comma one of them leaves before `]`.
    let fixed = text.replace("],\n            ...,\n        ]", "]\n        ]").replace("...,", "");
    d.on_frame(fixed.as_bytes(), Nanos(2), &mut |e| out.push(*e));
    assert_eq!(d.counters().snapshots, 1);
    assert!(d.sync(0).expect("symbol").is_synced());
    assert_eq!(out.first().map(|e| (e.kind, e.flags)), Some((EventKind::BookSnapshot, MarketEvent::CLEAR)));
    assert!(out.last().expect("records").is_batch_end());
}

#[test]
fn doc_trade_sample_parses_to_exact_values() {
    let mut d = Decoder::new(&[instrument(0, "BTCUSDT", "0.01", "0.001")], 50);
    let mut out = Vec::new();
    d.on_frame(read("trade.json").as_bytes(), Nanos(1), &mut |e| out.push(*e));
    assert_eq!(out.len(), 1);
    let t = out[0];
    assert_eq!((t.kind, t.side, t.price, t.qty), (EventKind::Trade, Side::Buy, p(1_657_850), q(1)));
    assert_eq!(
        (t.seq, t.exchange_ns, t.flags),
        (1_783_284_617, Nanos(1_672_304_486_865_000_000), MarketEvent::BATCH_END)
    );
    assert_eq!(d.stats().records, 1);
}

#[test]
fn ticker_sample_and_control_frames_are_counted_without_records() {
    let mut d = Decoder::new(&[instrument(0, "BTCUSDT", "0.01", "0.001")], 50);
    let mut out = Vec::new();
    d.on_frame(read("ticker_linear.json").as_bytes(), Nanos(1), &mut |e| out.push(*e));
    let control = read("control.jsonl");
    for line in control.lines() {
        d.on_frame(line.as_bytes(), Nanos(1), &mut |e| out.push(*e));
    }
    for pong in [
        r#"{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}"#,
        r#"{"req_id":"1","op":"pong","args":["1700000000000"],"conn_id":"x"}"#,
        r#"{"success":false,"ret_msg":"error:already subscribed,topic:orderbook.50.BTCUSDT","conn_id":"x","op":"subscribe"}"#,
    ] {
        d.on_frame(pong.as_bytes(), Nanos(1), &mut |e| out.push(*e));
    }
    let c = d.counters();
    assert!(out.is_empty());
    assert_eq!((c.tickers, c.control, c.pongs, c.control_failures), (1, 24 + 3, 2, 1));
    assert_eq!(c.parse_errors_total(), 0);
}

#[test]
fn spot_orderbook_capture_replays_with_no_gaps() {
    let symbols = spot_symbols();
    let mut d = Decoder::new(&symbols, 200);
    let mut books: Vec<Book> = symbols.iter().map(|i| Book::new(i.id(), 10_000)).collect();
    let text = read("orderbook_spot.jsonl");
    let all = replay(&mut d, &mut books, text.lines());
    let c = d.counters();
    assert_eq!(c.messages, 550);
    assert_eq!((c.gaps, c.parse_errors_total(), c.snapshots, c.resets, c.ignored_deltas), (0, 0, 2, 0, 0));
    assert_eq!(c.records, all.len() as u64);
    // The first record is the recording's first BTCUSDT bid, exactly.
    let first = all[0];
    assert_eq!(
        (first.kind, first.side, first.price, first.qty),
        (EventKind::BookSnapshot, Side::Buy, p(651_404), q(885_797))
    );
    assert_eq!(first.exchange_ns, Nanos(1_786_310_816_516_000_000));
    for (i, book) in books.iter().enumerate() {
        assert!(book.is_valid(), "symbol {i}");
        assert!(!book.is_crossed(), "symbol {i}");
        assert!(book.depth(Side::Buy) > 100 && book.depth(Side::Sell) > 100, "symbol {i}");
        assert!(d.sync(i).expect("symbol").is_synced());
    }
}

#[test]
fn a_removed_delta_is_a_gap_that_invalidates_and_asks_for_a_resubscription() {
    let symbols = spot_symbols();
    let mut d = Decoder::new(&symbols, 200);
    let mut books: Vec<Book> = symbols.iter().map(|i| Book::new(i.id(), 10_000)).collect();
    let text = read("orderbook_spot.jsonl");
    // Drop the 20th BTCUSDT delta.
    let mut btc = 0;
    let lines = text.lines().filter(|l| {
        if l.contains("\"orderbook.200.BTCUSDT\"") && l.contains("\"delta\"") {
            btc += 1;
            return btc != 20;
        }
        true
    });
    replay(&mut d, &mut books, lines);
    let c = d.counters();
    assert_eq!((c.gaps, c.resyncs, c.parse_errors_total()), (1, 1, 0));
    // The rest of BTCUSDT's deltas wait for a snapshot that never comes in a replay.
    assert!(c.ignored_deltas > 200);
    assert!(!books[0].is_valid() && books[1].is_valid());
    assert!(!d.sync(0).expect("btc").is_synced());
    assert!(d.take_resubscribe(0) && !d.take_resubscribe(0) && !d.take_resubscribe(1));
}

#[test]
fn trade_captures_parse_every_trade() {
    let spot = read("publicTrade_spot.jsonl");
    let mut d = Decoder::new(&spot_symbols(), 200);
    let mut out = Vec::new();
    for line in spot.lines() {
        d.on_frame(line.as_bytes(), Nanos(1), &mut |e| out.push(*e));
    }
    assert_eq!(d.counters().parse_errors_total(), 0);
    assert_eq!(out.len(), 20);
    // First line: ETHUSDT Sell 0.04537 @ 1923.28, seq 178477362706.
    let t = out[0];
    assert_eq!(
        (t.instrument, t.side, t.price, t.qty, t.seq),
        (InstrumentId(1), Side::Sell, p(192_328), q(4_537), 178_477_362_706)
    );

    let linear = read("publicTrade_linear.jsonl");
    let symbols = vec![
        instrument(0, "BTCUSDT", "0.01", "0.001"),
        instrument(1, "ETHUSDT", "0.01", "0.01"),
        instrument(2, "SOLUSDT", "0.001", "0.1"),
        instrument(3, "DOGEUSDT", "0.00001", "1"),
    ];
    let mut d = Decoder::new(&symbols, 50);
    let mut out = Vec::new();
    for line in linear.lines() {
        d.on_frame(line.as_bytes(), Nanos(1), &mut |e| out.push(*e));
    }
    let c = d.counters();
    assert_eq!((c.messages, c.parse_errors_total()), (102, 0));
    assert_eq!(out.len(), 56 + 23 + 165 + 83);
    assert!(out.iter().all(|e| e.kind == EventKind::Trade && e.is_batch_end()));
    assert_eq!((out[0].price, out[0].qty, out[0].side, out[0].seq), (p(6_511_420), q(4), Side::Sell, 753_843_954_913));
}

#[test]
fn truncated_and_malformed_frames_are_counted_and_resync_the_book() {
    let symbols = spot_symbols();
    let mut d = Decoder::new(&symbols, 200);
    let text = read("orderbook_spot.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    d.on_frame(lines[0].as_bytes(), Nanos(1), &mut |e| out.push(*e));
    assert!(d.sync(0).expect("btc").is_synced());
    // A truncated BTCUSDT book push: its topic is still readable, so the book resyncs now.
    let cut = &lines[2].as_bytes()[..lines[2].len() / 2];
    out.clear();
    d.on_frame(cut, Nanos(2), &mut |e| out.push(*e));
    assert_eq!(d.counters().parse_errors[ParseError::Json.reason_index()], 1);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].kind, out[0].flags), (EventKind::BookSnapshot, MarketEvent::CLEAR));
    assert!(!d.sync(0).expect("btc").is_synced() && d.take_resubscribe(0));
    let bad = [
        &b""[..],
        b"[]",
        b"{}",
        b"null",
        b"{\"topic\":\"orderbook.200.XRPUSDT\",\"ts\":1,\"type\":\"snapshot\",\"data\":{}}",
        b"{\"topic\":\"orderbook.200.BTCUSDT\",\"ts\":1,\"type\":\"snapshot\",\"data\":{\"s\":\"ETHUSDT\",\"b\":[],\"a\":[],\"u\":1,\"seq\":1}}",
        b"{\"topic\":\"orderbook.200.BTCUSDT\",\"ts\":1,\"type\":\"snapshot\",\"data\":{\"s\":\"BTCUSDT\",\"b\":[[\"1.05\",\"1\"]],\"a\":[],\"u\":1,\"seq\":1}}",
        b"{\"topic\":\"orderbook.200.BTCUSDT\",\"ts\":1,\"type\":\"snapshot\",\"data\":{\"s\":\"BTCUSDT\",\"b\":[[\"1\"]],\"a\":[],\"u\":1,\"seq\":1}}",
        b"{\"topic\":\"orderbook.200.BTCUSDT\",\"ts\":1,\"type\":\"later\",\"data\":{}}",
        b"{\"topic\":\"orderbook.200.BTCUSDT\",\"ts\":-1,\"type\":\"delta\",\"data\":{}}",
        b"{\"topic\":\"publicTrade.BTCUSDT\",\"ts\":1,\"type\":\"snapshot\",\"data\":[{\"s\":\"BTCUSDT\",\"S\":\"Up\",\"p\":\"1\",\"v\":\"1\",\"T\":1}]}",
        b"{\"topic\":\"publicTrade.BTCUSDT\",\"ts\":1,\"type\":\"snapshot\",\"data\":[1]}",
        b"{\"op\":7}",
    ];
    for (i, frame) in bad.iter().enumerate() {
        let before = d.counters().parse_errors_total();
        d.on_frame(frame, Nanos(3), &mut |e| out.push(*e));
        assert_eq!(d.counters().parse_errors_total(), before + 1, "frame {i}");
    }
    // Every prefix of every kind of recorded frame: no panic, never a record from a refused one.
    for line in lines.iter().take(5).chain(read("publicTrade_spot.jsonl").lines().take(2).collect::<Vec<_>>().iter()) {
        for cut in 0..line.len() {
            d.on_frame(&line.as_bytes()[..cut], Nanos(4), &mut |_| {});
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let symbols = spot_symbols();
    let mut d = Decoder::new(&symbols, 200);
    let seed_frames: Vec<String> = read("orderbook_spot.jsonl").lines().take(3).map(str::to_owned).collect();
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let mut frame = Vec::with_capacity(4096);
    for round in 0..3000 {
        frame.clear();
        if round % 2 == 0 {
            let len = (next() % 300) as usize;
            frame.extend((0..len).map(|_| next() as u8));
        } else {
            // A recorded frame with a few bytes flipped.
            frame.extend_from_slice(seed_frames[round % 3].as_bytes());
            for _ in 0..(1 + next() % 4) {
                let at = (next() as usize) % frame.len();
                frame[at] = next() as u8;
            }
        }
        d.on_frame(&frame, Nanos(round as i64), &mut |_| {});
    }
    assert_eq!(d.counters().messages, 3000);
    assert!(d.counters().parse_errors_total() > 1500);
}

/// The capture replayed with in-sequence deltas emitted while parsed (the default) and with
/// every delta staged: the same records, the same books.
#[test]
fn direct_and_staged_paths_emit_the_same_records() {
    let symbols = spot_symbols();
    let text = read("orderbook_spot.jsonl");
    let run = |direct: bool| {
        let mut d = Decoder::new(&symbols, 200);
        d.set_direct(direct);
        let mut books: Vec<Book> = symbols.iter().map(|i| Book::new(i.id(), 10_000)).collect();
        let all = replay(&mut d, &mut books, text.lines());
        assert_eq!(d.counters().records, all.len() as u64);
        (all, books)
    };
    let ((direct, direct_books), (staged, staged_books)) = (run(true), run(false));
    assert!(direct.len() > 2000, "{}", direct.len());
    assert_eq!(direct, staged);
    for (a, b) in direct_books.iter().zip(&staged_books) {
        assert!(
            a.is_valid()
                && a.levels(Side::Buy).eq(b.levels(Side::Buy))
                && a.levels(Side::Sell).eq(b.levels(Side::Sell))
        );
    }
}

/// An in-sequence delta whose third level does not parse: the direct path has emitted the two
/// before it (no `BATCH_END`), then the invalidation; staged, only the invalidation. Either way
/// the book is invalid and a resubscription is asked for.
#[test]
fn a_delta_refused_half_way_invalidates_the_book_on_both_paths() {
    let symbols = spot_symbols();
    let text = read("orderbook_spot.jsonl");
    let mut emitted = Vec::new();
    for direct in [true, false] {
        let mut d = Decoder::new(&symbols, 200);
        d.set_direct(direct);
        let mut books: Vec<Book> = symbols.iter().map(|i| Book::new(i.id(), 10_000)).collect();
        replay(&mut d, &mut books, text.lines());
        let u = d.sync(0).and_then(|s| s.update_id()).expect("btc synced");
        let frame = format!(
            r#"{{"topic":"orderbook.200.BTCUSDT","ts":1786310826618,"type":"delta","data":{{"s":"BTCUSDT","b":[["65140.4","1"],["65140.3","2"],["6514x","1"]],"a":[],"u":{},"seq":1}},"cts":1}}"#,
            u + 1
        );
        let out = replay(&mut d, &mut books, std::iter::once(frame.as_str()));
        assert_eq!(d.counters().parse_errors_total(), 1, "direct {direct}");
        assert!(out.iter().all(|e| !e.is_batch_end()), "direct {direct}: {out:?}");
        let last = out.last().expect("the invalidation");
        assert!(last.is_clear() && last.kind == EventKind::BookSnapshot);
        assert!(!books[0].is_valid() && books[1].is_valid(), "direct {direct}");
        assert!(!d.sync(0).expect("btc").is_synced() && d.take_resubscribe(0));
        emitted.push(out.len());
    }
    assert_eq!(emitted, [3, 1]);
}

/// Bybit's decoder is the kit's shell, whose live half follows the sync's kind: a broken book
/// wants a resubscription, never a REST snapshot, and a REST body is refused.
#[test]
fn a_broken_book_wants_a_resubscription_and_never_a_rest_snapshot() {
    use qt_feed::kit::live::LiveDecoder;
    let symbols = spot_symbols();
    let mut d = Decoder::new(&symbols, 200);
    let text = read("orderbook_spot.jsonl");
    let mut btc = 0;
    for (n, line) in text.lines().enumerate() {
        if line.contains("\"orderbook.200.BTCUSDT\"") && line.contains("\"delta\"") {
            btc += 1;
            if btc == 20 {
                continue;
            }
        }
        d.on_frame(line.as_bytes(), Nanos(n as i64), &mut |_| {});
    }
    assert!(!LiveDecoder::is_synced(&d, 0) && LiveDecoder::is_synced(&d, 1));
    assert!(LiveDecoder::wants_resubscribe(&d, 0) && !LiveDecoder::wants_resubscribe(&d, 1));
    assert_eq!(LiveDecoder::take_snapshot_request(&mut d, 0), None);
    assert!(!VenueDecoder::wants_snapshot(&d, 0));
    assert!(!d.on_snapshot_body(0, b"{\"bids\":[],\"asks\":[]}", Nanos(0), &mut |_| panic!("no record")));
    assert!(LiveDecoder::take_resubscribe(&mut d, 0) && !LiveDecoder::wants_resubscribe(&d, 0));
}

/// A symbol switched off through the shell's live half: its book is invalidated once, its pushes
/// still in flight are dropped and it is not resubscribed; the other symbol goes on. (Bybit's
/// own decoder before the shared shell had no such half: `set_active` did nothing, the pushes
/// went on being applied.)
#[test]
fn a_symbol_switched_off_drops_its_pushes_and_wants_no_resubscription() {
    use qt_feed::kit::live::LiveDecoder;
    let symbols = spot_symbols();
    let mut d = Decoder::new(&symbols, 200);
    let mut books: Vec<Book> = symbols.iter().map(|i| Book::new(i.id(), 10_000)).collect();
    let text = read("orderbook_spot.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let (head, tail) = lines.split_at(lines.len() / 2);
    replay(&mut d, &mut books, head.iter().copied());
    assert!(d.is_synced(0) && d.is_synced(1));
    let mut cleared = Vec::new();
    LiveDecoder::set_active(&mut d, 0, false, Nanos(0), &mut |ev| cleared.push(*ev));
    assert_eq!(cleared.len(), 1);
    assert_eq!((cleared[0].instrument, cleared[0].flags), (InstrumentId(0), MarketEvent::CLEAR));
    let messages = d.counters().messages;
    let all = replay(&mut d, &mut books, tail.iter().copied());
    assert!(tail.iter().any(|l| l.contains("\"orderbook.200.BTCUSDT\"")), "the tail has BTCUSDT pushes");
    assert!(all.iter().all(|ev| ev.instrument != InstrumentId(0)), "a switched-off symbol's push went out");
    assert!(all.iter().any(|ev| ev.instrument == InstrumentId(1)));
    assert_eq!(d.counters().messages, messages + tail.len() as u64);
    assert!(!d.is_synced(0) && d.is_synced(1) && books[1].is_valid());
    assert!(!LiveDecoder::wants_resubscribe(&d, 0) && !LiveDecoder::take_resubscribe(&mut d, 0));
    assert_eq!(d.counters().parse_errors_total(), 0);
}
