//! What the `cargo fuzz` targets of `qt-feed` drive, and what `feed/tests/quick_fuzz.rs` drives
//! for a bounded number of mutated inputs in the normal test suite (it includes this file with
//! `#[path]`): each venue decoder ([`Parser`]) over instruments that match the symbols of
//! `testdata/<venue>/`, fed raw bytes exactly as a socket or a REST poll would hand them over,
//! every emitted record applied to a `qt_core::Book`.
//!
//! Two entry points per decoder: [`run_frames`] (every line of the input is one frame; a line
//! starting with `@` is a REST snapshot body for symbol 0 instead, so a fuzzer can reach the
//! synced paths) and [`run_snapshot`] (the whole input is symbol 0's snapshot body, offered
//! after a recorded frame made the symbol want one). The property checked is the issue's: bad
//! bytes give a typed error, a count or a resync — never a panic — and every record a decoder
//! emits is one the book accepts.

use qt_core::{Book, Instrument, InstrumentId, InstrumentSpec, MarketEvent, Nanos, Venue};
use qt_feed::decoder::{FeedStats, VenueDecoder};

/// A venue decoder under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    BinanceSpot,
    BinanceUsdm,
    Bybit,
    Okx,
    Kucoin,
    Kraken,
    Firi,
}

/// Symbols (with tick and lot) of each venue's testdata, symbol 0 first in its capture. Few
/// per venue: a decoder preallocates its diff buffers per symbol (megabytes), and a fuzz
/// iteration builds a fresh decoder.
fn symbols(p: Parser) -> &'static [(&'static str, &'static str, &'static str)] {
    const E8: &str = "0.00000001";
    match p {
        Parser::BinanceSpot => &[("NKNUSDT", E8, E8), ("BNBBTC", E8, E8), ("BNBUSDT", E8, E8)],
        Parser::BinanceUsdm => &[("SUSHIUSDT", "0.0001", "0.001"), ("BTCUSDT", "0.01", "0.001")],
        Parser::Bybit => {
            &[("BTCUSDT", "0.01", "0.000001"), ("ETHUSDT", "0.01", "0.00001"), ("SOLUSDT", "0.01", "0.001")]
        }
        Parser::Okx => &[("BTC-USD-220527", "0.1", "1"), ("UNI-USD-SWAP", "0.001", "1"), ("BTC-USDT", "0.1", E8)],
        Parser::Kucoin => &[("BCHSV-USDT", "0.001", "0.00000000001"), ("BTC-USDT", "0.1", E8)],
        Parser::Kraken => &[
            ("XMR/USD", E8, E8),
            ("SC/EUR", "0.000001", E8),
            ("ADA/XBT", "0.000000001", E8),
            ("XBT/CHF", "0.00001", E8),
            ("BTC/USD", "0.1", E8),
        ],
        Parser::Firi => &[("BTCNOK", "0.01", E8)],
    }
}

fn venue(p: Parser) -> Venue {
    match p {
        Parser::BinanceSpot => Venue::Binance,
        Parser::BinanceUsdm => Venue::BinanceUsdm,
        Parser::Bybit => Venue::Bybit,
        Parser::Okx => Venue::Okx,
        Parser::Kucoin => Venue::Kucoin,
        Parser::Kraken => Venue::Kraken,
        Parser::Firi => Venue::Firi,
    }
}

/// The instruments of `p`'s testdata symbols (index = symbol index).
pub fn instruments(p: Parser) -> Vec<Instrument> {
    symbols(p)
        .iter()
        .enumerate()
        .map(|(i, (symbol, tick, lot))| {
            let spec = InstrumentSpec::spot(venue(p), symbol, "B", "Q", tick, lot);
            Instrument::from_spec(InstrumentId(i as u32), &spec).expect("valid fuzz instrument")
        })
        .collect()
}

/// A fresh decoder of `p` over [`instruments`].
pub fn decoder(p: Parser) -> Box<dyn VenueDecoder> {
    let inst = instruments(p);
    match p {
        Parser::BinanceSpot => Box::new(qt_feed::binance::Decoder::new(&inst)),
        Parser::BinanceUsdm => Box::new(qt_feed::binance_usdm::Decoder::new(&inst)),
        // Depth 200: the topic of the recorded spot stream (`orderbook_spot.jsonl`).
        Parser::Bybit => Box::new(qt_feed::bybit::Decoder::new(&inst, 200)),
        Parser::Okx => Box::new(qt_feed::okx::Decoder::new(&inst)),
        Parser::Kucoin => Box::new(qt_feed::kucoin::Decoder::new(&inst)),
        Parser::Kraken => {
            let precisions: Vec<qt_feed::kraken::Precision> = inst
                .iter()
                .map(|i| qt_feed::kraken::Precision { price: i.price_scale(), qty: i.qty_scale() })
                .collect();
            Box::new(qt_feed::kraken::Decoder::with_depth(&inst, &precisions, 10))
        }
        Parser::Firi => Box::new(qt_feed::firi::Decoder::new(inst[0].clone())),
    }
}

/// A recorded frame after which symbol 0 wants a REST snapshot (venues that sync from one).
fn priming_frame(p: Parser) -> Option<&'static [u8]> {
    let capture: &'static str = match p {
        Parser::BinanceSpot => include_str!("../../../testdata/binance_spot/depth.jsonl"),
        Parser::BinanceUsdm => include_str!("../../../testdata/binance_usdm/depth.jsonl"),
        Parser::Kucoin => include_str!("../../../testdata/kucoin/level2.jsonl"),
        _ => return None,
    };
    capture.lines().next().map(str::as_bytes)
}

/// Books fed every record; a record a book refuses is a decoder bug. A book left crossed (the
/// data is mutated: prices may cross) is handed back to the decoder, as the engine does.
struct Sink {
    books: Vec<Book>,
    crossed: Vec<usize>,
}

impl Sink {
    fn new(p: Parser) -> Self {
        Self { books: instruments(p).iter().map(|i| Book::new(i.id(), 4096)).collect(), crossed: Vec::new() }
    }

    fn emit(&mut self) -> impl FnMut(&MarketEvent) + '_ {
        |ev: &MarketEvent| {
            let i = ev.instrument.index();
            let book = self.books.get_mut(i).expect("record for a known instrument");
            match book.apply(ev) {
                Ok(()) => {}
                Err(qt_core::BookError::Crossed) => self.crossed.push(i),
                Err(e) => panic!("decoder emitted a record the book refuses ({e:?}): {ev:?}"),
            }
        }
    }

    /// Resyncs the books the last frame left crossed.
    fn resync_crossed(&mut self, dec: &mut dyn VenueDecoder, now: Nanos) {
        for i in std::mem::take(&mut self.crossed) {
            dec.on_book_refused(i, qt_core::BookError::Crossed, now, &mut self.emit());
        }
    }
}

/// Every line of `data` is one frame (`@` + body: a snapshot body for symbol 0); the
/// decoder's counters before the final disconnect.
pub fn run_frames(p: Parser, data: &[u8]) -> FeedStats {
    let mut dec = decoder(p);
    let mut sink = Sink::new(p);
    for (n, line) in data.split(|b| *b == b'\n').enumerate() {
        let now = Nanos(n as i64 * 1_000_000);
        match line.strip_prefix(b"@") {
            Some(body) => {
                dec.on_snapshot_body(0, body, now, &mut sink.emit());
            }
            None => dec.on_frame(line, now, &mut sink.emit()),
        }
        sink.resync_crossed(dec.as_mut(), now);
    }
    let stats = dec.stats();
    dec.on_disconnect(Nanos(i64::MAX / 2), &mut sink.emit());
    stats
}

/// `data` is symbol 0's REST snapshot body, offered after a recorded frame (and followed by it
/// again: stale or bridging, depending on the body's ids); the decoder's counters.
pub fn run_snapshot(p: Parser, data: &[u8]) -> FeedStats {
    let mut dec = decoder(p);
    let mut sink = Sink::new(p);
    let frame = priming_frame(p);
    if let Some(f) = frame {
        dec.on_frame(f, Nanos(1), &mut sink.emit());
    }
    dec.on_snapshot_body(0, data, Nanos(2), &mut sink.emit());
    sink.resync_crossed(dec.as_mut(), Nanos(2));
    if let Some(f) = frame {
        dec.on_frame(f, Nanos(3), &mut sink.emit());
    }
    sink.resync_crossed(dec.as_mut(), Nanos(3));
    dec.stats()
}
