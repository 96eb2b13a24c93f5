//! Wall-time ratio of the serde_json baseline to our decoder per venue, measured interleaved: each
//! round times one full pass of ours and one of the baseline over the same stream back to back
//! (alternating which goes first), and the figure is the median of the per-round ratios.
//!
//! The criterion benches (`benches/feed_parse*.rs`) time ours and the baseline minutes apart, so
//! on a shared machine (this one shows ~50 % steal time) a slow spell lands on one side only and
//! the ratio of their medians swings by ±0.5. Pairing the two in each round cancels slow-varying
//! contention; the spread of the per-round ratios shows what is left.
//!
//! ```sh
//! cargo run --release -p qt-benches --example feed_ratio            # every venue, 9 rounds
//! cargo run --release -p qt-benches --example feed_ratio -- kraken 21
//! ```
//!
//! Arguments: a venue as the registry names it (`binance`, `binance_usdm`, `bybit`, `okx`,
//! `kucoin`, `kraken`, `firi`; or `all`) and the number of rounds. The venues are the registry's
//! (`qt_tools::venues::VENUES`), each measured through its `qt_benches::stream_benches` entry:
//! streams, set-up and measured paths are exactly the criterion benches' (the same seeded
//! streams, `decode_into_book` against the `serde_*` functions), and both sides are checked to end
//! with the same books first.

use qt_benches::feed_streams::VenueStream;
use qt_benches::stream_benches::{StreamBench, stream_bench};
use qt_tools::venues::VENUES;

/// Median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `rounds` interleaved rounds of `bench` over `stream` and prints the venue's line.
fn measure(name: &str, stream: &VenueStream, bench: &StreamBench, rounds: usize) {
    let frames = stream.measured().len() as f64;
    // One untimed pass each: caches, page faults, branch predictors.
    (bench.ours)(stream);
    (bench.serde)(stream);
    let (mut ours_ns, mut serde_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (o, s) = if round % 2 == 0 {
            let o = (bench.ours)(stream);
            (o, (bench.serde)(stream))
        } else {
            let s = (bench.serde)(stream);
            ((bench.ours)(stream), s)
        };
        ours_ns.push(o.as_nanos() as f64 / frames);
        serde_ns.push(s.as_nanos() as f64 / frames);
        ratios.push(s.as_secs_f64() / o.as_secs_f64());
    }
    let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "{name:<12} ours {:>7.0} ns/msg   serde_json {:>7.0} ns/msg   ratio median {:.2}x  (min {lo:.2}, max {hi:.2}, {rounds} rounds)",
        median(&mut ours_ns),
        median(&mut serde_ns),
        median(&mut ratios),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let venue = args.get(1).map_or("all", String::as_str);
    let rounds: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(9).max(1);
    let mut any = false;
    for entry in VENUES.iter().filter(|e| venue == "all" || venue == e.name()) {
        let Some(bench) = stream_bench(entry.venue) else { continue };
        let stream = (bench.stream)();
        (bench.check)(&stream);
        measure(entry.name(), &stream, bench, rounds);
        any = true;
    }
    if !any {
        let names = qt_tools::venues::names(|e| stream_bench(e.venue).is_some());
        eprintln!("unknown venue {venue:?}: {names} or all");
        std::process::exit(2);
    }
}
