//! [`BinanceFeed`]: Binance spot market data (diff depth, book ticker, trades) as a
//! [`qt_core::FeedSource`] polled by the core thread.
//!
//! One combined-stream WebSocket (`/stream?streams=<sym>@depth@100ms/<sym>@bookTicker/<sym>@trade
//! /...`) over TLS on a non-blocking mio socket ([`crate::ws::WsClient`]); frames are parsed by
//! [`wire::FrameParser`] and depth diffs go through one [`rules::DepthSync`] per symbol, whose
//! REST snapshots come from the snapshot thread of [`crate::kit::live::LiveFeed`], the
//! live layer [`BinanceFeed`] is an instance of ([`connect`] says what differs).
//!
//! Thread and contract: owned and polled by the core thread. `poll` never blocks: socket I/O
//! only on readiness, `try_send`/`try_recv` on the snapshot channels. After warm-up the
//! parse → sync → emit path allocates nothing (`tests/no_alloc.rs` counts); the WebSocket
//! and TLS layers below allocate per frame/record (measured and reported there). Cold paths
//! (connect, reconnect, resync, snapshot application) allocate and are `#[cold]`.
//!
//! Records: snapshot → `BookSnapshot` (first `CLEAR`, last `BATCH_END`, `seq = lastUpdateId`);
//! diff → `BookDelta` per level (`seq = u`, `prev_seq = U`, last `BATCH_END`, `exchange_ns` from
//! `E`); bookTicker → two `BestBidOffer` (`seq = u`, no venue time); trade → one `Trade`
//! (`seq = t`, side = aggressor). A gap, an unreadable depth frame or a disconnect emits one
//! `BookSnapshot` record with `CLEAR` and no `BATCH_END`: the engine's book empties and stays
//! invalid until the resync's snapshot ends with `BATCH_END`.

mod canonical;
pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

pub use connect::{
    BinanceFeed, BinanceFeedConfig, BinanceSpot, CombinedStreams, DEFAULT_DEPTH_LIMIT, RECONNECT_BASE, RECONNECT_CAP,
};

/// Binance spot's decoder (everything below the socket: the kit's snapshot+diff shell over
/// [`wire::FrameParser`] and one [`rules::DepthSync`] per symbol). Public so replay and tests
/// drive the exact parse → sync → emit path without a socket.
pub type Decoder = crate::kit::depth_decoder::DepthDecoder<wire::FrameParser>;

/// The decoder's counters, and [`BinanceFeed::counters`] (with the connection's).
pub type BinanceCountersSnapshot = crate::kit::depth_decoder::DepthCounters;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder::VenueDecoder;
    use qt_core::{Book, EventKind, Instrument, InstrumentRegistry, InstrumentSpec, MarketEvent, Nanos, Venue};

    fn btcusdt() -> Instrument {
        let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001");
        let mut registry = InstrumentRegistry::new();
        registry.add(&spec).unwrap();
        registry.get(qt_core::InstrumentId(0)).unwrap().clone()
    }

    fn diff(first: u64, last: u64, bids: &str, asks: &str) -> Vec<u8> {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":[{bids}],"a":[{asks}]}}}}"#
        )
        .into_bytes()
    }

    /// A decoder synced on a snapshot at update id 10 (bid 100.00, ask 101.00), its records in `book`.
    fn synced() -> (Decoder, Book) {
        let inst = btcusdt();
        let mut d = Decoder::new(std::slice::from_ref(&inst));
        let mut book = Book::new(inst.id(), 16);
        let mut apply = |ev: &MarketEvent| book.apply(ev).unwrap();
        VenueDecoder::on_frame(&mut d, &diff(9, 11, r#"["100.00","2"]"#, ""), Nanos(0), &mut apply);
        let snapshot = br#"{"lastUpdateId":10,"bids":[["100.00","1"]],"asks":[["101.00","1"]]}"#;
        assert!(VenueDecoder::on_snapshot_body(&mut d, 0, snapshot, Nanos(0), &mut apply));
        assert!(book.is_valid());
        (d, book)
    }

    /// `records` counts every record the decoder emits, as the other snapshot+diff venues'
    /// do: the snapshot's (through `on_snapshot_body`, which Binance's own shell did not count),
    /// a frame's, and a disconnect's invalidation (not counted either).
    #[test]
    fn records_counts_every_record_emitted_snapshots_and_invalidations_included() {
        let inst = btcusdt();
        let mut d = Decoder::new(std::slice::from_ref(&inst));
        let mut seen = 0u64;
        let mut count = |_: &MarketEvent| seen += 1;
        VenueDecoder::on_frame(&mut d, &diff(9, 11, r#"["100.00","2"]"#, ""), Nanos(0), &mut count);
        let snapshot = br#"{"lastUpdateId":10,"bids":[["100.00","1"]],"asks":[["101.00","1"]]}"#;
        assert!(VenueDecoder::on_snapshot_body(&mut d, 0, snapshot, Nanos(0), &mut count));
        VenueDecoder::on_frame(&mut d, &diff(12, 12, r#"["99.00","1"]"#, ""), Nanos(1), &mut count);
        VenueDecoder::on_disconnect(&mut d, Nanos(2), &mut count);
        assert_eq!(seen, 2 + 1 + 1 + 1, "snapshot, bridged diff, diff, invalidation");
        assert_eq!(d.stats().records, seen);
    }

    #[test]
    fn an_in_sequence_diff_goes_straight_to_the_sink_with_batch_end_on_its_last_record() {
        let (mut d, mut book) = synced();
        let before = d.stats().records;
        let mut records = Vec::new();
        let frame = diff(12, 13, r#"["100.00","3"],["99.99","1"]"#, r#"["101.00","0"]"#);
        VenueDecoder::on_frame(&mut d, &frame, Nanos(5), &mut |ev| {
            records.push(*ev);
            book.apply(ev).unwrap();
        });
        let flags: Vec<u16> = records.iter().map(|e| e.flags).collect();
        assert_eq!(flags, [0, 0, MarketEvent::BATCH_END]);
        assert!(records.iter().all(|e| e.kind == EventKind::BookDelta && e.seq == 13 && e.prev_seq == 12));
        assert_eq!(book.best_bid().map(|l| (l.price.units(), l.qty.units())), Some((10_000, 300_000)));
        assert_eq!(book.best_ask(), None);
        assert_eq!(d.stats().records - before, 3, "records of this frame");
        // The next diff must follow 13.
        let mut gap = Vec::new();
        VenueDecoder::on_frame(&mut d, &diff(15, 16, r#"["100.00","1"]"#, ""), Nanos(6), &mut |ev| gap.push(*ev));
        assert_eq!(d.stats().gaps, 1);
        assert!(gap.iter().all(|e| e.is_clear()), "a gap emits only the invalidation: {gap:?}");
    }

    #[test]
    fn a_diff_refused_half_way_leaves_the_book_invalid_and_asks_for_a_snapshot() {
        let (mut d, mut book) = synced();
        let mut records = Vec::new();
        // The second level's price is not a number: the first level has already gone out.
        let frame = diff(12, 13, r#"["100.00","3"],["x","1"]"#, "");
        VenueDecoder::on_frame(&mut d, &frame, Nanos(5), &mut |ev| {
            records.push(*ev);
            book.apply(ev).unwrap();
        });
        assert_eq!(d.stats().parse_errors, 1);
        assert!(records.iter().all(|e| !e.is_batch_end()), "no record ends a batch: {records:?}");
        let last = records.last().expect("the invalidation");
        assert!(last.is_clear() && last.kind == EventKind::BookSnapshot);
        assert!(!book.is_valid(), "the engine's book is invalid after the refused diff");
        assert_eq!(d.stats().resyncs, 1);
        // Resync: the next diff is buffered and asks for a fresh snapshot; nothing reaches the book.
        let mut after = Vec::new();
        VenueDecoder::on_frame(&mut d, &diff(14, 15, r#"["100.00","1"]"#, ""), Nanos(6), &mut |ev| after.push(*ev));
        assert!(after.is_empty(), "{after:?}");
        assert!(VenueDecoder::wants_snapshot(&d, 0), "the symbol resyncs");
    }

    #[test]
    fn direct_and_staged_paths_emit_the_same_records() {
        // In sequence, an empty diff, a stale one, and a gap.
        let frames = [
            diff(12, 13, r#"["100.00","3"],["99.50","1"]"#, r#"["101.00","0"]"#),
            diff(14, 14, "", r#"["101.50","2"]"#),
            diff(15, 15, "", ""),
            diff(16, 18, r#"["99.50","0"]"#, r#"["101.25","1"],["102.00","4"]"#),
            diff(13, 14, r#"["98.00","1"]"#, ""),
            diff(19, 19, r#"["100.25","1"]"#, ""),
            diff(21, 22, r#"["98.00","1"]"#, ""),
        ];
        let run = |direct: bool| {
            let (mut d, mut book) = synced();
            d.set_direct(direct);
            let mut records = Vec::new();
            for (n, frame) in frames.iter().enumerate() {
                VenueDecoder::on_frame(&mut d, frame, Nanos(n as i64), &mut |ev| {
                    records.push(*ev);
                    book.apply(ev).unwrap();
                });
            }
            (records, d.stats())
        };
        let (direct, staged) = (run(true), run(false));
        assert!(direct.0.len() >= 8, "{:?}", direct.0);
        assert_eq!(direct, staged);
        assert_eq!(direct.1.gaps, 1);
    }
}
