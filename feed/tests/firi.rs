//! Firi decoder: one polled `GET /v2/markets/{market}/depth` body → a full book image with exact
//! values. The body is **constructed** from the recalled field list (no verbatim Firi sample
//! exists; see `testdata/firi/README.md`).

use qt_core::{Book, EventKind, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, MarketEvent, Nanos};
use qt_core::{Price, Qty, Side, Venue};
use qt_feed::VenueDecoder;
use qt_feed::firi::Decoder;

fn btcnok() -> Instrument {
    let spec = InstrumentSpec {
        venue: Venue::Firi,
        symbol: "BTCNOK".into(),
        base: "BTC".into(),
        quote: "NOK".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01".into(),
        lot_size: "0.00000001".into(),
        min_qty: None,
        min_notional: None,
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    };
    Instrument::from_spec(InstrumentId(4), &spec).unwrap()
}

fn body() -> Vec<u8> {
    qt_test_support::capture_bytes("firi", "depth_BTCNOK.json")
}

fn decode(dec: &mut Decoder, body: &[u8], now: i64) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    dec.on_frame(body, Nanos(now), &mut |ev| out.push(*ev));
    out
}

#[test]
fn depth_body_becomes_an_exact_book_image() {
    let mut dec = Decoder::new(btcnok());
    assert_eq!(dec.depth_path(), "/v2/markets/BTCNOK/depth");
    assert_eq!(dec.venue(), Venue::Firi);
    let out = decode(&mut dec, &body(), 11);
    let got: Vec<_> = out.iter().map(|e| (e.kind, e.side, e.price.units(), e.qty.units(), e.flags)).collect();
    let (s, b, a) = (EventKind::BookSnapshot, Side::Buy, Side::Sell);
    assert_eq!(
        got,
        vec![
            // Each side worst first (see `emit_book_snapshot`).
            (s, b, 101_199_950, 1, MarketEvent::CLEAR),
            (s, b, 101_200_000, 150_000_000, 0),
            (s, b, 101_234_567, 1_430_993, 0),
            (s, a, 101_300_000, 200_000_000, 0),
            (s, a, 101_240_012, 25_000_000, MarketEvent::BATCH_END),
        ]
    );
    assert!(out.iter().all(|e| e.instrument == InstrumentId(4) && e.seq == 1 && e.local_ns == Nanos(11)));
    let mut book = Book::new(InstrumentId(4), 64);
    for ev in &out {
        book.apply(ev).unwrap();
    }
    assert!(book.is_valid());
    assert_eq!(book.best_bid().map(|l| l.price), Some(Price::from_units(101_234_567)));
    assert_eq!(book.best_ask().map(|l| l.qty), Some(Qty::from_units(25_000_000)));
    // The next poll replaces the book and numbers itself.
    let again = decode(&mut dec, &body(), 12);
    assert_eq!((again.len(), again[0].seq, again[0].is_clear()), (5, 2, true));
    let stats = dec.stats();
    assert_eq!((stats.messages, stats.records, stats.parse_errors), (2, 10, 0));
}

#[test]
fn object_levels_empty_books_and_disconnects() {
    let mut dec = Decoder::new(btcnok());
    let out = decode(&mut dec, br#"{"bids":[{"price":"1.5","amount":"2"}],"asks":[]}"#, 0);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].price.units(), out[0].qty.units(), out[0].flags), (150, 200_000_000, 3));
    let out = decode(&mut dec, br#"{"bids":[],"asks":[]}"#, 0);
    assert_eq!((out.len(), out[0].flags), (1, MarketEvent::CLEAR | MarketEvent::BATCH_END));
    let mut inv = Vec::new();
    dec.on_disconnect(Nanos(5), &mut |ev| inv.push(*ev));
    assert_eq!(inv.len(), 1);
    assert!(inv[0].is_clear() && !inv[0].is_batch_end() && inv[0].kind == EventKind::BookSnapshot);
}

#[test]
fn bad_bodies_are_counted_and_emit_nothing() {
    let mut dec = Decoder::new(btcnok());
    let bad: [&[u8]; 8] = [
        b"",
        b"{\"bids\":[[\"1\",\"1\"]],\"asks\":[",
        br#"{"bids":[],"asks":[],"#,
        br#"{"bids":[["1.001","1"]],"asks":[]}"#,
        br#"{"bids":[[1.5,"1"]],"asks":[]}"#,
        br#"{"bids":[["-1","1"]],"asks":[]}"#,
        br#"{"bids":[["1","0"]],"asks":[]}"#,
        br#"{"asks":[]}"#,
    ];
    for b in bad {
        assert!(decode(&mut dec, b, 0).is_empty(), "{}", String::from_utf8_lossy(b));
    }
    let c = dec.counters();
    assert_eq!((c.messages, c.parse_errors.iter().sum::<u64>(), c.snapshots), (8, 8, 0));
    let full = body();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..5_000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut f = full.clone();
        let i = (rng as usize) % f.len();
        f[i] = (rng >> 32) as u8;
        f.truncate(1 + ((rng >> 16) as usize) % f.len());
        let _ = decode(&mut dec, &f, 0);
    }
}

#[test]
fn poller_reports_failures_through_the_channel_and_stops_on_drop() {
    use qt_feed::endpoint::Endpoint;
    use qt_feed::firi::{FiriPoller, Poll};
    use qt_feed::snapshot::HttpsClient;
    use std::time::{Duration, Instant};
    // A loopback port nobody listens on: every poll fails fast with a refused connection.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ep = Endpoint::parse(&format!("https://127.0.0.1:{port}"), "rest_url").unwrap();
    let addrs = ep.resolve().unwrap();
    let name = ep.server_name(Some("localhost")).unwrap();
    let tls = qt_feed::tls::client_config(None).unwrap();
    let client = HttpsClient::new(ep, addrs, name, tls);
    let path = Decoder::new(btcnok()).depth_path();
    assert!(FiriPoller::spawn(client.clone(), path.clone(), Duration::ZERO, 4).is_err());
    let poller = FiriPoller::spawn(client, path, Duration::from_millis(20), 2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < 2 && Instant::now() < deadline {
        match poller.try_recv() {
            Some(p) => got.push(p),
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(got, vec![Poll::Failed(0), Poll::Failed(0)]);
    // Dropping closes the stop channel and joins the thread (a hang here is the failure).
    drop(poller);
}

/// The decoder is the kit's shell over Firi's whole-book sync: a body goes out whole whether it
/// is emitted while walked or staged first, a refused body neither emits nor takes a number, and
/// the book is in sync from a good body until an invalidation.
#[test]
fn the_shell_emits_each_good_body_whole_on_either_path() {
    let empty: &[u8] = br#"{"bids":[],"asks":[]}"#;
    let bodies: [&[u8]; 4] = [&body(), br#"{"bids":[["1.001","1"]],"asks":[]}"#, &body(), empty];
    let run = |direct: bool| {
        let mut dec = Decoder::new(btcnok());
        dec.set_direct(direct);
        assert!(!dec.is_synced(0));
        let out: Vec<Vec<MarketEvent>> = bodies.iter().map(|b| decode(&mut dec, b, 3)).collect();
        assert!(dec.is_synced(0));
        (out, dec)
    };
    let (direct, mut dec) = run(true);
    let (staged, _) = run(false);
    assert_eq!(direct, staged);
    let sizes_and_seqs: Vec<_> = direct.iter().map(|o| (o.len(), o.first().map(|e| e.seq))).collect();
    assert_eq!(sizes_and_seqs, vec![(5, Some(1)), (0, None), (5, Some(2)), (1, Some(3))]);
    let c = dec.counters();
    assert_eq!((c.messages, c.records, c.snapshots, c.parse_errors.iter().sum::<u64>()), (4, 11, 3, 1));
    // A crossed image invalidates the book (one record) until the next body.
    let mut inv = Vec::new();
    dec.on_book_refused(0, qt_core::BookError::Crossed, Nanos(9), &mut |ev| inv.push(*ev));
    assert_eq!(inv.len(), 1);
    assert!(inv[0].is_clear() && !inv[0].is_batch_end() && inv[0].instrument == InstrumentId(4));
    assert!(!dec.is_synced(0));
    let stats = dec.stats();
    assert_eq!((stats.records, stats.crossed, stats.resyncs, stats.gaps), (12, 1, 1, 0));
    assert_eq!(decode(&mut dec, empty, 10)[0].seq, 4);
    assert!(dec.is_synced(0));
}
