//! Allocation counts of the Binance feed's hot path, with a counting global allocator.
//! (Also: the Bybit and Binance USD-M decoders over their recorded traffic, zero after warm-up,
//! and the shared `WsFeed` layer's socket path with OKX, measured like 2.)
//!
//! 1. The parse → sync → emit path ([`Decoder`]) over a few thousand frames in Binance's exact
//!    wire shapes (synthesized diff depth / bookTicker / trade frames as the simulator sends
//!    them, plus the recorded NKNUSDT frames): zero allocations per frame after warm-up,
//!    asserted.
//! 2. The whole socket path (rustls + tungstenite + decoder) against the venue simulator:
//!    allocations per received frame are measured and printed (not zero: rustls' buffered
//!    reader and tungstenite's `Message` allocate per record/frame); the test only bounds them
//!    so a regression shows.
//!
//! Counting is per thread (`thread_local`), so the simulator's threads do not disturb it.

mod stream_util;

use qt_core::{Instrument, InstrumentId, InstrumentSpec, MarketEvent, Nanos, Venue};
use qt_feed::binance::Decoder;
use qt_feed::binance::parse::parse_depth_snapshot;
use qt_test_support::{CountingAllocator, TestInstrument, allocations, xorshift};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn instrument(id: u32, symbol: &str, tick: &str, lot: &str) -> Instrument {
    TestInstrument::spot(Venue::Binance, symbol).tick(tick).lot(lot).build(id)
}

const CAPTURED_DEPTH: &str = include_str!("../../testdata/binance_spot/depth.jsonl");
const CAPTURED_TICKER: &str = include_str!("../../testdata/binance_spot/bookTicker.jsonl");
const CAPTURED_SNAPSHOT: &str = include_str!("../../testdata/binance_spot/snapshot_NKNUSDT.json");

/// Deterministic BTCUSDT frames shaped exactly like the simulator's (8-decimal strings):
/// ~10-level diffs with consecutive ids, bookTickers and trades.
fn synthesized_frames(n: usize, first_id: u64) -> Vec<String> {
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut id = first_id;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let frame = match i % 4 {
            0 | 1 => {
                let first = id;
                id += 1 + next() % 20;
                let level = |next: &mut dyn FnMut() -> u64, base: u64| {
                    let cents = base + next() % 5000;
                    let qty = (next() % 300_000) * 1000; // on the 0.00001 lot
                    format!(
                        "[\"{}.{:02}000000\",\"{}.{:08}\"]",
                        cents / 100,
                        cents % 100,
                        qty / 100_000_000,
                        qty % 100_000_000
                    )
                };
                let bids: Vec<String> = (0..5).map(|_| level(&mut next, 6_490_000)).collect();
                let asks: Vec<String> = (0..5).map(|_| level(&mut next, 6_500_100)).collect();
                format!(
                    "{{\"stream\":\"btcusdt@depth@100ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{},\"s\":\"BTCUSDT\",\"U\":{first},\"u\":{},\"b\":[{}],\"a\":[{}]}}}}",
                    1_700_000_000_000u64 + i as u64,
                    id - 1,
                    bids.join(","),
                    asks.join(",")
                )
            }
            2 => format!(
                "{{\"stream\":\"btcusdt@bookTicker\",\"data\":{{\"u\":{},\"s\":\"BTCUSDT\",\"b\":\"64999.99000000\",\"B\":\"0.{:05}000\",\"a\":\"65000.01000000\",\"A\":\"1.50000000\"}}}}",
                id - 1,
                next() % 100_000
            ),
            _ => format!(
                "{{\"stream\":\"btcusdt@trade\",\"data\":{{\"e\":\"trade\",\"E\":{},\"s\":\"BTCUSDT\",\"t\":{i},\"p\":\"65000.00000000\",\"q\":\"0.{:05}000\",\"T\":{},\"m\":{},\"M\":true}}}}",
                1_700_000_000_000u64 + i as u64,
                1 + next() % 99_999,
                1_700_000_000_000u64 + i as u64,
                next().is_multiple_of(2)
            ),
        };
        out.push(frame);
    }
    out
}

#[test]
fn decoder_allocates_nothing_per_frame_after_warm_up() {
    let symbols = [instrument(0, "BTCUSDT", "0.01", "0.00001"), instrument(1, "NKNUSDT", "0.00000001", "0.00000001")];
    let mut decoder = Decoder::new(&symbols);
    let mut records = 0u64;
    let mut sink = |_: &MarketEvent| records += 1;

    // NKNUSDT: the recorded frames of that symbol (diffs and book tickers).
    let nkn: Vec<&str> = CAPTURED_DEPTH
        .lines()
        .chain(CAPTURED_TICKER.lines())
        .filter(|l| l.starts_with("{\"stream\":\"nknusdt@"))
        .collect();
    let btc = synthesized_frames(4000, 1_000);

    // Sync both books (cold path: snapshots allocate and are applied here).
    decoder.on_frame(nkn[0].as_bytes(), Nanos(1), &mut sink);
    let generation = decoder.take_snapshot_request(1).expect("NKNUSDT asks for a snapshot");
    let snap = parse_depth_snapshot(&mut CAPTURED_SNAPSHOT.as_bytes().to_vec(), &symbols[1]).unwrap();
    decoder.on_snapshot(1, &snap, generation, Nanos(1), &mut sink);
    decoder.on_frame(btc[0].as_bytes(), Nanos(1), &mut sink);
    let generation = decoder.take_snapshot_request(0).expect("BTCUSDT asks for a snapshot");
    let snap = qt_feed::binance::parse::DepthSnapshot { last_update_id: 999, bids: vec![], asks: vec![] };
    decoder.on_snapshot(0, &snap, generation, Nanos(1), &mut sink);

    // Warm-up: the first frames grow the reused buffers to the largest message.
    let (warm, measured) = btc[1..].split_at(500);
    for f in warm {
        decoder.on_frame(f.as_bytes(), Nanos(2), &mut sink);
    }
    let before = allocations();
    let mut frames = 0u64;
    for f in measured.iter().map(String::as_str).chain(nkn[1..].iter().copied()) {
        decoder.on_frame(f.as_bytes(), Nanos(3), &mut sink);
        frames += 1;
    }
    let allocated = allocations() - before;
    let c = decoder.counters();
    eprintln!("decoder: {frames} frames, {records} records, {allocated} allocations after warm-up");
    assert_eq!((c.gaps, c.parse_errors_total()), (0, 0), "{c:?}");
    assert!(decoder.sync(0).unwrap().is_synced() && decoder.sync(1).unwrap().is_synced());
    assert!(frames >= 3000);
    assert_eq!(allocated, 0, "allocations on the parse → sync → emit path");
}

#[test]
fn the_raw_frame_tap_allocates_nothing_when_it_keeps_or_drops() {
    use qt_core::journal_raw::{RawFrameKind, RawFrameRings};
    let (mut taps, mut rings) = RawFrameRings::new(1, 64 << 10, std::sync::Arc::new(qt_core::SimClock::new(Nanos(1))));
    let tap = &mut taps[0];
    let frames = synthesized_frames(2000, 1);
    let mut buf = Vec::with_capacity(4096);
    let before = allocations();
    let (mut kept, mut dropped) = (0u64, 0u64);
    for (n, f) in frames.iter().enumerate() {
        if tap.tap(RawFrameKind::WsText, 0, Nanos(n as i64), f.as_bytes()) {
            kept += 1;
        } else {
            dropped += 1;
        }
        // The consumer (another thread in a run) drains only now and then: the ring fills.
        if n % 500 == 499 {
            while rings.pop(0, &mut buf).is_some() {}
        }
    }
    let allocated = allocations() - before;
    assert!(kept > 0 && dropped > 0, "kept {kept} dropped {dropped}");
    assert_eq!(rings.dropped(), dropped);
    assert_eq!(allocated, 0, "allocations tapping {kept} frames and dropping {dropped}");
}

mod socket {
    use super::*;
    use qt_core::FeedSource;
    use qt_core::{Rate, Side};
    use qt_feed::binance::{BinanceFeed, BinanceFeedConfig};
    use qt_venue_sim::exchange::flow::FlowParams;
    use qt_venue_sim::exchange::matching::FeeSchedule;
    use qt_venue_sim::market::{AccountConfig, Market, MarketConfig, SymbolConfig};
    use qt_venue_sim::server::{ServerConfig, VenueSimServer};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn socket_path_allocations_per_frame_are_measured() {
        let inst = instrument(0, "BTCUSDT", "0.01", "0.00001");
        let flow = FlowParams {
            events_per_sec: 5_000.0,
            start_mid: Some(inst.parse_price("65000").unwrap()),
            size_median_lots: 200.0,
            ..FlowParams::default()
        };
        let market = Market::new(MarketConfig {
            symbols: vec![SymbolConfig { instrument: inst.clone(), flow }],
            fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
            accounts: vec![AccountConfig { api_key: "k".into(), secret: "s".into(), balances: vec![] }],
            seed: 7,
        })
        .unwrap();
        let ca = std::env::temp_dir().join(format!("qt-feed-alloc-ca-{}.pem", std::process::id()));
        let server = VenueSimServer::start(ServerConfig {
            market,
            faults: qt_venue_sim::faults::Faults::new(),
            protocols: vec![(Arc::new(qt_venue_sim::binance::BinanceSpot::default()), "127.0.0.1:0".parse().unwrap())],
            ca_file: ca.clone(),
        })
        .unwrap();
        let addr = server.addr_of("binance").unwrap();
        let mut cfg = BinanceFeedConfig::new(format!("wss://{addr}"), format!("https://{addr}"), vec![inst.clone()]);
        cfg.ca_file = Some(ca);
        cfg.server_name = Some("localhost".into());
        let mut feed = BinanceFeed::new(cfg).unwrap();
        let mut poll = mio::Poll::new().unwrap();
        let mut events = mio::Events::with_capacity(64);
        feed.register(poll.registry(), 0).unwrap();
        let mut book = qt_core::Book::new(inst.id(), 100_000);
        let start = Instant::now();
        let mut run = |feed: &mut BinanceFeed, book: &mut qt_core::Book, until: Instant| {
            while Instant::now() < until {
                poll.poll(&mut events, Some(Duration::from_millis(1))).unwrap();
                for ev in events.iter() {
                    feed.on_ready(ev.token().0);
                }
                feed.poll(Nanos::from_duration(start.elapsed()), &mut |ev: &MarketEvent| book.apply(ev).unwrap());
            }
        };
        let deadline = Instant::now() + Duration::from_secs(45);
        while !(feed.is_synced(0) && book.is_valid()) {
            assert!(Instant::now() < deadline, "no sync: {:?}", feed.counters());
            run(&mut feed, &mut book, Instant::now() + Duration::from_millis(10));
        }
        run(&mut feed, &mut book, Instant::now() + Duration::from_millis(500));
        let (m0, a0) = (feed.counters().messages, allocations());
        run(&mut feed, &mut book, Instant::now() + Duration::from_secs(2));
        let (frames, allocated) = (feed.counters().messages - m0, allocations() - a0);
        let per_frame = allocated as f64 / frames.max(1) as f64;
        eprintln!(
            "socket path (rustls + tungstenite + decoder): {frames} frames, {allocated} allocations, {per_frame:.2} per frame"
        );
        assert!(frames > 50, "{:?}", feed.counters());
        assert!(book.is_valid() && book.best(Side::Buy).is_some());
        assert!(per_frame < 16.0, "allocations per frame regressed: {per_frame:.2}");
    }
}

/// Bybit (`qt_feed::bybit::Decoder`) over its recorded spot book and trade traffic: warm up with
/// one pass, then a second pass (each symbol's snapshot replaces its book again, then the same
/// deltas, trades parsed again) allocates nothing.
#[test]
fn bybit_decoder_allocates_nothing_after_warm_up() {
    let book = include_str!("../../testdata/bybit/orderbook_spot.jsonl");
    let trades = include_str!("../../testdata/bybit/publicTrade_spot.jsonl");
    let symbols = [instrument(0, "BTCUSDT", "0.1", "0.000001"), instrument(1, "ETHUSDT", "0.01", "0.00001")];
    let mut d = qt_feed::bybit::Decoder::new(&symbols, 200);
    let mut sink = 0u64;
    let mut run = |d: &mut qt_feed::bybit::Decoder| {
        for line in book.lines().chain(trades.lines()) {
            d.on_frame(line.as_bytes(), Nanos(1), &mut |ev: &MarketEvent| sink += ev.qty.units() as u64);
        }
    };
    run(&mut d);
    let before = allocations();
    run(&mut d);
    let used = allocations() - before;
    let c = d.counters();
    assert_eq!((c.gaps, c.resets, c.parse_errors_total()), (0, 2, 0), "the second pass starts at a snapshot: {c:?}");
    assert_eq!(used, 0, "{used} allocations over {} frames", c.messages / 2);
}

/// Binance USD-M (`qt_feed::binance_usdm::Decoder`) over its recorded depth, bookTicker and
/// aggTrade traffic after a snapshot: the steady path allocates nothing.
#[test]
fn binance_usdm_decoder_allocates_nothing_after_warm_up() {
    let depth = include_str!("../../testdata/binance_usdm/depth.jsonl");
    let ticker = include_str!("../../testdata/binance_usdm/bookTicker.jsonl");
    let symbols = [
        instrument(0, "SUSHIUSDT", "0.0001", "1"),
        instrument(1, "AKROUSDT", "0.00001", "1"),
        instrument(2, "KEEPUSDT", "0.0001", "1"),
        instrument(3, "CTKUSDT", "0.00001", "1"),
    ];
    let mut d = qt_feed::binance_usdm::Decoder::new(&symbols);
    let lines: Vec<&str> = depth.lines().collect();
    let mut sink = 0u64;
    // Warm up: the first half, with SUSHIUSDT's recorded snapshot (a cold path).
    let snapshot = include_str!("../../testdata/binance_usdm/snapshot_SUSHIUSDT.json");
    for line in &lines[..lines.len() / 2] {
        d.on_frame(line.as_bytes(), Nanos(1), &mut |ev: &MarketEvent| sink += ev.qty.units() as u64);
        if qt_feed::VenueDecoder::wants_snapshot(&d, 0) {
            qt_feed::VenueDecoder::on_snapshot_body(&mut d, 0, snapshot.as_bytes(), Nanos(1), &mut |_| {});
        }
    }
    for line in ticker.lines() {
        d.on_frame(line.as_bytes(), Nanos(1), &mut |ev: &MarketEvent| sink += ev.qty.units() as u64);
    }
    assert!(d.sync(0).is_some_and(|s| s.is_synced()));
    let tickers: Vec<&str> = ticker.lines().collect();
    let before = allocations();
    for line in lines[lines.len() / 2..].iter().chain(tickers.iter()) {
        d.on_frame(line.as_bytes(), Nanos(1), &mut |ev: &MarketEvent| sink += ev.qty.units() as u64);
    }
    let used = allocations() - before;
    assert_eq!(d.counters().gaps, 0);
    assert_eq!(used, 0, "{used} allocations on the steady path");
}

/// KuCoin (`qt_feed::kucoin::Decoder`, the decoder under `KucoinFeed`): level-2 increments and
/// matches in the simulator's wire shape after a REST snapshot; once the parser's buffers have
/// grown, the parse → calibrate → emit path allocates nothing.
#[test]
fn kucoin_decoder_allocates_nothing_after_warm_up() {
    use qt_feed::VenueDecoder;
    let spec = InstrumentSpec { venue: Venue::Kucoin, ..instrument_spec("BTC-USDT", "0.1", "0.00000001") };
    let inst = Instrument::from_spec(InstrumentId(0), &spec).expect("instrument");
    let mut d = qt_feed::kucoin::Decoder::new(&[inst]);
    let increment = |n: u64| {
        let (side, price) = if n.is_multiple_of(2) { ("bids", 600_000 - n % 50) } else { ("asks", 600_100 + n % 50) };
        let other = if side == "bids" { "asks" } else { "bids" };
        format!(
            r#"{{"topic":"/market/level2:BTC-USDT","type":"message","subject":"trade.l2update","data":{{"changes":{{"{side}":[["{}.{}","0.{:08}","{n}"]],"{other}":[]}},"sequenceEnd":{n},"sequenceStart":{n},"symbol":"BTC-USDT","time":1700000000000}}}}"#,
            price / 10,
            price % 10,
            n % 7
        )
    };
    let matched = |n: u64| {
        format!(
            r#"{{"topic":"/market/match:BTC-USDT","type":"message","subject":"trade.l3match","data":{{"price":"60000.1","sequence":"{n}","side":"buy","size":"0.001","symbol":"BTC-USDT","time":"1700000000000000000","tradeId":"{n}","type":"match"}}}}"#
        )
    };
    let frames: Vec<String> = (101..6_000u64).flat_map(|n| [increment(n), matched(n)]).collect();
    let snapshot = br#"{"code":"200000","data":{"time":1700000000000,"sequence":"100","bids":[["59999.0","1"]],"asks":[["60011.0","1"]]}}"#;
    let mut sink = 0u64;
    let (warm, steady) = frames.split_at(2_000);
    for f in warm {
        d.on_frame(f.as_bytes(), Nanos(1), &mut |ev: &MarketEvent| sink += ev.qty.units() as u64);
        if d.wants_snapshot(0) {
            d.on_snapshot_body(0, snapshot, Nanos(1), &mut |_| {});
        }
    }
    assert!(d.is_synced(0), "{:?}", d.counters());
    let before = allocations();
    for f in steady {
        d.on_frame(f.as_bytes(), Nanos(1), &mut |ev: &MarketEvent| sink += ev.qty.units() as u64);
    }
    let used = allocations() - before;
    let c = d.counters();
    assert_eq!((c.gaps, c.parse_errors.iter().sum::<u64>()), (0, 0), "{c:?}");
    assert!(c.trades >= 5_000 && sink > 0);
    assert_eq!(used, 0, "{used} allocations over {} frames", steady.len());
}

fn instrument_spec(symbol: &str, tick: &str, lot: &str) -> InstrumentSpec {
    InstrumentSpec::spot(Venue::Binance, symbol, "B", "USDT", tick, lot)
}

/// The shared live layer (`WsFeed`, here with OKX: `books` + `trades` + `bbo-tbt`) over the
/// whole socket path against the simulator's OKX protocol: allocations per received frame are
/// measured and printed — rustls and tungstenite allocate per record/frame; `WsFeed` and the
/// OKX decoder add none in steady state — and bounded so a regression shows.
#[test]
fn ws_feed_socket_path_allocations_per_frame_are_measured() {
    use std::time::{Duration, Instant};
    let symbols = vec![(stream_util::instrument(Venue::Okx, 0, "BTC-USDT", "BTC", "USDT", "0.00001"), "65000")];
    let server = stream_util::start_sim(
        stream_util::market(symbols, 2_000.0),
        std::sync::Arc::new(qt_venue_sim::okx::OkxV5::new()),
    );
    let mut cfg = qt_feed::okx::live::OkxFeedConfig::new(stream_util::feed_config(&server, "okx"));
    cfg.bbo = true;
    let mut h = stream_util::Harness::new(server, qt_feed::okx::live::OkxLive::feed(cfg).unwrap(), "okx");
    h.run_until(Duration::from_secs(10), "sync", |h| h.all_synced());
    let run = |h: &mut stream_util::Harness<qt_feed::okx::live::OkxLive>, d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            h.step();
        }
    };
    run(&mut h, Duration::from_millis(500));
    let messages = |h: &stream_util::Harness<qt_feed::okx::live::OkxLive>| h.feed.decoder().counters().stats.messages;
    let (m0, a0) = (messages(&h), allocations());
    run(&mut h, Duration::from_secs(2));
    let (frames, allocated) = (messages(&h) - m0, allocations() - a0);
    let per_frame = allocated as f64 / frames.max(1) as f64;
    eprintln!("WsFeed<OkxLive> socket path: {frames} frames, {allocated} allocations, {per_frame:.2} per frame");
    assert!(frames > 50 && h.all_synced(), "{:?}", h.feed.decoder().counters());
    assert!(per_frame < 16.0, "allocations per frame regressed: {per_frame:.2}");
}
