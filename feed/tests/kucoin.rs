//! KuCoin decoder against verbatim official samples and the recorded cryptofeed capture
//! (`testdata/kucoin/README.md`): exact values, the capture's level-2 stream replayed through the
//! documented sync with its REST snapshots (0 gaps, as captures/README reports), a removed
//! increment detected as a gap, refused frames counted without panics, the connect flow, and
//! zero allocations per frame after warm-up (a per-thread counting global allocator).

use qt_core::{Book, EventKind, Instrument, InstrumentId, MarketEvent, Nanos};
use qt_core::{Price, Qty, Side, Venue};
use qt_feed::VenueDecoder;
use qt_feed::kucoin::Decoder;
use qt_feed::kucoin::connect::{self, ConnectError};
use qt_feed::kucoin::rules::SyncState;
use qt_feed::kucoin::wire::{self as parse, FrameParser, Parsed};

use qt_test_support::{CountingAllocator, TestInstrument, allocations, xorshift};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn read(name: &str) -> Vec<u8> {
    qt_test_support::capture_bytes("kucoin", name)
}

fn instrument(id: u32, symbol: &str, tick: &str, lot: &str) -> Instrument {
    let (base, quote) = symbol.split_once('-').unwrap_or((symbol, "Q"));
    TestInstrument::spot(Venue::Kucoin, symbol).tick(tick).lot(lot).assets(base, quote).build(id)
}

fn btc_usdt() -> Instrument {
    instrument(7, "BTC-USDT", "0.1", "0.00000001")
}

fn p(units: i64) -> Price {
    Price::from_units(units)
}
fn q(units: i64) -> Qty {
    Qty::from_units(units)
}

#[test]
fn documented_level2_increment_parses_exactly() {
    let mut parser = FrameParser::new(&[btc_usdt()]);
    let mut out = Vec::new();
    let parsed = parser.parse_frame(&read("depth_update.json"), Nanos(5), &mut out).unwrap();
    assert_eq!(parsed, Parsed::Level2 { symbol: 0, start: 14_701_689_783, end: 14_701_689_783 });
    assert_eq!(out.len(), 1);
    let a = out[0];
    assert_eq!((a.kind, a.side, a.price, a.qty), (EventKind::BookDelta, Side::Sell, p(679_933), q(121_427_407)));
    assert_eq!((a.seq, a.prev_seq, a.instrument), (14_701_689_783, 14_701_689_783, InstrumentId(7)));
    assert_eq!((a.exchange_ns, a.local_ns, a.flags), (Nanos(1_729_816_425_625_000_000), Nanos(5), 0));
}

#[test]
fn documented_trade_parses_exactly() {
    let mut dec = Decoder::new(&[btc_usdt()]);
    let mut out = Vec::new();
    dec.on_frame(&read("trade.json"), Nanos(9), &mut |ev| out.push(*ev));
    assert_eq!(out.len(), 1);
    let t = out[0];
    assert_eq!((t.kind, t.side, t.price, t.qty), (EventKind::Trade, Side::Buy, p(675_230), q(300_000)));
    assert_eq!((t.seq, t.exchange_ns, t.flags), (11_067_996_711_960_577, Nanos(1_729_843_222_921_000_000), 1));
    assert_eq!(dec.counters().trades, 1);
}

#[test]
fn documented_rest_snapshot_parses_exactly() {
    let mut body = read("snapshot_rest.json");
    let snap = parse::parse_level2_snapshot(&mut body, &btc_usdt()).unwrap();
    assert_eq!(snap.sequence, 14_610_502_970);
    assert_eq!(snap.exchange_ns, Nanos(1_729_176_273_859_000_000));
    assert_eq!(snap.bids, vec![(p(669_764), q(69_109_872)), (p(669_763), q(14_377_000))]);
    assert_eq!(snap.asks, vec![(p(669_765), q(5_408_199)), (p(669_768), q(50_000))]);
    let mut bad = br#"{"code":"400100","msg":"x"}"#.to_vec();
    assert_eq!(parse::parse_level2_snapshot(&mut bad, &btc_usdt()), Err(parse::ParseError::VenueCode));
    let mut bad = br#"{"code":"200000","data":{"sequence":"1","bids":[["1.01","1"]],"asks":[]}}"#.to_vec();
    assert_eq!(parse::parse_level2_snapshot(&mut bad, &btc_usdt()), Err(parse::ParseError::BadDecimal("bids")));
}

#[test]
fn control_frames_are_counted_not_emitted() {
    let mut dec = Decoder::new(&[btc_usdt()]);
    let mut n = 0;
    for line in std::str::from_utf8(&read("control.jsonl")).unwrap().lines() {
        dec.on_frame(line.as_bytes(), Nanos(1), &mut |_| n += 1);
    }
    dec.on_frame(br#"{"id":"1545910590801","type":"pong"}"#, Nanos(1), &mut |_| n += 1);
    assert_eq!((n, dec.counters().control, dec.stats().parse_errors), (0, 15, 0));
}

/// The capture's nine symbols (level-2 capture README), on grids fine enough for every value.
const SYMBOLS: [&str; 9] =
    ["BCHSV-USDT", "SNX-BTC", "ANKR-BTC", "FET-BTC", "DAPPT-BTC", "CAPP-BTC", "NRG-BTC", "COV-BTC", "EQZ-BTC"];

fn capture_instruments() -> Vec<Instrument> {
    // Grids from the capture's own decimals: BCHSV-USDT 3 price / 11 size, the BTC pairs up to 10 / 8.
    SYMBOLS
        .iter()
        .enumerate()
        .map(|(i, s)| match *s {
            "BCHSV-USDT" => instrument(i as u32, s, "0.001", "0.00000000001"),
            _ => instrument(i as u32, s, "0.0000000001", "0.00000001"),
        })
        .collect()
}

struct Replay {
    dec: Decoder,
    books: Vec<Book>,
    snapshots: Vec<Vec<u8>>,
    delivered: Vec<bool>,
    invalidations: Vec<u64>,
    /// Every record emitted, in order.
    records: Vec<MarketEvent>,
}

impl Replay {
    fn new() -> Self {
        let insts = capture_instruments();
        Self {
            dec: Decoder::new(&insts),
            books: insts.iter().map(|i| Book::new(i.id(), 4096)).collect(),
            snapshots: SYMBOLS.iter().map(|s| read(&format!("snapshot_{s}.json"))).collect(),
            delivered: vec![false; SYMBOLS.len()],
            invalidations: vec![0; SYMBOLS.len()],
            records: Vec::new(),
        }
    }

    fn frame(&mut self, frame: &[u8]) {
        let Self { dec, books, invalidations, records, .. } = self;
        let mut apply = |ev: &MarketEvent| {
            records.push(*ev);
            let i = ev.instrument.0 as usize;
            if ev.kind == EventKind::BookSnapshot && ev.is_clear() && !ev.is_batch_end() && ev.qty == Qty::ZERO {
                invalidations[i] += 1;
            }
            books[i].apply(ev).unwrap();
        };
        dec.on_frame(frame, Nanos(1), &mut apply);
        // The recorded REST snapshot answers the first request of each symbol (as on the run).
        for i in 0..SYMBOLS.len() {
            if dec.wants_snapshot(i) && !self.delivered[i] {
                self.delivered[i] = true;
                let (books, records) = (&mut self.books, &mut self.records);
                assert!(dec.on_snapshot_body(i, &self.snapshots[i], Nanos(2), &mut |ev| {
                    records.push(*ev);
                    books[i].apply(ev).unwrap();
                }));
            }
        }
    }
}

fn level2_lines() -> Vec<Vec<u8>> {
    read("level2.jsonl").split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

#[test]
fn captured_level2_replays_without_gaps_and_never_crosses() {
    let mut r = Replay::new();
    let lines = level2_lines();
    assert_eq!(lines.len(), 3853, "captures/README: 3853 level2 messages");
    for line in &lines {
        r.frame(line);
        for b in &r.books {
            if let (Some(bid), Some(ask)) = (b.best_bid(), b.best_ask())
                && b.is_valid()
            {
                assert!(bid.price < ask.price, "crossed book {:?}", b.instrument());
            }
        }
    }
    let c = r.dec.counters();
    assert_eq!((c.messages, c.gaps, c.resyncs, c.stale_snapshots), (3853, 0, 0, 0));
    assert_eq!((c.snapshots_applied, c.parse_errors.iter().sum::<u64>(), c.buffer_overflows), (9, 0, 0));
    for (i, b) in r.books.iter().enumerate() {
        assert!(r.dec.is_synced(i) && b.is_valid(), "{}", SYMBOLS[i]);
        assert!(!r.dec.wants_snapshot(i));
    }
    assert_eq!(r.invalidations, vec![0; 9]);
    // Each snapshot answers right after its symbol's first increment, which it covers and drops;
    // the increments after that and before the bridging one are stale. captures/README's
    // "msgs before bridge" (19+4+2+2+8+1+6+4+2 = 48) minus the 9 first increments: 39.
    assert_eq!(c.stale, 39);
    // EQZ-BTC's snapshot: sequence 1619079123934 (captures/README), best bid 0.00002383 x 20.5373.
    let eqz = r.books[8].best_bid().unwrap();
    assert!(eqz.price <= p(238_300));
}

#[test]
fn removing_one_increment_is_a_gap_that_invalidates_the_book() {
    let mut r = Replay::new();
    let lines = level2_lines();
    // Drop BCHSV-USDT's 100th increment (well after its bridge at the 20th).
    let mut seen = 0;
    let mut dropped = None;
    for (n, line) in lines.iter().enumerate() {
        if line.windows(11).any(|w| w == b"\"BCHSV-USDT") {
            seen += 1;
            if seen == 100 {
                dropped = Some(n);
                continue;
            }
        }
        r.frame(line);
        if dropped.is_some_and(|d| n == d + 1) {
            // Not necessarily BCHSV: the gap shows at BCHSV's next increment.
        }
    }
    assert!(dropped.is_some());
    let c = r.dec.counters();
    assert_eq!((c.gaps, c.resyncs), (1, 1));
    assert_eq!(r.invalidations[0], 1, "one CLEAR-only record for BCHSV-USDT");
    // The live run summary's per-book line: the gap is BCHSV-USDT's alone.
    assert_eq!(VenueDecoder::book_gaps(&r.dec, 0), Some(1));
    assert!((1..9).all(|i| VenueDecoder::book_gaps(&r.dec, i) == Some(0)));
    assert!(!r.books[0].is_valid() && !r.dec.is_synced(0));
    assert!(r.dec.wants_snapshot(0), "a fresh snapshot is requested");
    // The old snapshot can no longer bridge: it is refused as too old.
    let body = read("snapshot_BCHSV-USDT.json");
    assert!(r.dec.on_snapshot_body(0, &body, Nanos(3), &mut |_| {}));
    assert_eq!(r.dec.counters().stale_snapshots, 1);
    assert!(!r.dec.is_synced(0));
    for i in 1..9 {
        assert!(r.dec.is_synced(i) && r.books[i].is_valid());
    }
}

#[test]
fn malformed_and_truncated_frames_are_counted_and_resync() {
    let mut r = Replay::new();
    let lines = level2_lines();
    for line in &lines[..200] {
        r.frame(line);
    }
    assert!(r.dec.is_synced(0));
    // A truncated BCHSV-USDT increment: the symbol is recovered from the bytes and resynced.
    let full = lines[200..].iter().find(|l| l.windows(11).any(|w| w == b"\"BCHSV-USDT")).unwrap();
    r.frame(&full[..full.len() - 20]);
    let c = r.dec.counters();
    assert_eq!((c.parse_errors.iter().sum::<u64>(), c.resyncs), (1, 1));
    assert!(!r.dec.is_synced(0) && !r.books[0].is_valid());
    assert_eq!(r.invalidations[0], 1);
    // Cut in half (topic gone, `sequenceStart` and `symbol` left): still recovered.
    let other = lines[200..].iter().find(|l| l.windows(9).any(|w| w == b"\"SNX-BTC\"")).unwrap();
    r.frame(&other[..other.len() / 2]);
    assert_eq!((r.dec.counters().parse_errors.iter().sum::<u64>(), r.dec.counters().resyncs), (2, 2));
    assert_eq!(r.invalidations[1], 1);
    let mut dec = Decoder::new(&[btc_usdt()]);
    let frames: [&[u8]; 8] = [
        b"",
        b"[1]",
        br#"{"type":"message","topic":"/market/level2:ETH-USDT","data":{}}"#,
        br#"{"type":"message","topic":"/market/level2:BTC-USDT","data":{"symbol":"BTC-USDT","sequenceStart":2,"sequenceEnd":1,"changes":{"asks":[],"bids":[]}}}"#,
        br#"{"type":"message","topic":"/market/level2:BTC-USDT","data":{"symbol":"BTC-USDT","sequenceStart":1,"sequenceEnd":1,"changes":{"asks":[["1.01","1","1"]],"bids":[]}}}"#,
        br#"{"type":"message","topic":"/market/level2:BTC-USDT","data":{"symbol":"BTC-USDT","sequenceStart":1,"sequenceEnd":1,"changes":{"asks":[["1","1"]],"bids":[]}}}"#,
        br#"{"type":"message","topic":"/market/match:BTC-USDT","data":{"symbol":"BTC-USDT","price":"1","size":"1","side":"up","sequence":"1","time":"1"}}"#,
        br#"{"type":"message","topic":"/market/level2:BTC-USDT","data":{"symbol":"ETH-USDT"}}"#,
    ];
    let mut emitted = Vec::new();
    for f in frames {
        dec.on_frame(f, Nanos(0), &mut |ev| emitted.push(*ev));
    }
    assert_eq!(dec.stats().parse_errors, 8);
    // Only invalidations (level-2 frames of a known symbol), never a level or trade.
    assert!(emitted.iter().all(|ev| ev.is_clear() && !ev.is_batch_end()));
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let mut r = Replay::new();
    let base = level2_lines().swap_remove(0);
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    for round in 0..10_000 {
        let frame: Vec<u8> = if round % 2 == 0 {
            let len = (next() % 200) as usize;
            (0..len).map(|_| b"{}[]\":,0123456789.eE-+ typemsagoicdlv/"[(next() % 38) as usize]).collect()
        } else {
            let mut f = base.clone();
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % f.len();
                f[i] = (next() & 0xff) as u8;
            }
            f.truncate(1 + (next() as usize) % f.len());
            f
        };
        let Replay { dec, .. } = &mut r;
        dec.on_frame(&frame, Nanos(0), &mut |_| {});
        let _ = parse::parse_level2_snapshot(&mut frame.clone(), &btc_usdt());
        let _ = connect::parse_bullet_public(&frame);
    }
    assert_eq!(r.dec.counters().messages, 10_000);
}

#[test]
fn bullet_public_answer_and_connect_messages() {
    let bullet = connect::parse_bullet_public(&read("bullet_public.json")).unwrap();
    let token = "2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPusi34M_wGoSf7iNyEWJ93g2WHl-j4M7tCZ_S21PuIByWXUJFDywtiYB9J6i9GjsxUuhPw3Blq6rhZlGykT3Vp1phUafnulOOpts-MEmEF-3bpfetLOAq79RbGaLlE4JBvJHl5Vs9Y=.ymP9jIr6v-vucrZr8761yA==";
    assert_eq!(bullet.token, token);
    let server = bullet.websocket_server().unwrap();
    assert_eq!(server.endpoint, "wss://ws-api-spot.kucoin.com/");
    assert_eq!((server.protocol.as_str(), server.encrypt), ("websocket", true));
    assert_eq!((server.ping_interval_ms, server.ping_timeout_ms), (18_000, 10_000));
    assert_eq!((server.ping_interval(), server.ping_timeout()), (Nanos(18_000_000_000), Nanos(10_000_000_000)));
    let url = connect::connect_url(&server.endpoint, &bullet.token, "qt-1").unwrap();
    // Percent-encoded as the official SDK and ccxt send it (Python's urlencode): `=` is `%3D`.
    let sent = token.replace('=', "%3D");
    assert_eq!(url, format!("wss://ws-api-spot.kucoin.com/?token={sent}&connectId=qt-1"));
    assert!(url.ends_with("Vs9Y%3D.ymP9jIr6v-vucrZr8761yA%3D%3D&connectId=qt-1"), "{url}");
    assert_eq!(
        connect::connect_url("wss://x/", "a&b#c%d+e/f", "1").unwrap(),
        "wss://x/?token=a%26b%23c%25d%2Be%2Ff&connectId=1"
    );
    assert_eq!(connect::connect_url("wss://x/", "a b", "1"), Err(ConnectError::BadQueryValue));
    assert_eq!(connect::connect_url("wss://x/", "a", ""), Err(ConnectError::BadQueryValue));
    // NOTES.md's documented subscribe example, byte for byte.
    let topic = connect::level2_topic(&["BTC-USDT"]).unwrap();
    assert_eq!(
        connect::subscribe_message(1_545_910_660_739, &topic, true),
        r#"{"id":1545910660739,"type":"subscribe","topic":"/market/level2:BTC-USDT","response":true}"#
    );
    assert_eq!(connect::match_topic(&["BTC-USDT", "ETH-USDT"]).unwrap(), "/market/match:BTC-USDT,ETH-USDT");
    assert_eq!(connect::level2_topic(&[]), Err(ConnectError::TopicSize));
    assert_eq!(connect::level2_topic(&["A"; 101]), Err(ConnectError::TopicSize));
    assert_eq!(connect::full_snapshot_path("BTC-USDT"), "/api/v3/market/orderbook/level2?symbol=BTC-USDT");
    assert_eq!(
        connect::partial_snapshot_path("BTC-USDT", 100).as_deref(),
        Some("/api/v1/market/orderbook/level2_100?symbol=BTC-USDT")
    );
    assert_eq!(connect::partial_snapshot_path("BTC-USDT", 50), None);
    assert_eq!(connect::ping_message(7), r#"{"id":"7","type":"ping"}"#);
    assert_eq!(connect::parse_bullet_public(br#"{"code":"400100","msg":"x"}"#), Err(ConnectError::VenueCode));
    assert_eq!(connect::parse_bullet_public(br#"{"code":"200000","data":{"token":"t""#), Err(ConnectError::Json));
    let no_ws = br#"{"code":"200000","data":{"token":"t","instanceServers":[{"endpoint":"wss://x","protocol":"api","encrypt":true,"pingInterval":1,"pingTimeout":1}]}}"#;
    assert_eq!(connect::parse_bullet_public(no_ws).unwrap().websocket_server(), Err(ConnectError::NoServer));
}

#[test]
fn on_frame_allocates_nothing_after_warm_up() {
    let mut r = Replay::new();
    let lines = level2_lines();
    let matches = read("match.jsonl");
    let matches: Vec<&[u8]> = matches.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    // Warm-up: every symbol synced (snapshot bodies are a cold path and allocate), buffers grown.
    for line in &lines[..1000] {
        r.frame(line);
    }
    for m in &matches {
        r.dec.on_frame(m, Nanos(1), &mut |_| {});
    }
    assert!((0..9).all(|i| r.dec.is_synced(i)));
    let (mut frames, mut records) = (0u64, 0u64);
    let before = allocations();
    for line in &lines[1000..] {
        let Replay { dec, books, .. } = &mut r;
        dec.on_frame(line, Nanos(1), &mut |ev| {
            records += 1;
            books[ev.instrument.0 as usize].apply(ev).unwrap();
        });
        frames += 1;
    }
    for m in &matches {
        r.dec.on_frame(m, Nanos(1), &mut |_| records += 1);
        frames += 1;
    }
    let spent = allocations() - before;
    assert_eq!(spent, 0, "{spent} allocations over {frames} frames / {records} records");
    assert!(records > 1000 && r.dec.counters().gaps == 0);
}

/// The capture replayed with in-sequence increments emitted while parsed (the default) and with
/// every increment staged: the same records, the same books.
#[test]
fn direct_and_staged_paths_emit_the_same_records() {
    let lines = level2_lines();
    let run = |direct: bool| {
        let mut r = Replay::new();
        r.dec.set_direct(direct);
        for line in &lines {
            r.frame(line);
        }
        r
    };
    let (direct, staged) = (run(true), run(false));
    assert!(direct.records.len() > 5000, "{}", direct.records.len());
    assert_eq!(direct.records, staged.records);
    for (a, b) in direct.books.iter().zip(&staged.books) {
        assert!(a.is_valid() && b.is_valid());
        assert!(a.levels(Side::Buy).eq(b.levels(Side::Buy)) && a.levels(Side::Sell).eq(b.levels(Side::Sell)));
    }
}

/// The book's sequence of a synced symbol.
fn book_sequence(dec: &Decoder, index: usize) -> u64 {
    match dec.sync(index).expect("symbol").state() {
        SyncState::Synced { last, .. } => last,
        SyncState::Buffering => panic!("symbol {index} not synced"),
    }
}

fn bchsv_increment(start: u64, end: u64, bids: &str, asks: &str) -> Vec<u8> {
    format!(
        r#"{{"data":{{"sequenceStart":{start},"symbol":"BCHSV-USDT","changes":{{"asks":[{asks}],"bids":[{bids}]}},"sequenceEnd":{end}}},"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}}"#
    )
    .into_bytes()
}

/// A constructed increment right after the book's sequence: a change at the book's own sequence
/// (already in the book) and a sequence-only change make no record on either path, the last kept
/// record ends the batch. Then a change that does not parse, after two good ones: the direct
/// path has already emitted the first, both paths end with the invalidation and an invalid book.
#[test]
fn the_direct_path_filters_like_the_sync_and_a_bad_change_half_way_invalidates() {
    let lines = level2_lines();
    let mut outputs = Vec::new();
    for direct in [true, false] {
        let mut r = Replay::new();
        r.dec.set_direct(direct);
        for line in &lines {
            r.frame(line);
        }
        let s = book_sequence(&r.dec, 0);
        // Bids below the capture's best ask (~243): the book stays uncrossed.
        let bids = format!(r#"["241.1","1","{s}"],["0","0","{}"],["241.2","2","{}"]"#, s + 2, s + 3);
        let asks = format!(r#"["245.5","1.5","{}"]"#, s + 1);
        r.records.clear();
        r.frame(&bchsv_increment(s + 1, s + 3, &bids, &asks));
        let kept: Vec<_> = r.records.iter().map(|e| (e.side, e.price, e.qty, e.seq, e.prev_seq, e.flags)).collect();
        assert_eq!(
            kept,
            [
                (Side::Buy, p(241_200), q(200_000_000_000), s + 3, s + 1, 0),
                (Side::Sell, p(245_500), q(150_000_000_000), s + 3, s + 1, MarketEvent::BATCH_END),
            ],
            "direct {direct}"
        );
        assert_eq!(book_sequence(&r.dec, 0), s + 3);
        r.records.clear();
        let bad = format!(r#"["241.3","1","{}"],["241.4","1","{}"],["x","1","{}"]"#, s + 4, s + 5, s + 6);
        r.frame(&bchsv_increment(s + 4, s + 6, &bad, ""));
        assert!(!r.books[0].is_valid(), "direct {direct}");
        assert!(!r.dec.is_synced(0) && r.dec.counters().resyncs == 1, "direct {direct}");
        let last = r.records.last().expect("the invalidation");
        assert!(last.is_clear() && !last.is_batch_end());
        assert!(r.records.iter().all(|e| !e.is_batch_end()));
        outputs.push(r.records.len());
    }
    // Direct: the first change (each record waits for the next, so the second was held when the
    // third failed) and the invalidation; staged: the invalidation only.
    assert_eq!(outputs, [2, 1]);
}
