//! The stats file end to end: blocks placed, described, read back; the reader's refusals.

use super::blocks::{
    AccountStats, AccountVenueStats, BookStats, FeedBlock, LatencyStats, RiskStats, StrategyStats, VenueStats,
};
use super::layout::{self, HEADER_LEN, header};
use super::*;
use crate::counters::EngineCounters;
use proptest::prelude::*;

fn described_once<T: StatBlock>() {
    let region = StatsRegion::anonymous(Capacity { slots: 1024 }).unwrap();
    let h = region.block::<T>(Owner::Core, &[("account", "a1")]).unwrap();
    let d = Describer::run(&*h, 0, Owner::Core, &[]);
    assert!(d.problems.is_empty(), "{}: {:?}", std::any::type_name::<T>(), d.problems);
    assert_eq!(d.metrics.len(), size_of::<T>() / 8, "{}", std::any::type_name::<T>());
}

#[test]
fn every_slot_of_every_block_is_described_once() {
    described_once::<EngineCounters>();
    described_once::<AccountStats>();
    described_once::<AccountVenueStats>();
    described_once::<VenueStats>();
    described_once::<super::blocks::GatewayClockStats>();
    described_once::<FeedBlock>();
    described_once::<BookStats>();
    described_once::<StrategyStats>();
    described_once::<LatencyStats>();
    described_once::<RiskStats>();
    described_once::<super::blocks::JournalBlock>();
    described_once::<super::blocks::ExporterBlock>();
    described_once::<super::blocks::ReconciliationBlock>();
    described_once::<Histogram>();
}

/// A block describing one field twice and another not at all.
#[derive(Debug, Default)]
#[repr(C)]
struct Bad {
    a: crate::counters::Counter,
    b: crate::counters::Counter,
}

// SAFETY: `#[repr(C)]`, two `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for Bad {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.a, "a_total", &[], "");
        d.counter(&self.a, "a_total", &[], "");
    }
}

#[test]
fn a_badly_described_block_is_refused() {
    let region = StatsRegion::anonymous(Capacity { slots: 64 }).unwrap();
    let err = region.block::<Bad>(Owner::Core, &[]).unwrap_err().to_string();
    assert!(err.contains("described twice"), "{err}");
    let d = Describer::run(&Bad::default(), 0, Owner::Core, &[]);
    assert!(d.problems.iter().any(|p| p.contains("slot 1 of the block is not described")), "{:?}", d.problems);
}

#[test]
fn a_file_round_trips_through_the_reader() {
    let dir = tempfile_dir();
    let path = dir.join("rt.stats");
    let region = StatsRegion::create(&path, Capacity { slots: 512 }).unwrap();
    region.set_heartbeat_interval(100_000_000);
    let counters = region.block::<EngineCounters>(Owner::Core, &[]).unwrap();
    let account = region.block::<AccountStats>(Owner::Core, &[("account", "alpha")]).unwrap();
    let lat = region.block::<LatencyStats>(Owner::Core, &[]).unwrap();
    counters.fills.add(7);
    account.equity.set((-1_250_000_000i64) as u64);
    lat.tick_to_order.record(150);
    region.heartbeat().beat(unix_now_ns());

    let snap = Snapshot::read_file(&path).unwrap();
    assert_eq!(snap.header.pid, u64::from(std::process::id()));
    let fills = snap.named("fills_total").next().expect("fills described");
    assert_eq!(fills.raw, 7);
    let equity = snap.named("account_equity").next().unwrap();
    assert_eq!((equity.decimal(), equity.desc.labels.as_str()), ("-12.5".to_string(), "account=\"alpha\""));
    let bucket = snap.named("tick_to_order_seconds").find(|s| s.desc.le == 200).unwrap();
    assert_eq!(bucket.raw, 1);
    assert_eq!(snap.liveness(unix_now_ns()), Liveness::Live);
    assert!(matches!(snap.liveness(unix_now_ns() + 10_000_000_000), Liveness::Stale { .. }));
    // The in-process copy reads the same.
    let copy = Snapshot::parse(&region.snapshot_bytes()).unwrap();
    assert_eq!(copy.samples, snap.samples);
    // A second writer is refused while the first holds the file.
    assert!(matches!(StatsRegion::create(&path, Capacity { slots: 512 }), Err(StatsError::Locked { .. })));
    drop((counters, account, lat, region));
    assert!(StatsRegion::create(&path, Capacity { slots: 512 }).is_ok(), "free once the writer is gone");
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d =
        std::env::temp_dir().join(format!("qt-core-stats-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sample_bytes() -> Vec<u8> {
    let region = StatsRegion::anonymous(Capacity { slots: 256 }).unwrap();
    let c = region.block::<EngineCounters>(Owner::Core, &[]).unwrap();
    c.fills.add(3);
    region.snapshot_bytes()
}

#[test]
fn the_reader_refuses_bad_magic_version_and_truncation() {
    let good = sample_bytes();
    assert!(Snapshot::parse(&good).is_ok());
    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(matches!(Snapshot::parse(&bad), Err(ReadError::Foreign(_))), "foreign");
    let mut zero = good.clone();
    zero[..8].fill(0);
    assert!(matches!(Snapshot::parse(&zero), Err(ReadError::NotInitialised)));
    let mut v2 = good.clone();
    v2[header::VERSION..header::VERSION + 8].copy_from_slice(&2u64.to_le_bytes());
    assert!(matches!(Snapshot::parse(&v2), Err(ReadError::Version { found: 2 })));
    assert!(matches!(Snapshot::parse(&good[..HEADER_LEN - 1]), Err(ReadError::Truncated { .. })));
    assert!(matches!(Snapshot::parse(&good[..good.len() - 1]), Err(ReadError::Truncated { .. })));
    let mut rec = good.clone();
    rec[HEADER_LEN + layout::record::NAME] ^= 0x20;
    assert!(matches!(Snapshot::parse(&rec), Err(ReadError::Corrupt(_))), "checksum");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_reader_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
        let _ = Snapshot::parse(&bytes);
    }

    #[test]
    fn the_reader_never_panics_on_a_damaged_file(cut in 0usize..40_000, flips in proptest::collection::vec((0usize..40_000, any::<u8>()), 0..8)) {
        let mut b = sample_bytes();
        for (at, x) in flips {
            let n = b.len();
            b[at % n] ^= x;
        }
        let n = b.len();
        b.truncate(cut.min(n));
        let _ = Snapshot::parse(&b);
    }
}
