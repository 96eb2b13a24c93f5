//! `binance_usdm::Decoder` over the recorded USD-M traffic and the doc sample in
//! `testdata/binance_usdm/` (sources in its README): the depth capture replays through the
//! futures rule (`U <= lastUpdateId <= u`, then `pu == previous u`) with no gaps and ends on the
//! book an independent replay computed; removing one event is a gap; bad frames are counted.

use qt_core::{Book, EventKind, Instrument, InstrumentKind, MarketEvent, Nanos, Side};
use qt_core::{Price, Qty, Venue};
use qt_feed::VenueDecoder;
use qt_feed::binance_usdm::Decoder;
use qt_feed::binance_usdm::rules::SyncState;
use qt_feed::binance_usdm::wire::{FrameParser, Parsed};
use qt_test_support::TestInstrument;

const SYMBOLS: [(&str, &str); 4] =
    [("SUSHIUSDT", "0.0001"), ("AKROUSDT", "0.00001"), ("KEEPUSDT", "0.0001"), ("CTKUSDT", "0.00001")];

fn read(name: &str) -> String {
    qt_test_support::capture_text("binance_usdm", name)
}

fn instrument(id: u32, symbol: &str, tick: &str) -> Instrument {
    TestInstrument::spot(Venue::BinanceUsdm, symbol).kind(InstrumentKind::LinearPerpetual).tick(tick).lot("1").build(id)
}

fn instruments() -> Vec<Instrument> {
    SYMBOLS.iter().enumerate().map(|(i, (s, tick))| instrument(i as u32, s, tick)).collect()
}

struct Replay {
    decoder: Decoder,
    books: Vec<Book>,
    snapshots: Vec<String>,
    /// Depth events applied (BookDelta batches) per symbol.
    applied: [u64; 4],
    invalidations: u64,
    /// Every record emitted, in order.
    records: Vec<MarketEvent>,
}

impl Replay {
    fn new() -> Self {
        let symbols = instruments();
        Self {
            decoder: Decoder::new(&symbols),
            books: symbols.iter().map(|i| Book::new(i.id(), 10_000)).collect(),
            snapshots: SYMBOLS.iter().map(|(s, _)| read(&format!("snapshot_{s}.json"))).collect(),
            applied: [0; 4],
            invalidations: 0,
            records: Vec::new(),
        }
    }

    fn apply(&mut self, ev: &MarketEvent) {
        self.records.push(*ev);
        let i = ev.instrument.index();
        self.books[i].apply(ev).expect("record applies");
        if ev.kind == EventKind::BookDelta && ev.is_batch_end() {
            self.applied[i] += 1;
        }
        if ev.kind == EventKind::BookSnapshot && ev.is_clear() && !ev.is_batch_end() && ev.qty.is_zero() {
            self.invalidations += 1;
        }
    }

    /// Feeds `lines`; the recorded snapshot of a symbol is handed over the first time the
    /// decoder wants it (a later request gets no answer: a replay has one snapshot).
    fn run<'a>(&mut self, lines: impl Iterator<Item = &'a str>) {
        let mut given = [false; 4];
        let mut out = Vec::new();
        for (n, line) in lines.enumerate() {
            out.clear();
            self.decoder.on_frame(line.as_bytes(), Nanos(n as i64), &mut |ev| out.push(*ev));
            for (i, given) in given.iter_mut().enumerate() {
                if !*given && self.decoder.wants_snapshot(i) {
                    *given = true;
                    let body = self.snapshots[i].clone();
                    assert!(
                        self.decoder.on_snapshot_body(i, body.as_bytes(), Nanos(n as i64), &mut |ev| out.push(*ev))
                    );
                }
            }
            for ev in &out {
                self.apply(ev);
            }
        }
    }
}

fn p(units: i64) -> Price {
    Price::from_units(units)
}

fn q(units: i64) -> Qty {
    Qty::from_units(units)
}

#[test]
fn depth_capture_replays_through_the_futures_rule_with_no_gaps() {
    let mut r = Replay::new();
    let text = read("depth.jsonl");
    r.run(text.lines());
    let c = r.decoder.counters();
    assert_eq!((c.messages, c.gaps, c.parse_errors_total(), c.snapshots_applied, c.stale_snapshots), (764, 0, 0, 4, 0));
    // Events before each bridge (captures README: 3, 1, 3, 5) and after it (all the rest).
    assert_eq!(r.applied, [252, 188, 132, 180]);
    assert_eq!(r.invalidations, 0);
    // Final books as an independent replay (Python `decimal`) of the same files computed them:
    // (best bid, its qty, best ask, its qty, bid levels, ask levels).
    let expected: [(i64, i64, i64, i64, usize, usize); 4] = [
        (76_120, 303, 76_160, 267, 1006, 1000),
        (1_734, 502, 1_735, 50_697, 613, 761),
        (2_463, 249, 2_467, 9_047, 401, 614),
        (101_100, 1698, 101_200, 10_123, 486, 742),
    ];
    for (i, (bb, bq, ba, aq, nb, na)) in expected.into_iter().enumerate() {
        let book = &r.books[i];
        assert!(book.is_valid() && !book.is_crossed(), "{}", SYMBOLS[i].0);
        let (bid, ask) = (book.best_bid().expect("bid"), book.best_ask().expect("ask"));
        assert_eq!((bid.price, bid.qty, ask.price, ask.qty), (p(bb), q(bq), p(ba), q(aq)), "{}", SYMBOLS[i].0);
        assert_eq!((book.depth(Side::Buy), book.depth(Side::Sell)), (nb, na), "{}", SYMBOLS[i].0);
        assert!(r.decoder.sync(i).expect("symbol").is_synced());
    }
}

#[test]
fn removing_one_event_is_a_gap() {
    let mut r = Replay::new();
    let text = read("depth.jsonl");
    // Drop the 50th SUSHIUSDT event (well after its bridge).
    let mut sushi = 0;
    let lines = text.lines().filter(|l| {
        if l.starts_with("{\"stream\":\"sushiusdt@depth") {
            sushi += 1;
            return sushi != 50;
        }
        true
    });
    r.run(lines);
    let c = r.decoder.counters();
    assert_eq!((c.gaps, c.resyncs, c.parse_errors_total()), (1, 1, 0));
    assert_eq!(r.invalidations, 1);
    assert!(!r.books[0].is_valid() && r.decoder.wants_snapshot(0));
    assert!(r.books[1..].iter().all(Book::is_valid));
}

#[test]
fn doc_sample_parses_to_exact_values() {
    let mut parser = FrameParser::new(&[instrument(0, "BTCUSDT", "0.0001")]);
    let mut out = Vec::new();
    let parsed = parser.parse_frame(read("depth_update.json").as_bytes(), Nanos(3), &mut out).expect("parses");
    assert_eq!(parsed, Parsed::Depth { symbol: 0, first: 157, last: 160, prev: 149 });
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].side, out[0].price, out[0].qty), (Side::Buy, p(24), q(10)));
    assert_eq!((out[1].side, out[1].price, out[1].qty), (Side::Sell, p(26), q(100)));
    assert!(out.iter().all(|e| e.seq == 160 && e.prev_seq == 149 && e.exchange_ns == Nanos(123_456_789_000_000)));
}

#[test]
fn book_ticker_and_agg_trade_captures_parse() {
    let mut d = Decoder::new(&instruments());
    let mut out = Vec::new();
    for file in ["bookTicker.jsonl", "aggTrade.jsonl"] {
        for line in read(file).lines() {
            d.on_frame(line.as_bytes(), Nanos(1), &mut |e| out.push(*e));
        }
    }
    let c = d.counters();
    assert_eq!((c.messages, c.parse_errors_total()), (613 + 91, 0));
    assert_eq!(out.len(), 613 * 2 + 91);
    let first = out[0];
    assert_eq!(
        (first.kind, first.side, first.price, first.qty, first.seq),
        (EventKind::BestBidOffer, Side::Buy, p(76_110), q(2), 600_859_600_576)
    );
    let trade = out[613 * 2];
    assert_eq!(
        (trade.kind, trade.side, trade.price, trade.qty, trade.seq),
        (EventKind::Trade, Side::Buy, p(101_100), q(10), 16_599_292)
    );
}

#[test]
fn bad_frames_are_counted_and_resync_the_book() {
    let mut r = Replay::new();
    let text = read("depth.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    r.run(lines[..100].iter().copied());
    assert!(r.books[0].is_valid());
    let sushi = lines[100..].iter().find(|l| l.starts_with("{\"stream\":\"sushiusdt@depth")).expect("sushi event");
    let mut out = Vec::new();
    r.decoder.on_frame(&sushi.as_bytes()[..sushi.len() / 2], Nanos(9), &mut |e| out.push(*e));
    assert_eq!(out.len(), 1, "a truncated depth frame invalidates its book");
    assert!(r.decoder.wants_snapshot(0) || !r.decoder.sync(0).expect("sushi").is_synced());
    for frame in [&b""[..], b"{}", b"[1]", b"{\"stream\":\"xyz@depth\",\"data\":{}}", b"{\"result\":null,\"id\":1}"] {
        r.decoder.on_frame(frame, Nanos(9), &mut |_| {});
    }
    assert_eq!(r.decoder.counters().parse_errors_total(), 1 + 4);
    for line in lines.iter().take(4) {
        for cut in 0..line.len() {
            r.decoder.on_frame(&line.as_bytes()[..cut], Nanos(9), &mut |_| {});
        }
    }
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut frame = Vec::new();
    for _ in 0..2000 {
        frame.clear();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let len = (rng % 200) as usize;
        frame.extend((0..len).map(|k| (rng.rotate_left(k as u32) ^ k as u64) as u8));
        r.decoder.on_frame(&frame, Nanos(9), &mut |_| {});
    }
}

/// The capture replayed with in-sequence events emitted while parsed (the default) and with
/// every event staged: the same records, the same books.
#[test]
fn direct_and_staged_paths_emit_the_same_records() {
    let text = read("depth.jsonl");
    let run = |direct: bool| {
        let mut r = Replay::new();
        r.decoder.set_direct(direct);
        r.run(text.lines());
        r
    };
    let (direct, staged) = (run(true), run(false));
    assert!(direct.records.len() > 10_000, "{}", direct.records.len());
    assert_eq!(direct.records, staged.records);
    assert_eq!(direct.applied, staged.applied);
    for (a, b) in direct.books.iter().zip(&staged.books) {
        assert!(
            a.is_valid()
                && a.levels(Side::Buy).eq(b.levels(Side::Buy))
                && a.levels(Side::Sell).eq(b.levels(Side::Sell))
        );
    }
}

/// An in-sequence event whose third level does not parse: the direct path has emitted the two
/// before it (no `BATCH_END`), then the invalidation; staged, only the invalidation. Either way
/// the book is invalid and a snapshot is wanted.
#[test]
fn an_event_refused_half_way_invalidates_the_book_on_both_paths() {
    let text = read("depth.jsonl");
    let mut emitted = Vec::new();
    for direct in [true, false] {
        let mut r = Replay::new();
        r.decoder.set_direct(direct);
        r.run(text.lines());
        let SyncState::Synced { last, .. } = r.decoder.sync(0).expect("sushi").state() else {
            panic!("sushi not synced")
        };
        let frame = format!(
            r#"{{"stream":"sushiusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"SUSHIUSDT","U":{},"u":{},"pu":{last},"b":[["1.0000","3"],["1.0001","4"],["1.00x","1"]],"a":[]}}}}"#,
            last + 1,
            last + 5
        );
        r.records.clear();
        r.run(std::iter::once(frame.as_str()));
        assert_eq!(r.decoder.counters().parse_errors_total(), 1, "direct {direct}");
        assert!(r.records.iter().all(|e| !e.is_batch_end()), "direct {direct}: {:?}", r.records);
        let last = r.records.last().expect("the invalidation");
        assert!(last.is_clear() && last.kind == EventKind::BookSnapshot);
        assert!(!r.books[0].is_valid() && r.books[1..].iter().all(Book::is_valid), "direct {direct}");
        assert!(!r.decoder.sync(0).expect("sushi").is_synced());
        emitted.push(r.records.len());
    }
    assert_eq!(emitted, [3, 1]);
}
