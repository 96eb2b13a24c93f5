//! A bounded quick fuzz of every venue decoder in the normal suite: the same drivers as the
//! `cargo fuzz` targets (`feed/fuzz/src/lib.rs`, included here), fed each venue's
//! `testdata/<venue>/` files and a fixed number of deterministic mutations of them (bit flips,
//! truncations, spliced and duplicated lines, digits and signs swapped, random bytes). The
//! property: no panic, and every record a decoder emits is one the book accepts. Seeded, so a
//! failure reproduces; a few seconds in all.

#[path = "../fuzz/src/lib.rs"]
#[allow(unreachable_pub, dead_code, reason = "the fuzz crate's API, used here in part")]
mod drivers;
use qt_test_support::capture::{capture_text, kraken_v1_book_to_v2, testdata_dir};

use drivers::{Parser, run_frames, run_snapshot};

/// Mutated inputs per seed file and entry point.
const MUTATIONS: usize = 48;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A JSON file as one line (the frame drivers split on newlines); other text as it is.
fn one_line(text: &str) -> Vec<u8> {
    serde_json::from_str::<serde_json::Value>(text)
        .map_or_else(|_| text.as_bytes().to_vec(), |v| v.to_string().into_bytes())
}

/// Seeds of a venue folder: captures cut into runs of 8 lines, JSON files on one line.
fn seeds(venue: &str, snapshots_only: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(testdata_dir().join(venue))
        .expect("testdata folder")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    for path in paths {
        // Subfolders (`orders/`: order-entry samples) are not market data.
        if path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let is_snapshot = name.starts_with("snapshot_") && name.ends_with(".json");
        if snapshots_only != is_snapshot || name.ends_with(".md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("testdata file");
        if name.ends_with(".jsonl") {
            // The Kraken capture is WS v1; the decoder reads v2 (see testdata/kraken/README.md).
            let lines: Vec<String> = match venue {
                "kraken" => text.lines().map(kraken_v1_book_to_v2).collect(),
                _ => text.lines().map(str::to_string).collect(),
            };
            out.extend(lines.chunks(8).take(12).map(|c| c.join("\n").into_bytes()));
        } else {
            out.push(one_line(&text));
        }
    }
    assert!(!out.is_empty(), "no seeds in testdata/{venue}");
    out
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len());
        match rng.below(8) {
            0 => b.truncate(at),
            1 if !b.is_empty() => b[at] ^= 1 << rng.below(8),
            2 if !b.is_empty() => b[at] = b"0123456789-.\"e,:[]{}\n"[rng.below(21)],
            3 => b.splice(at..at, (0..rng.below(8)).map(|_| rng.next() as u8)).for_each(drop),
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from + 1);
                b.splice(at..at, other[from..from + len].iter().copied()).for_each(drop);
            }
            5 => {
                // Duplicate a line: a repeated sequence number.
                let line: Vec<u8> = b.split(|c| *c == b'\n').next().unwrap_or_default().to_vec();
                b.extend_from_slice(b"\n");
                b.extend_from_slice(&line);
            }
            6 => {
                // Swap a digit for another, or negate a number.
                if let Some(i) = b.iter().skip(at).position(u8::is_ascii_digit).map(|i| i + at) {
                    if rng.below(2) == 0 {
                        b[i] = b'0' + rng.below(10) as u8;
                    } else {
                        b.insert(i, b'-');
                    }
                }
            }
            _ => b.drain(at..(at + rng.below(16)).min(b.len())).for_each(drop),
        }
    }
    b
}

fn fuzz(parser: Parser, venue: &str, snapshot: bool) {
    let seeds = seeds(venue, snapshot);
    let run = |data: &[u8]| if snapshot { run_snapshot(parser, data) } else { run_frames(parser, data) };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ venue.len() as u64);
    for (i, seed) in seeds.iter().enumerate() {
        run(seed);
        let other = &seeds[(i + 1) % seeds.len()];
        for _ in 0..MUTATIONS {
            run(&mutate(&mut rng, seed, other));
        }
    }
}

#[test]
fn binance_spot_frames_and_snapshots_survive_mutations() {
    fuzz(Parser::BinanceSpot, "binance_spot", false);
    fuzz(Parser::BinanceSpot, "binance_spot", true);
}

#[test]
fn binance_usdm_frames_and_snapshots_survive_mutations() {
    fuzz(Parser::BinanceUsdm, "binance_usdm", false);
    fuzz(Parser::BinanceUsdm, "binance_usdm", true);
}

#[test]
fn bybit_frames_survive_mutations() {
    fuzz(Parser::Bybit, "bybit", false);
}

#[test]
fn okx_frames_survive_mutations() {
    fuzz(Parser::Okx, "okx", false);
}

#[test]
fn kucoin_frames_and_snapshots_survive_mutations() {
    fuzz(Parser::Kucoin, "kucoin", false);
    fuzz(Parser::Kucoin, "kucoin", true);
}

#[test]
fn kraken_frames_survive_mutations() {
    fuzz(Parser::Kraken, "kraken", false);
}

#[test]
fn firi_bodies_survive_mutations() {
    fuzz(Parser::Firi, "firi", false);
}

/// Found by `cargo fuzz run binance_usdm_snapshot` (and `firi_body`): a level priced `"0"` was
/// emitted as a book level the book refuses; it is now refused as a bad decimal.
#[test]
fn a_snapshot_level_priced_zero_is_refused() {
    let body = br#"{"lastUpdateId":600859619434,"E":1626992742018,"T":1626992742012,"bids":[["7.5","631"],["0","800"]],"asks":[["7.6","5"]]}"#;
    run_snapshot(Parser::BinanceUsdm, body);
    run_snapshot(Parser::BinanceSpot, body);
    let kucoin =
        br#"{"code":"200000","data":{"sequence":"1613277183875","time":1,"bids":[["0","1"]],"asks":[["5.1","1"]]}}"#;
    run_snapshot(Parser::Kucoin, kucoin);
    // A diff at price 0 on a synced Binance book: refused (resync), not applied.
    let snapshot = br#"@{"lastUpdateId":499869749,"bids":[["0.35","1"]],"asks":[["0.36","1"]]}"#;
    let diff = br#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":499869750,"u":499869752,"b":[["0","0"]],"a":[]}}"#;
    let first = br#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":499869748,"u":499869749,"b":[],"a":[]}}"#;
    run_frames(Parser::BinanceSpot, &[&first[..], b"\n", snapshot, b"\n", diff].concat());
    // Found by `cargo fuzz run firi_body`: the same in a Firi depth body.
    let stats = run_frames(Parser::Firi, br#"{"bids":[["0","1.501"]],"asks":[]}"#);
    assert_eq!(stats.parse_errors, 1, "{stats:?}");
}

/// The frame drivers reach the synced paths: a recorded diff, its REST snapshot (`@` line) and
/// the diffs after it apply without a gap; the recorded Bybit stream applies too.
#[test]
fn the_drivers_reach_the_synced_paths() {
    let capture = capture_text("binance_spot", "depth.jsonl");
    let snapshot = one_line(&capture_text("binance_spot", "snapshot_NKNUSDT.json"));
    let lines: Vec<&str> = capture.lines().filter(|l| l.contains("NKNUSDT")).take(20).collect();
    let input = [lines[0].as_bytes(), b"\n@", &snapshot, b"\n", lines[1..].join("\n").as_bytes()].concat();
    let stats = run_frames(Parser::BinanceSpot, &input);
    // Binance emits diffs only once synced, so any record from the frames proves the sync.
    assert!(stats.records > 0 && stats.gaps == 0 && stats.parse_errors == 0, "{stats:?}");
    let bybit = capture_text("bybit", "orderbook_spot.jsonl");
    let stats = run_frames(Parser::Bybit, bybit.lines().take(40).collect::<Vec<_>>().join("\n").as_bytes());
    assert!(stats.records > 100 && stats.parse_errors == 0 && stats.gaps == 0, "{stats:?}");
    let kraken = capture_text("kraken", "book.jsonl");
    let v2: Vec<String> = kraken.lines().take(400).map(kraken_v1_book_to_v2).collect();
    let stats = run_frames(Parser::Kraken, v2.join("\n").as_bytes());
    assert!(stats.records > 0 && stats.checksum_ok > 0, "{stats:?}");
    let okx = capture_text("okx", "books.jsonl");
    let stats = run_frames(Parser::Okx, okx.lines().take(60).collect::<Vec<_>>().join("\n").as_bytes());
    assert!(stats.records > 0 && stats.checksum_ok > 0, "{stats:?}");
}
