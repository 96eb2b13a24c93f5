//! The frame feed `qt bench` drives the engine with: its pacing stamps each frame with when its
//! bytes were available (a late poll does not move the stamp: coordinated-omission correction),
//! it resyncs at the end of each lap with venue times still increasing, and the venue table
//! covers every registry venue, each wiring an engine that sends orders.

use qt_benches::feed_streams::{binance_depth_stream, binance_synced};
use qt_benches::frame_feed::{FrameFeed, FrameProbe, Pace, SyncStep};
use qt_benches::frame_venues::{FRAME_VENUES, frame_engine, frame_venue};
use qt_core::feed_source::FeedSource;
use qt_core::{Clock, EventKind, MarketEvent, Nanos, OrderCommand, SimClock};
use qt_tools::venues::VENUES;

/// A Binance feed over a 10-frame stream (plus the bridging frame), paced by `pace`.
fn small_feed(pace: Pace) -> (FrameFeed, std::sync::Arc<FrameProbe>, SimClock) {
    let stream = binance_depth_stream(10, qt_benches::SEED);
    let decoder = Box::new(binance_synced(&stream).0);
    let clock = SimClock::new(Nanos::ZERO);
    let (feed, probe) = FrameFeed::new(decoder, stream, SyncStep::FrameThenBody, pace, clock.clone());
    (feed, probe, clock)
}

/// Polls once at `now`; the records delivered.
fn poll(feed: &mut FrameFeed, now: i64) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    feed.poll(Nanos(now), &mut |ev: &MarketEvent| out.push(*ev));
    out
}

#[test]
fn a_fixed_rate_stamps_frames_when_they_were_due_not_when_polled() {
    let (mut feed, probe, _) = small_feed(Pace::Interval(Nanos(1_000)));
    let sync = poll(&mut feed, 5_000);
    assert!(sync.iter().any(|ev| ev.kind == EventKind::BookSnapshot), "the first poll syncs on the snapshot");
    assert_eq!((probe.take_stamp(), probe.syncs(), probe.frames()), (FrameProbe::SYNC, 1, 0));
    // Warm-up: back to back, stamped with the poll.
    for now in [5_100, 5_101] {
        assert!(poll(&mut feed, now).iter().all(|ev| ev.local_ns == Nanos(now)));
        assert_eq!(probe.take_stamp(), now);
    }
    probe.start_pacing();

    let first = poll(&mut feed, 6_000);
    assert!(!first.is_empty() && first.iter().all(|ev| ev.local_ns == Nanos(6_000)));
    assert_eq!(probe.take_stamp(), 6_000);
    assert_eq!(probe.take_stamp(), FrameProbe::NONE, "taken once");

    assert!(poll(&mut feed, 6_500).is_empty(), "the next frame is not due before 7 000");
    assert_eq!(probe.take_stamp(), FrameProbe::NONE);

    // A loop that comes back late finds two frames waiting: each keeps the time it was due.
    let late = poll(&mut feed, 9_300);
    assert!(late.iter().all(|ev| ev.local_ns == Nanos(7_000)), "stamped when due, not when polled");
    assert_eq!(probe.take_stamp(), 7_000);
    assert!(poll(&mut feed, 9_300).iter().all(|ev| ev.local_ns == Nanos(8_000)));
    assert_eq!(probe.take_stamp(), 8_000);
    assert_eq!(probe.frames(), 5);
}

#[test]
fn at_max_rate_every_poll_delivers_a_frame_stamped_with_the_poll() {
    let (mut feed, probe, _) = small_feed(Pace::Max);
    poll(&mut feed, 100);
    for now in [200, 201, 202] {
        let records = poll(&mut feed, now);
        assert!(!records.is_empty() && records.iter().all(|ev| ev.local_ns == Nanos(now)));
        assert_eq!(probe.take_stamp(), now);
    }
}

#[test]
fn each_lap_resyncs_and_venue_time_keeps_increasing() {
    let (mut feed, probe, clock) = small_feed(Pace::Max);
    let mut last_venue_time = Nanos::ZERO;
    let mut polls = 0;
    while probe.syncs() < 3 {
        let records = poll(&mut feed, 1_000 + polls);
        polls += 1;
        let stamp = probe.take_stamp();
        for ev in records.iter().filter(|ev| ev.kind == EventKind::BookDelta) {
            assert!(ev.exchange_ns >= last_venue_time, "venue time never goes back, across laps too");
            last_venue_time = ev.exchange_ns;
        }
        if stamp == FrameProbe::SYNC {
            assert!(records.iter().any(|ev| ev.kind == EventKind::BookSnapshot), "a lap starts with the snapshot");
        }
        assert!(polls < 100, "three syncs within three laps of ten frames");
    }
    // Three syncs: the first, then one after each of two laps of ten measured frames.
    assert_eq!(probe.frames(), 20);
    assert_eq!(clock.now(), last_venue_time);
    let stats = feed.stats().expect("a decoding feed has counters");
    assert_eq!((stats.parse_errors, stats.gaps, stats.checksum_failed), (0, 0, 0), "{stats:?}");
}

#[test]
fn every_registry_venue_has_a_frame_venue_in_registry_order() {
    let registry: Vec<_> = VENUES.iter().map(|e| e.venue).collect();
    let table: Vec<_> = FRAME_VENUES.iter().map(|v| v.venue).collect();
    assert_eq!(table, registry);
    assert!(frame_venue(qt_core::Venue::Sim).is_none());
}

/// Every venue's engine, driven a few thousand frames at full speed, sends orders (the order
/// size is on its lot grid and within the reference account's limits) and records their
/// tick→order; its feed sees no gap, parse error or checksum failure.
#[test]
fn every_venue_engine_sends_orders_from_its_frames() {
    qt_core::sys::init_clock();
    for entry in &FRAME_VENUES {
        let (mut engine, mut venue, probe) = frame_engine(entry.venue, Pace::Max).expect("a stream");
        let (mut timed, mut untimed) = (0u64, 0u64);
        while probe.frames() < 3_000 {
            engine.do_work();
            let stamp = probe.take_stamp();
            venue.serve(|command| {
                let OrderCommand::New { sent_local_ns, .. } = command else { return };
                if stamp > FrameProbe::SYNC {
                    assert!(sent_local_ns.0 >= stamp, "{}: sent after the frame was available", entry.venue);
                    timed += 1;
                } else {
                    // The sync poll's last snapshot record may trigger one (the bench leaves it untimed).
                    assert_eq!(stamp, FrameProbe::SYNC, "{}: an order comes from a poll that delivered", entry.venue);
                    untimed += 1;
                }
            });
        }
        let report = engine.report(qt_core::sys::Pinning::NotRequested, Nanos::ZERO);
        assert!(timed > 100, "{}: {timed} orders; risk {}", entry.venue, report.risk.render());
        assert!(untimed <= probe.syncs(), "{}: {untimed} untimed orders", entry.venue);
        assert_eq!(report.tick_to_order.count, timed + untimed, "{}: the engine timed the same orders", entry.venue);
        let (_, stats) = &report.feeds[0];
        let stats = stats.expect("the frame feed has counters");
        assert_eq!((stats.parse_errors, stats.gaps, stats.checksum_failed), (0, 0, 0), "{}", entry.venue);
    }
}
