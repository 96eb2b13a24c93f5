//! `qt feed-check`: verify a capture of raw venue messages (recorded by `qt capture`,
//! [`crate::capture`]) through the same decoder and book the engine uses, the venue's decoder
//! and symbol keys taken from the registry ([`crate::venues`]).
//!
//! A capture is one raw message per line (a WebSocket text frame exactly as received, or a REST
//! body for REST-polled venues). `feed-check` prints, per message, the top of each changed book,
//! the checksum verdict where the venue has one and whether the book is valid, then the counts
//! of messages, gaps, checksum failures, parse errors, crossed books and resyncs. A book a
//! message leaves crossed or locked is invalid and resynced by its decoder, as in a live run.
//! The capture is read as bytes: a line that is not UTF-8 counts as a parse error and the replay
//! goes on; a line naming only symbols not given with `--symbols` counts as `filtered`. Venues
//! whose sync needs a REST snapshot (Binance) take it from `--snapshot SYMBOL=FILE`.

use anyhow::{Context, anyhow, bail};
use qt_core::{
    Book, BookError, DecimalStyle, Instrument, InstrumentId, InstrumentSpec, MarketEvent, Nanos, Venue, sys,
};
use qt_feed::{ChecksumVerdict, FeedStats, VenueDecoder};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;

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

/// The decoder for `venue` over `instruments` (its registry entry's); `depth` is the
/// subscribed book depth for venues whose wire names one (Bybit `orderbook.{depth}.{symbol}`,
/// Kraken's checksum depth), 0 for the venue's default.
pub fn decoder_for(venue: Venue, instruments: &[Instrument], depth: u16) -> anyhow::Result<Box<dyn VenueDecoder>> {
    (crate::venues::require(venue)?.decoder)(instruments, depth)
}

/// What a feed check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Decoder counters at the end.
    pub stats: FeedStats,
    /// Lines read (blank lines aside).
    pub lines: u64,
    /// Lines that are not UTF-8 (a venue's text frames always are): counted as parse errors,
    /// not decoded.
    pub not_utf8: u64,
    /// Lines naming only symbols not asked for with `--symbols`: skipped, not decoded.
    pub filtered: u64,
    /// Books at the end.
    pub books: usize,
    /// Books valid at the end.
    pub valid_books: usize,
}

impl CheckSummary {
    /// Refused lines: the decoder's parse errors and the lines that are not UTF-8.
    pub fn parse_errors(&self) -> u64 {
        self.stats.parse_errors + self.not_utf8
    }
}

impl std::fmt::Display for CheckSummary {
    /// The closing line of `qt feed-check`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "messages {}  records {}  gaps {}  checksum ok {}  checksum failures {}  parse errors {}  crossed {}  \
             resyncs {}  filtered {}  valid books {}/{}",
            s.messages,
            s.records,
            s.gaps,
            s.checksum_ok,
            s.checksum_failed,
            self.parse_errors(),
            s.crossed,
            s.resyncs,
            self.filtered,
            self.valid_books,
            self.books
        )?;
        if self.not_utf8 > 0 {
            write!(f, "  (not UTF-8 {})", self.not_utf8)?;
        }
        if s.warnings_suppressed > 0 {
            write!(f, "  warnings not logged {}", s.warnings_suppressed)?;
        }
        Ok(())
    }
}

/// The lines of a capture as bytes, without their `\n` (or `\r\n`): a line that is not UTF-8
/// is the checker's to count, not a reason to stop reading.
pub fn capture_lines(input: impl BufRead) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
    input.split(b'\n').map(|line| {
        line.map(|mut l| {
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            l
        })
    })
}

/// Replays the capture `input` (one message per line) through the venue's decoder into books;
/// writes a line per message to `out`. A book left crossed or locked by a message is invalid
/// ([`qt_core::BookError::Crossed`]) and the decoder resyncs it, as the live feeds do.
pub fn check(
    venue: Venue,
    instruments: &[Instrument],
    input: impl BufRead,
    snapshots: &HashMap<String, Vec<u8>>,
    depth: u16,
    out: &mut dyn Write,
) -> anyhow::Result<CheckSummary> {
    let frames = capture_lines(input).map(|line| line.map(CheckInput::Frame).context("reading the capture"));
    check_inputs(venue, instruments, frames, snapshots, depth, out)
}

/// One input of a check, in the order the live feed took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInput {
    /// A frame (or REST poll body) for the decoder.
    Frame(Vec<u8>),
    /// A REST snapshot body for symbol `symbol`'s sync (from a journal: where the live feed's
    /// sync took it), applied if that symbol waits for one.
    Snapshot {
        /// Symbol index.
        symbol: usize,
        /// The body.
        body: Vec<u8>,
    },
}

/// [`check`] over `inputs` (a capture's lines, or a journal's raw frames): frames go through
/// the decoder; a symbol waiting for a snapshot takes it from `snapshots` (by symbol, once)
/// after a frame, or from a [`CheckInput::Snapshot`] where it comes.
pub fn check_inputs(
    venue: Venue,
    instruments: &[Instrument],
    inputs: impl Iterator<Item = anyhow::Result<CheckInput>>,
    snapshots: &HashMap<String, Vec<u8>>,
    depth: u16,
    out: &mut dyn Write,
) -> anyhow::Result<CheckSummary> {
    sys::init_clock();
    let mut decoder = decoder_for(venue, instruments, depth)?;
    let mut books: Vec<Book> = instruments.iter().map(|i| Book::new(i.id(), 10_000)).collect();
    let mut used_snapshot = vec![false; instruments.len()];
    let mut changed = vec![false; instruments.len()];
    let mut refused: Vec<(usize, BookError)> = Vec::new();
    let mut summary = CheckSummary { books: books.len(), ..CheckSummary::default() };
    let mut line_text = String::new();
    for (n, input) in inputs.enumerate() {
        let line = match input? {
            CheckInput::Frame(line) => line,
            CheckInput::Snapshot { symbol, body } => {
                if decoder.wants_snapshot(symbol) {
                    changed.iter_mut().for_each(|c| *c = false);
                    let mut apply = |ev: &MarketEvent| apply_record(&mut books, &mut changed, &mut refused, ev);
                    let now = sys::mono_now();
                    let taken = decoder.on_snapshot_body(symbol, &body, now, &mut apply);
                    resync_refused(decoder.as_mut(), &mut books, &mut changed, &mut refused, now);
                    writeln!(out, "{:>6}  snapshot of symbol {symbol}{}", n + 1, if taken { "" } else { " REFUSED" })?;
                } else {
                    writeln!(out, "{:>6}  snapshot of symbol {symbol} not waited for (ignored)", n + 1)?;
                }
                continue;
            }
        };
        if line.trim_ascii().is_empty() {
            continue;
        }
        summary.lines += 1;
        let Ok(text) = std::str::from_utf8(&line) else {
            summary.not_utf8 += 1;
            writeln!(out, "{:>6}  PARSE ERROR (not UTF-8)", n + 1)?;
            continue;
        };
        if names_only_others(text, venue, instruments) {
            summary.filtered += 1;
            continue;
        }
        let now = sys::mono_now();
        changed.iter_mut().for_each(|c| *c = false);
        let before = decoder.stats();
        let mut apply = |ev: &MarketEvent| apply_record(&mut books, &mut changed, &mut refused, ev);
        decoder.on_frame(&line, now, &mut apply);
        for i in 0..instruments.len() {
            if !used_snapshot[i]
                && decoder.wants_snapshot(i)
                && let Some(body) = snapshots.get(instruments[i].symbol())
            {
                used_snapshot[i] = true;
                decoder.on_snapshot_body(i, body, now, &mut apply);
            }
        }
        // Books that refused the message (crossed, or a level they cannot hold): the decoder
        // resyncs them, as in a live run.
        resync_refused(decoder.as_mut(), &mut books, &mut changed, &mut refused, now);
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
        if after.crossed > before.crossed {
            line_text.push_str("  CROSSED");
        }
        if after.parse_errors > before.parse_errors {
            line_text.push_str("  PARSE ERROR");
        }
        writeln!(out, "{line_text}")?;
    }
    summary.stats = decoder.stats();
    summary.valid_books = books.iter().filter(|b| b.is_valid()).count();
    writeln!(out, "{summary}")?;
    Ok(summary)
}

/// Books that refused a record (crossed, or a level they cannot hold): the decoder resyncs
/// them, as in a live run.
fn resync_refused(
    decoder: &mut dyn VenueDecoder,
    books: &mut [Book],
    changed: &mut [bool],
    refused: &mut Vec<(usize, BookError)>,
    now: Nanos,
) {
    for (i, reason) in std::mem::take(refused) {
        decoder.on_book_refused(i, reason, now, &mut |ev| apply_record(books, changed, refused, ev));
    }
}

/// One record into its book; a book that refuses it (and is invalid) joins `refused`, once.
fn apply_record(books: &mut [Book], changed: &mut [bool], refused: &mut Vec<(usize, BookError)>, ev: &MarketEvent) {
    let i = ev.instrument.index();
    if let Some(book) = books.get_mut(i) {
        if let Err(reason) = book.apply(ev)
            && !refused.iter().any(|(j, _)| *j == i)
        {
            refused.push((i, reason));
        }
        changed[i] = true;
    }
}

/// Whether `line` names symbols and none of them is one of `instruments` (a frame of a symbol
/// not asked for with `--symbols`).
fn names_only_others(line: &str, venue: Venue, instruments: &[Instrument]) -> bool {
    let mut named = symbols_named(line, venue).peekable();
    named.peek().is_some() && named.all(|s| instruments.iter().all(|i| i.symbol() != s))
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
    for line in capture_lines(std::io::BufReader::new(file)).take(1000) {
        let line = String::from_utf8_lossy(&line?).into_owned();
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
    for line in capture_lines(std::io::BufReader::new(file)).take(100_000) {
        let line = String::from_utf8_lossy(&line?).into_owned();
        for s in symbols_named(&line, venue) {
            if !seen.iter().any(|k| k == s) {
                seen.push(s.to_string());
            }
        }
    }
    if seen.is_empty() {
        bail!("no symbols found in {}; pass --symbols", path.display());
    }
    Ok(seen)
}

/// The symbols one capture line names, the venue's way ([`crate::venues::SymbolKey`]).
fn symbols_named(line: &str, venue: Venue) -> impl Iterator<Item = &str> {
    use crate::venues::SymbolKey;
    let key = crate::venues::entry(venue).map_or(SymbolKey::None, |e| e.symbol_key);
    let topical = match key {
        SymbolKey::TopicTail(sep) => {
            topic(line).and_then(|t| t.rsplit(sep).next()).filter(|s| !s.contains(',') && !s.is_empty())
        }
        _ => None,
    };
    let field = match key {
        SymbolKey::Field(k) => Some(k),
        _ => None,
    };
    let keyed = field.into_iter().flat_map(move |k| line.split(k).skip(1).filter_map(|r| r.split('"').next()));
    topical.into_iter().chain(keyed)
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
        let summary = check(Venue::Bybit, &instruments, text.as_bytes(), &HashMap::new(), depth, &mut out).unwrap();
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
        let summary = check(Venue::Binance, &instruments, text.as_bytes(), &snapshots, 0, &mut out).unwrap();
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
            check(Venue::Binance, &instruments, lines.join("\n").as_bytes(), &snapshots, 0, &mut out).unwrap();
        assert_eq!(summary.stats.gaps, 1, "{}", String::from_utf8_lossy(&out));
        assert!(String::from_utf8_lossy(&out).contains("GAP"));
    }

    fn bybit_book(kind: &str, u: u64, bids: &str, asks: &str) -> String {
        format!(
            r#"{{"topic":"orderbook.50.BTCUSDT","ts":1,"type":"{kind}","data":{{"s":"BTCUSDT","b":[{bids}],"a":[{asks}],"u":{u},"seq":{u}}},"cts":1}}"#
        )
    }

    #[test]
    fn a_crossed_snapshot_is_reported_invalid_and_resynced() {
        // Binance: the REST snapshot has its best bid (70 000) over its best ask (65 002).
        let instruments = capture_instruments(Venue::Binance, &["BTCUSDT".to_string()], 2, 5).unwrap();
        let diff = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":9,"u":11,"b":[],"a":[]}}"#;
        let snapshot = br#"{"lastUpdateId":10,"bids":[["70000.00","1"]],"asks":[["65002.00","1"]]}"#.to_vec();
        let snapshots = HashMap::from([("BTCUSDT".to_string(), snapshot)]);
        let mut out = Vec::new();
        let summary = check(Venue::Binance, &instruments, diff.as_bytes(), &snapshots, 0, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(summary.valid_books, 0, "{out}");
        assert_eq!((summary.stats.crossed, summary.stats.resyncs), (1, 1), "{out}");
        assert!(out.contains("CROSSED") && out.contains("crossed 1"), "{out}");

        // Bybit (snapshot in the stream): a crossed snapshot, then a locked book after a delta.
        let instruments = capture_instruments(Venue::Bybit, &["BTCUSDT".to_string()], 2, 5).unwrap();
        let lines = [
            bybit_book("snapshot", 1, r#"["70000","1"]"#, r#"["65002","1"]"#),
            bybit_book("snapshot", 5, r#"["100","1"]"#, r#"["101","1"]"#),
            bybit_book("delta", 6, r#"["101","2"]"#, ""),
        ]
        .join("\n");
        let mut out = Vec::new();
        let summary = check(Venue::Bybit, &instruments, lines.as_bytes(), &HashMap::new(), 50, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(summary.stats.crossed, 2, "{out}");
        assert_eq!(summary.stats.resyncs, 2, "{out}");
        assert_eq!(summary.valid_books, 0, "{out}");
        let flagged: Vec<&str> = out.lines().filter(|l| l.contains("CROSSED")).collect();
        assert_eq!(flagged.len(), 2, "{out}");
        assert!(flagged.iter().all(|l| l.contains("(invalid)")), "{out}");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_a_parse_error_and_the_replay_goes_on() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
        let bybit = root.join("bybit/orderbook_spot.jsonl");
        let symbols = symbols_in(&bybit, Venue::Bybit).unwrap();
        let instruments = capture_instruments(Venue::Bybit, &symbols, 8, 8).unwrap();
        let text = std::fs::read(&bybit).unwrap();
        let lines = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
        // One invalid byte in the last line (a book delta: no later delta's sequence depends on it).
        let mut bad = text.clone();
        let last_line = bad[..bad.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
        bad.insert(last_line + 3, 0xff);
        let mut out = Vec::new();
        let summary = check(Venue::Bybit, &instruments, bad.as_slice(), &HashMap::new(), 200, &mut out).unwrap();
        let out = String::from_utf8_lossy(&out);
        assert_eq!(summary.lines, lines, "{out}");
        assert_eq!(summary.stats.messages, lines - 1, "every other line was decoded: {out}");
        assert_eq!((summary.not_utf8, summary.parse_errors()), (1, 1), "{out}");
        assert!(out.lines().last().unwrap().contains("parse errors 1"), "{out}");
        // The symbol scan reads past it too.
        let path = std::env::temp_dir().join(format!("qt-feed-check-utf8-{}.jsonl", std::process::id()));
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(symbols_in(&path, Venue::Bybit).unwrap(), symbols);
        assert_eq!(bybit_depth_in(&path).unwrap(), Some(200));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn frames_of_symbols_not_asked_for_are_filtered_not_parse_errors() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/binance_spot");
        let text = std::fs::read_to_string(root.join("depth.jsonl")).unwrap();
        let instruments = capture_instruments(Venue::Binance, &["NKNUSDT".to_string()], 8, 8).unwrap();
        let args = [format!("NKNUSDT={}", root.join("snapshot_NKNUSDT.json").display())];
        let snapshots = read_snapshots(&args).unwrap();
        let mut out = Vec::new();
        let summary = check(Venue::Binance, &instruments, text.as_bytes(), &snapshots, 0, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let others = text.lines().filter(|l| !l.contains("NKNUSDT")).count() as u64;
        assert!(others > 0);
        assert_eq!(summary.filtered, others, "{out}");
        assert_eq!(summary.parse_errors(), 0, "{out}");
        assert_eq!(summary.valid_books, 1, "{out}");
    }

    #[test]
    fn warnings_about_bad_frames_are_rate_limited_and_counted() {
        let instruments = capture_instruments(Venue::Bybit, &["BTCUSDT".to_string()], 2, 5).unwrap();
        let garbage = "{not json\n".repeat(10_000);
        let mut out = Vec::new();
        let summary = check(Venue::Bybit, &instruments, garbage.as_bytes(), &HashMap::new(), 50, &mut out).unwrap();
        assert_eq!(summary.parse_errors(), 10_000);
        let logged = 10_000 - summary.stats.warnings_suppressed;
        assert!((1..=50).contains(&logged), "{logged} warnings logged for 10 000 bad lines");
        assert!(String::from_utf8(out).unwrap().lines().last().unwrap().contains("warnings not logged"));
    }
}
