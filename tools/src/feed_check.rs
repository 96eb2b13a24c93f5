//! `qt feed-check` and `qt capture`: verify a capture of raw venue messages through the same
//! decoder and book the engine uses, and record such a capture from a live connection.
//!
//! A capture is one raw message per line (a WebSocket text frame exactly as received, or a REST
//! body for REST-polled venues). `feed-check` prints, per message, the top of each changed book,
//! the checksum verdict where the venue has one and whether the book is valid, then the counts
//! of messages, gaps, checksum failures and parse errors. Venues whose sync needs a REST
//! snapshot (Binance) take it from `--snapshot SYMBOL=FILE`.

use anyhow::{Context, anyhow, bail};
use qt_core::{Book, DecimalStyle, Instrument, InstrumentId, InstrumentSpec, MarketEvent, Nanos, Venue, sys};
use qt_feed::{ChecksumVerdict, DecoderStats, VenueDecoder};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Instruments for a capture: every symbol on a grid of `10^-price_decimals` and
/// `10^-qty_decimals` (exact for any message at or below those decimals).
pub fn capture_instruments(
    venue: Venue,
    symbols: &[String],
    price_decimals: u8,
    qty_decimals: u8,
) -> anyhow::Result<Vec<Instrument>> {
    let unit = |d: u8| qt_core::decimal::format_scaled(1, d, DecimalStyle::Trimmed).to_string();
    symbols
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let spec = InstrumentSpec::spot(venue, s, "", "", &unit(price_decimals), &unit(qty_decimals));
            Instrument::from_spec(InstrumentId(i as u32), &spec).with_context(|| format!("symbol {s}"))
        })
        .collect()
}

/// The decoder for `venue` over `instruments`; `depth` is the subscribed book depth for venues
/// whose topics name one (Bybit `orderbook.{depth}.{symbol}`).
pub fn decoder_for(venue: Venue, instruments: &[Instrument], depth: u16) -> anyhow::Result<Box<dyn VenueDecoder>> {
    Ok(match venue {
        Venue::Binance => Box::new(qt_feed::binance::Decoder::new(instruments)),
        Venue::BinanceUsdm => Box::new(qt_feed::binance_usdm::Decoder::new(instruments)),
        Venue::Bybit => Box::new(qt_feed::bybit::Decoder::new(instruments, depth)),
        Venue::Kucoin => Box::new(qt_feed::kucoin::Decoder::new(instruments)),
        Venue::Firi => match instruments {
            [one] => Box::new(qt_feed::firi::Decoder::new(one.clone())),
            _ => bail!("a Firi capture holds one market's depth bodies; give exactly one --symbols"),
        },
        Venue::Okx => Box::new(qt_feed::okx::Decoder::new(instruments)),
        // Kraken's checksum formats at the pair's precision: the capture's decimals must be it.
        Venue::Kraken => Box::new(qt_feed::kraken::Decoder::with_depth(
            instruments,
            &[],
            if depth == 0 { qt_feed::kraken::DEPTHS[0] } else { usize::from(depth) },
        )),
        other => bail!(
            "no decoder for {other} in this build (available: binance, binance_usdm, bybit, kucoin, firi, okx, kraken)"
        ),
    })
}

/// What a feed check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Decoder counters at the end.
    pub stats: DecoderStats,
    /// Lines read.
    pub lines: u64,
    /// Books valid at the end.
    pub valid_books: usize,
}

/// Replays `lines` through the venue's decoder into books; writes a line per message to `out`.
pub fn check(
    venue: Venue,
    instruments: &[Instrument],
    lines: impl Iterator<Item = std::io::Result<String>>,
    snapshots: &HashMap<String, Vec<u8>>,
    depth: u16,
    out: &mut dyn Write,
) -> anyhow::Result<CheckSummary> {
    sys::init_clock();
    let mut decoder = decoder_for(venue, instruments, depth)?;
    let mut books: Vec<Book> = instruments.iter().map(|i| Book::new(i.id(), 10_000)).collect();
    let mut used_snapshot = vec![false; instruments.len()];
    let mut changed = vec![false; instruments.len()];
    let mut summary = CheckSummary::default();
    let mut line_text = String::new();
    for (n, line) in lines.enumerate() {
        let line = line.context("reading the capture")?;
        if line.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        let now = sys::mono_now();
        changed.iter_mut().for_each(|c| *c = false);
        let before = decoder.stats();
        let mut apply = |ev: &MarketEvent| {
            if let Some(book) = books.get_mut(ev.instrument.index()) {
                let _ = book.apply(ev);
                changed[ev.instrument.index()] = true;
            }
        };
        decoder.on_frame(line.as_bytes(), now, &mut apply);
        for i in 0..instruments.len() {
            if !used_snapshot[i]
                && decoder.wants_snapshot(i)
                && let Some(body) = snapshots.get(instruments[i].symbol())
            {
                used_snapshot[i] = true;
                decoder.on_snapshot_body(i, body, now, &mut apply);
            }
        }
        let after = decoder.stats();
        line_text.clear();
        let _ = write!(line_text, "{:>6}", n + 1);
        for (i, book) in books.iter().enumerate() {
            if !changed[i] {
                continue;
            }
            let inst = &instruments[i];
            let side = |l: Option<qt_core::Level>| match l {
                Some(l) => format!(
                    "{} x {}",
                    l.price.to_text(inst.price_scale(), DecimalStyle::Trimmed),
                    l.qty.to_text(inst.qty_scale(), DecimalStyle::Trimmed)
                ),
                None => "-".into(),
            };
            let _ = write!(
                line_text,
                "  {} {} | {}{}",
                inst.symbol(),
                side(book.best_bid()),
                side(book.best_ask()),
                if book.is_valid() { "" } else { " (invalid)" }
            );
        }
        match decoder.last_checksum() {
            ChecksumVerdict::None => {}
            ChecksumVerdict::Match => line_text.push_str("  checksum ok"),
            ChecksumVerdict::Mismatch => line_text.push_str("  CHECKSUM MISMATCH"),
        }
        if after.gaps > before.gaps {
            line_text.push_str("  GAP");
        }
        if after.parse_errors > before.parse_errors {
            line_text.push_str("  PARSE ERROR");
        }
        writeln!(out, "{line_text}")?;
    }
    summary.stats = decoder.stats();
    summary.valid_books = books.iter().filter(|b| b.is_valid()).count();
    let s = summary.stats;
    writeln!(
        out,
        "messages {}  records {}  gaps {}  checksum ok {}  checksum failures {}  parse errors {}  resyncs {}  valid books {}/{}",
        s.messages,
        s.records,
        s.gaps,
        s.checksum_ok,
        s.checksum_failed,
        s.parse_errors,
        s.resyncs,
        summary.valid_books,
        books.len()
    )?;
    Ok(summary)
}

/// Reads `SYMBOL=FILE` snapshot arguments.
pub fn read_snapshots(args: &[String]) -> anyhow::Result<HashMap<String, Vec<u8>>> {
    let mut map = HashMap::new();
    for a in args {
        let (sym, file) = a.split_once('=').ok_or_else(|| anyhow!("--snapshot {a:?}: expected SYMBOL=FILE"))?;
        let body = std::fs::read(file).with_context(|| format!("reading snapshot {file}"))?;
        map.insert(sym.to_string(), body);
    }
    Ok(map)
}

/// The book depth a Bybit capture subscribed (`orderbook.{depth}.…`), if it names one.
pub fn bybit_depth_in(path: &Path) -> anyhow::Result<Option<u16>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    for line in std::io::BufReader::new(file).lines().take(1000) {
        let line = line?;
        if let Some(d) = topic(&line).and_then(|t| t.strip_prefix("orderbook.")).and_then(|r| r.split('.').next()) {
            return Ok(d.parse().ok());
        }
    }
    Ok(None)
}

fn topic(line: &str) -> Option<&str> {
    line.split("\"topic\":\"").nth(1).and_then(|r| r.split('"').next())
}

/// Symbols named in a capture, for when `--symbols` is not given (Binance combined streams).
pub fn symbols_in(path: &Path, venue: Venue) -> anyhow::Result<Vec<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut seen: Vec<String> = Vec::new();
    for line in std::io::BufReader::new(file).lines().take(100_000) {
        let line = line?;
        let sym = match venue {
            Venue::Binance | Venue::BinanceUsdm => {
                line.split("\"s\":\"").nth(1).and_then(|r| r.split('"').next()).map(str::to_string)
            }
            // "topic":"orderbook.50.BTCUSDT" / "publicTrade.BTCUSDT"
            Venue::Bybit => topic(&line).and_then(|t| t.rsplit('.').next()).map(str::to_string),
            // "topic":"/market/level2:BTC-USDT"
            Venue::Kucoin => {
                topic(&line).and_then(|t| t.rsplit(':').next()).filter(|s| !s.contains(',')).map(str::to_string)
            }
            // "instId":"BTC-USDT" (in "arg" and in trade items)
            Venue::Okx => quoted_after(&line, "\"instId\":\""),
            // "symbol":"BTC/USD" inside data items
            Venue::Kraken => quoted_after(&line, "\"symbol\":\""),
            _ => None,
        };
        if let Some(s) = sym
            && !seen.contains(&s)
        {
            seen.push(s);
        }
    }
    if seen.is_empty() {
        bail!("no symbols found in {}; pass --symbols", path.display());
    }
    Ok(seen)
}

/// The text between `key` and the next `"` in `line`.
fn quoted_after(line: &str, key: &str) -> Option<String> {
    line.split(key).nth(1).and_then(|r| r.split('"').next()).map(str::to_string)
}

/// A capture's WebSocket client for `ws_url` with the request target `target(configured)`.
fn capture_client(
    ws_url: &str,
    target: impl FnOnce(&str) -> String,
    ca_file: Option<&Path>,
    server_name: Option<&str>,
) -> anyhow::Result<qt_feed::ws::WsClient> {
    let tls = qt_feed::tls::client_config(ca_file)?;
    let ws = qt_feed::endpoint::Endpoint::parse(ws_url, "ws_url")?;
    let client = qt_feed::ws::WsClient::new(
        &ws,
        ws.resolve()?,
        &target(&ws.target),
        ws.server_name(server_name)?,
        tls,
        qt_feed::ws::Backoff::new(Nanos(100 * Nanos::MILLI.0), Nanos::SECOND, 1),
    );
    Ok(client)
}

/// Drives `client` for `duration`, writing every received frame as one line of
/// `out_dir/frames.jsonl`; `each_turn(client, progress, frames so far, now)` runs after every
/// poll (subscriptions, heartbeats, snapshots). Returns the frame count and the file.
fn record_frames(
    mut client: qt_feed::ws::WsClient,
    duration: std::time::Duration,
    out_dir: &Path,
    mut each_turn: impl FnMut(&mut qt_feed::ws::WsClient, qt_feed::ws::WsProgress, u64, Nanos) -> anyhow::Result<()>,
) -> anyhow::Result<(u64, PathBuf)> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut poll = mio::Poll::new()?;
    client.register(poll.registry(), 0)?;
    let mut events = mio::Events::with_capacity(64);
    let frames_path = out_dir.join("frames.jsonl");
    let mut frames = std::io::BufWriter::new(std::fs::File::create(&frames_path)?);
    let started = std::time::Instant::now();
    let mut count = 0u64;
    let mut write_error = None;
    while started.elapsed() < duration {
        poll.poll(&mut events, Some(std::time::Duration::from_millis(10)))?;
        if !events.is_empty() {
            client.on_ready();
        }
        let now = sys::mono_now();
        let progress = client.poll(now, &mut |frame: &[u8]| {
            count += 1;
            if let Err(e) = frames.write_all(frame).and_then(|_| frames.write_all(b"\n")) {
                write_error = Some(e);
            }
        });
        if let Some(e) = write_error.take() {
            return Err(e).context("writing frames");
        }
        each_turn(&mut client, progress, count, now)?;
    }
    frames.flush()?;
    Ok((count, frames_path))
}

/// `qt capture` for a venue whose book snapshot arrives in the stream (OKX, Kraken): opens the
/// venue's stream, sends its subscribe requests (again after a reconnect) and its heartbeat
/// text at its interval, and records every received text frame, one per line, into
/// `out_dir/frames.jsonl`.
pub fn capture_stream<V: qt_feed::ws_feed::StreamVenue>(
    venue: &V,
    ws_url: &str,
    ca_file: Option<&Path>,
    server_name: Option<&str>,
    duration: std::time::Duration,
    out_dir: &Path,
) -> anyhow::Result<(u64, PathBuf)> {
    use qt_feed::ws_feed::Heartbeat;
    let client = capture_client(ws_url, |t| venue.ws_target(t), ca_file, server_name)?;
    let heartbeat = match venue.heartbeat() {
        Heartbeat::None => None,
        Heartbeat::Every { text, interval } | Heartbeat::WhenSilent { text, interval } => Some((text, interval)),
    };
    let requests = venue.subscribe_requests();
    let mut last_beat = sys::mono_now();
    record_frames(client, duration, out_dir, |client, progress, _, now| {
        if progress.opened {
            for request in &requests {
                let _ = client.send_text(request, now);
            }
            last_beat = now;
        }
        if let Some((text, interval)) = &heartbeat
            && client.is_open()
            && now.saturating_sub(last_beat) >= *interval
        {
            last_beat = now;
            let _ = client.send_text(text, now);
        }
        Ok(())
    })
}

/// `qt capture`: records raw frames of Binance combined streams (diff depth, bookTicker, trade)
/// and the REST snapshots of `symbols` into `out_dir` (`frames.jsonl`, `snapshot_<SYM>.json`).
pub fn capture_binance(
    ws_url: &str,
    rest_url: &str,
    ca_file: Option<&Path>,
    server_name: Option<&str>,
    symbols: &[String],
    duration: std::time::Duration,
    out_dir: &Path,
) -> anyhow::Result<(u64, PathBuf)> {
    use qt_feed::endpoint::Endpoint;
    let rest = Endpoint::parse(rest_url, "rest_url")?;
    let streams: Vec<String> = symbols
        .iter()
        .flat_map(|s| {
            let l = s.to_lowercase();
            [format!("{l}@depth@100ms"), format!("{l}@bookTicker"), format!("{l}@trade")]
        })
        .collect();
    let target = format!("/stream?streams={}", streams.join("/"));
    let client = capture_client(ws_url, |_| target, ca_file, server_name)?;
    let tls = qt_feed::tls::client_config(ca_file)?;
    let https = qt_feed::snapshot::HttpsClient::new(rest.clone(), rest.resolve()?, rest.server_name(server_name)?, tls);
    let started = std::time::Instant::now();
    let mut snapshots_taken = false;
    record_frames(client, duration, out_dir, |_, _, count, _| {
        // Snapshots once the stream runs, so the capture holds diffs from before them.
        if !snapshots_taken && count > 0 && started.elapsed() > std::time::Duration::from_millis(300) {
            snapshots_taken = true;
            for s in symbols {
                let (status, body) = https.get(&format!("/api/v3/depth?symbol={s}&limit=1000"))?;
                if status != 200 {
                    bail!("snapshot of {s}: HTTP {status}");
                }
                std::fs::write(out_dir.join(format!("snapshot_{s}.json")), body)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_bybit_capture_checks_clean() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
        let bybit = root.join("bybit/orderbook_spot.jsonl");
        let symbols = symbols_in(&bybit, Venue::Bybit).unwrap();
        let instruments = capture_instruments(Venue::Bybit, &symbols, 8, 8).unwrap();
        let text = std::fs::read_to_string(&bybit).unwrap();
        let depth = bybit_depth_in(&bybit).unwrap().unwrap();
        assert_eq!(depth, 200);
        let mut out = Vec::new();
        let summary = check(
            Venue::Bybit,
            &instruments,
            text.lines().map(|l| Ok(l.to_string())),
            &HashMap::new(),
            depth,
            &mut out,
        )
        .unwrap();
        assert_eq!((summary.stats.gaps, summary.stats.parse_errors), (0, 0), "{}", String::from_utf8_lossy(&out));
        assert_eq!(summary.valid_books, symbols.len());
    }

    #[test]
    fn recorded_binance_capture_checks_clean() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/binance_spot");
        let symbols = symbols_in(&root.join("depth.jsonl"), Venue::Binance).unwrap();
        assert_eq!(symbols.len(), 4, "{symbols:?}");
        let instruments = capture_instruments(Venue::Binance, &symbols, 8, 8).unwrap();
        let args: Vec<String> =
            symbols.iter().map(|s| format!("{s}={}", root.join(format!("snapshot_{s}.json")).display())).collect();
        let snapshots = read_snapshots(&args).unwrap();
        let text = std::fs::read_to_string(root.join("depth.jsonl")).unwrap();
        let mut out = Vec::new();
        let summary =
            check(Venue::Binance, &instruments, text.lines().map(|l| Ok(l.to_string())), &snapshots, 0, &mut out)
                .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(summary.stats.gaps, 0, "{out}");
        assert_eq!(summary.stats.parse_errors, 0, "{out}");
        assert_eq!(summary.valid_books, 4, "{out}");
        assert!(out.lines().last().unwrap().starts_with("messages 177"), "{out}");

        // One diff removed: the check reports the gap.
        let mut lines: Vec<&str> = text.lines().collect();
        let nkn: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.contains("NKNUSDT")).map(|(i, _)| i).collect();
        lines.remove(nkn[40]);
        let mut out = Vec::new();
        let summary =
            check(Venue::Binance, &instruments, lines.iter().map(|l| Ok(l.to_string())), &snapshots, 0, &mut out)
                .unwrap();
        assert_eq!(summary.stats.gaps, 1, "{}", String::from_utf8_lossy(&out));
        assert!(String::from_utf8_lossy(&out).contains("GAP"));
    }
}
