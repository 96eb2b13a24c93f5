//! The feed benches follow the venue registry: `examples/feed_ratio.rs` walks
//! `qt_tools::venues::VENUES` and measures each venue through its `stream_benches` entry, so a
//! venue in the registry without a bench (or a bench for a venue the registry lacks) would go
//! unmeasured. Every registry venue has exactly one bench, in registry order.

use qt_benches::stream_benches::{STREAM_BENCHES, stream_bench};
use qt_tools::venues::VENUES;

#[test]
fn every_registry_venue_has_one_bench_in_registry_order() {
    let registry: Vec<_> = VENUES.iter().map(|e| e.venue).collect();
    let benches: Vec<_> = STREAM_BENCHES.iter().map(|b| b.venue).collect();
    assert_eq!(benches, registry);
    for e in &VENUES {
        assert_eq!(stream_bench(e.venue).map(|b| b.venue), Some(e.venue), "{}", e.name());
    }
    assert!(stream_bench(qt_core::Venue::Sim).is_none(), "the built-in simulated venue has no wire stream");
}

/// Every bench's stream decodes cleanly on both sides and ends with the same books (what the
/// criterion benches and `feed_ratio` check before timing), through the table's own entries.
#[test]
fn every_bench_stream_decodes_the_same_on_both_sides() {
    for bench in &STREAM_BENCHES {
        (bench.check)(&(bench.stream)());
    }
}
