//! The body the three `feed_parse*` criterion benches share: for each venue asked for, its
//! registry-keyed bench (`qt_benches::stream_benches`) — the standard stream, checked on both
//! sides before timing — as one criterion group (the bench's `group` name) with our decoder
//! (`qt_decoder_into_book`) and the serde_json baseline (`serde_json_value_into_btreemap`), each
//! iteration one untimed set-up and one timed pass over the measured frames. Figures are per
//! message (criterion throughput = measured frames).

use criterion::{Criterion, SamplingMode, Throughput};
use qt_benches::stream_benches::stream_bench;
use qt_core::Venue;
use std::time::Duration;

/// One group per venue of `venues`, in that order (a venue without a bench is skipped).
pub(crate) fn feed_parse(c: &mut Criterion, venues: &[Venue]) {
    for bench in venues.iter().filter_map(|&v| stream_bench(v)) {
        let stream = (bench.stream)();
        (bench.check)(&stream);
        let frames = stream.measured().len();
        eprintln!("{}: {frames} measured frames, mean {:.1} bytes", bench.group, stream.mean_frame_bytes());
        let mut g = c.benchmark_group(bench.group);
        g.throughput(Throughput::Elements(frames as u64));
        g.sampling_mode(SamplingMode::Flat);
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(4));
        g.bench_function("qt_decoder_into_book", |b| b.iter_custom(|n| (0..n).map(|_| (bench.ours)(&stream)).sum()));
        g.bench_function("serde_json_value_into_btreemap", |b| {
            b.iter_custom(|n| (0..n).map(|_| (bench.serde)(&stream)).sum())
        });
        g.finish();
    }
}
