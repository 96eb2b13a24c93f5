//! Every venue at once, as a user runs it: `qt venue-sim` serving all seven protocols
//! (`examples/venue-sim-all.toml`, on free ports) and `qt run` on
//! `examples/all-venues-venue-sim.toml` against it for a few seconds. Every book becomes valid
//! and matches the simulator's own book (`GET /_sim/book`, served on every listener): the
//! engine's journaled book at a venue sequence equals the simulator's image at that update id
//! where the venue's sequence is the market's, and equals some image everywhere. Faults
//! injected on two venues' listeners alone (`"only_here"`: a dropped connection and a corrupted
//! level on OKX, a skipped sequence and a truncated frame on Bybit) move those venues' counters
//! and resync them, and leave the other five untouched. Then `qt capture` + `qt feed-check` round trip for every venue.

mod util;

use qt_core::{Book, EventKind, Instrument, InstrumentId, InstrumentSpec, Side, Venue};
use qt_feed::snapshot::HttpsClient;
use qt_recorder::{JournalReader, RecordType};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Each venue, the port the examples give it, and the symbol its capture records.
const VENUES: [(&str, u16, &str); 7] = [
    ("binance", 9443, "BTCUSDT"),
    ("binance_usdm", 9445, "BTCUSDT"),
    ("bybit", 9444, "BTCUSDT"),
    ("okx", 9448, "BTC-USDT"),
    ("kucoin", 9446, "BTC-USDT"),
    ("kraken", 9449, "BTC/USDT"),
    ("firi", 9447, "BTCUSDT"),
];

/// Venues whose book sequence is the market's update id (what `/_sim/book` reports).
const MARKET_SEQUENCE: [&str; 4] = ["binance", "binance_usdm", "kucoin", "okx"];

/// Levels compared per side: the shallowest book subscribed (Kraken's depth 10).
const DEPTH: usize = 10;

type Levels = Vec<(i64, i64)>;

/// `qt venue-sim` serving every venue.
type Sim = util::venue_sim::VenueSimProcess;

/// Starts `qt venue-sim` on `examples/venue-sim-all.toml` with free ports, a slow flow and its
/// CA file in `dir`.
fn start_sim(dir: &Path) -> Sim {
    let mut text = include_str!("../../examples/venue-sim-all.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", "ca_file = \"ca.pem\"")
        .replace("events_per_sec = 200.0", "events_per_sec = 40.0")
        .replace("events_per_sec = 100.0", "events_per_sec = 20.0");
    for (_, port, _) in VENUES {
        text = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:0");
    }
    let sim = Sim::start(dir, &text);
    assert!(sim.ca.is_absolute(), "the CA file's path is printed absolute: {}", sim.ca.display());
    assert_eq!(sim.ca, dir.join("ca.pem"));
    sim
}

/// The simulator's symbols on the engine's grid (tick 0.01; lots as configured).
fn market_instruments() -> HashMap<&'static str, Instrument> {
    let btc = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001");
    let eth = InstrumentSpec::spot(Venue::Binance, "ETHUSDTPERP", "ETH", "USDT", "0.01", "0.001");
    HashMap::from([
        ("BTCUSDT", Instrument::from_spec(InstrumentId(0), &btc).unwrap()),
        ("ETHUSDTPERP", Instrument::from_spec(InstrumentId(1), &eth).unwrap()),
    ])
}

/// `GET /_sim/book` of `inst`: (updateId, bids, asks), best first, in units.
fn sim_book(client: &HttpsClient, inst: &Instrument) -> (u64, Levels, Levels) {
    let (status, body) = client.get(&format!("/_sim/book?symbol={}&depth={DEPTH}", inst.symbol())).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let side = |key: &str| -> Levels {
        let levels = v[key].as_array().unwrap();
        levels
            .iter()
            .map(|l| {
                let p = inst.parse_price(l[0].as_str().unwrap()).unwrap();
                let q = inst.parse_qty(l[1].as_str().unwrap()).unwrap();
                (p.units(), q.units())
            })
            .collect()
    };
    (v["updateId"].as_u64().unwrap(), side("bids"), side("asks"))
}

/// `dir`'s all-venues run configuration: the example with the simulator's ports and CA file,
/// a gentle idle strategy (the test machine has two cores) and the journal in `journal`.
fn run_config(sim: &Sim, dir: &Path) -> PathBuf {
    let mut text = include_str!("../../examples/all-venues-venue-sim.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", sim.ca.display().to_string()))
        // Trades often: the strategy reads OKX's book and orders go to Binance.
        .replace("threshold = \"0.6\"", "threshold = \"0.1\"")
        .replace(
            "idle = { kind = \"spin_yield\", spins = 10000 }",
            "idle = { kind = \"backoff\", spins = 100, yields = 10, max_sleep_us = 200 }",
        );
    for (venue, port, _) in VENUES {
        text = text.replace(&format!("127.0.0.1:{port}"), &sim.addrs[venue].to_string());
    }
    text.push_str(&format!("\n[journal]\ndir = {:?}\n", dir.join("journal").display().to_string()));
    let path = dir.join("all-venues.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A figure after `name ` on the summary's `venue     <venue>:` line.
fn venue_figure(summary: &str, venue: &str, name: &str) -> u64 {
    let prefix = format!("venue     {venue}:");
    let line =
        summary.lines().find(|l| l.trim_start().starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} line"));
    let at = line.find(&format!(" {name} ")).unwrap_or_else(|| panic!("no {name} in {line}"));
    line[at + name.len() + 2..].split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

/// The books the journal's market events build, per instrument: at every batch end with the
/// book valid, its top levels, by venue sequence and as a set.
struct Journaled {
    by_seq: Vec<HashMap<u64, (Levels, Levels)>>,
    states: Vec<HashSet<(Levels, Levels)>>,
}

fn journaled_books(dir: &Path, instruments: usize) -> Journaled {
    let mut books: Vec<Book> = (0..instruments).map(|i| Book::new(InstrumentId(i as u32), 1000)).collect();
    let mut out = Journaled { by_seq: vec![HashMap::new(); instruments], states: vec![HashSet::new(); instruments] };
    let mut reader = JournalReader::open(dir).unwrap();
    while let Some(r) = reader.next().unwrap() {
        if r.entry.kind != RecordType::MarketEvent {
            continue;
        }
        let ev = qt_recorder::payload::market::decode(r.entry.payload, r.entry.payload_version).unwrap();
        let i = ev.instrument.index();
        let Some(book) = books.get_mut(i) else { continue };
        let _ = book.apply(&ev);
        let is_book = matches!(ev.kind, EventKind::BookSnapshot | EventKind::BookDelta);
        if is_book && ev.is_batch_end() && book.is_valid() {
            let side = |s| book.levels(s).take(DEPTH).map(|l| (l.price.units(), l.qty.units())).collect::<Levels>();
            let top = (side(Side::Buy), side(Side::Sell));
            out.by_seq[i].insert(ev.seq, top.clone());
            out.states[i].insert(top);
        }
    }
    out
}

#[test]
fn every_venue_live_in_one_run_matches_the_simulator_and_faults_stay_on_their_venue() {
    let dir = util::temp_dir("all-venues");
    let sim = start_sim(&dir);
    let markets = market_instruments();
    // The simulator's own book is served on every protocol's listener.
    let clients: Vec<HttpsClient> = VENUES.iter().map(|(v, _, _)| sim.client(v)).collect();
    for ((venue, _, _), c) in VENUES.iter().zip(&clients) {
        let (_, bids, asks) = sim_book(c, &markets["BTCUSDT"]);
        assert!(!bids.is_empty() && !asks.is_empty(), "/_sim/book on the {venue} listener");
    }

    let config = run_config(&sim, &dir);
    let (mut cmd, _cwd) = util::qt_command();
    let mut run = cmd
        .args(["run", "--config"])
        .arg(&config)
        .args(["--duration", "14s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs: the simulator's images, and one fault after another on two venues'
    // listeners alone: a dropped connection (OKX) and a skipped sequence (Bybit) at 5 s, once
    // those have resynced a corrupted level (OKX) and a truncated frame (Bybit) at 8 s.
    let faults = [
        (5, "okx", r#"{"only_here":true,"drop_ws":true}"#),
        (5, "bybit", r#"{"only_here":true,"skip_sequence":1}"#),
        (8, "okx", r#"{"only_here":true,"corrupt_levels":1}"#),
        (8, "bybit", r#"{"only_here":true,"truncated_frames":1}"#),
    ];
    let started = Instant::now();
    let mut images: HashMap<&str, Vec<(u64, Levels, Levels)>> = HashMap::new();
    let mut injected = 0;
    while run.try_wait().unwrap().is_none() {
        for (name, inst) in &markets {
            images.entry(name).or_default().push(sim_book(&clients[0], inst));
        }
        while let Some((at, venue, body)) = faults.get(injected).filter(|f| started.elapsed().as_secs() >= f.0) {
            let i = VENUES.iter().position(|(v, _, _)| v == venue).unwrap();
            let (status, reply) = clients[i].post("/_sim/faults", body.as_bytes()).unwrap();
            assert_eq!(status, 200, "{venue} at {at} s: {}", String::from_utf8_lossy(&reply));
            injected += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout:\n{summary}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(injected, faults.len(), "the run ended before the faults:\n{summary}");

    // The strategy read OKX's book and traded on Binance (`signal_venue`).
    let orders = summary.lines().find(|l| l.trim_start().starts_with("orders ")).expect("an orders line");
    let sent: u64 = orders.split("sent ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(sent > 0, "no order sent on OKX's signal:\n{summary}");
    assert!(summary.contains("gateway   binance: sent"), "{summary}");

    // Every venue's books valid at the end; the faulted ones resynced; the others untouched.
    for (venue, _, _) in VENUES {
        let books = if venue == "bybit" { 2 } else { 1 };
        assert_eq!(venue_figure(&summary, venue, "valid"), books, "{venue}:\n{summary}");
        assert_eq!(venue_figure(&summary, venue, "invalid"), 0, "{venue}:\n{summary}");
        assert!(venue_figure(&summary, venue, "messages") > 5, "{venue}:\n{summary}");
        match venue {
            "okx" => {
                assert!(venue_figure(&summary, venue, "failures") >= 1, "okx checksum:\n{summary}");
                assert_eq!(venue_figure(&summary, venue, "errors"), 0, "okx:\n{summary}");
                assert!(venue_figure(&summary, venue, "resyncs") >= 2, "okx: the drop and the checksum:\n{summary}");
            }
            "bybit" => {
                assert!(venue_figure(&summary, venue, "gaps") >= 1, "bybit gap:\n{summary}");
                // A truncated frame is counted; it resyncs a book only if it was that book's
                // (it may have been a trade's).
                assert!(venue_figure(&summary, venue, "errors") >= 1, "bybit truncated frame:\n{summary}");
                assert!(venue_figure(&summary, venue, "resyncs") >= 1, "bybit: the gap:\n{summary}");
            }
            _ => {
                for figure in ["resyncs", "gaps", "failures", "errors"] {
                    assert_eq!(venue_figure(&summary, venue, figure), 0, "{venue} {figure}:\n{summary}");
                }
            }
        }
    }

    // The engine's books against the simulator's images (instrument ids in configuration order).
    let instruments: [(&str, &str); 8] = [
        ("binance", "BTCUSDT"),
        ("binance_usdm", "BTCUSDT"),
        ("bybit", "BTCUSDT"),
        ("bybit", "ETHUSDTPERP"),
        ("okx", "BTCUSDT"),
        ("kucoin", "BTCUSDT"),
        ("kraken", "BTCUSDT"),
        ("firi", "BTCUSDT"),
    ];
    let journaled = journaled_books(&dir.join("journal"), instruments.len());
    // The run, with its seven venues, faults, resyncs and cross-venue orders, replays identically.
    util::assert_replays(&dir.join("journal"));
    for (i, (venue, market)) in instruments.iter().enumerate() {
        let images = &images[market];
        let same_state =
            images.iter().filter(|(_, b, a)| journaled.states[i].contains(&(b.clone(), a.clone()))).count();
        assert!(same_state > 0, "{venue} {market}: no book state equal to any of {} /_sim/book images", images.len());
        if MARKET_SEQUENCE.contains(venue) {
            let mut common = 0;
            for (id, bids, asks) in images {
                if let Some((b, a)) = journaled.by_seq[i].get(id) {
                    common += 1;
                    assert_eq!((b, a), (bids, asks), "{venue} {market} at update id {id}");
                }
            }
            assert!(common > 0, "{venue} {market}: no /_sim/book image at a sequence the engine's book had");
        }
    }

    // `qt capture` + `qt feed-check` for every venue (the faults were one-shot: all clean now).
    let captures: Vec<(&str, &str, PathBuf, Child)> = VENUES
        .iter()
        .map(|(venue, _, symbol)| {
            let out_dir = dir.join(format!("capture-{venue}"));
            let addr = sim.addrs[*venue];
            let child = Command::new(env!("CARGO_BIN_EXE_qt"))
                .args(["capture", "--venue", venue, "--symbols", symbol, "--duration", "3s"])
                .args(["--poll-interval", "100ms", "--server-name", "localhost"])
                .args(["--price-decimals", "2", "--qty-decimals", "5"])
                .args(["--ws-url", &format!("wss://{addr}"), "--rest-url", &format!("https://{addr}")])
                .arg("--ca-file")
                .arg(&sim.ca)
                .arg("--out")
                .arg(&out_dir)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            (*venue, *symbol, out_dir, child)
        })
        .collect();
    for (venue, symbol, out_dir, mut child) in captures {
        assert!(child.wait().unwrap().success(), "qt capture --venue {venue}");
        let mut check = Command::new(env!("CARGO_BIN_EXE_qt"));
        check.args(["feed-check", "--venue", venue, "--symbols", symbol, "--quiet"]);
        check.args(["--price-decimals", "2", "--qty-decimals", "5"]);
        let snapshot = out_dir.join(format!("snapshot_{symbol}.json"));
        if snapshot.exists() {
            check.arg("--snapshot").arg(format!("{symbol}={}", snapshot.display()));
        }
        let out = check.arg(out_dir.join("frames.jsonl")).env("RUST_LOG", "warn").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{venue}: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            text.contains(" gaps 0 ") && text.contains("checksum failures 0") && text.contains("parse errors 0"),
            "{venue}: {text}"
        );
        assert!(text.contains("valid books 1/1"), "{venue}: {text}");
        let messages: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(messages >= 5, "{venue}: {text}");
    }
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}
