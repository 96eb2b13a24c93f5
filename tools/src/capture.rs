//! `qt capture` for the venues on the shared live layers: Binance USD-M and KuCoin through the
//! very feed the engine runs ([`qt_feed::snapshot_feed::SnapshotFeed`], with its connect flow,
//! subscriptions, heartbeat and snapshot thread) with a tap recording every raw frame and the
//! first REST snapshot per symbol; Firi through its REST poller (`qt_feed::firi::FiriPoller`),
//! one depth body per line. The capture folder is what `qt feed-check` replays: `frames.jsonl`
//! and `snapshot_<SYMBOL>.json`.
//!
//! Runs on the calling thread (a tool, not the core): blocks, allocates freely.

use anyhow::{Context, bail};
use qt_core::{FeedSource, MarketEvent, Venue, sys};
use qt_feed::snapshot_feed::{SnapshotFeedConfig, Tapped};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct CaptureTarget<'a> {
    /// WebSocket base URL (Binance USD-M; KuCoin's comes from its bullet answer).
    pub ws_url: &'a str,
    /// REST base URL.
    pub rest_url: &'a str,
    /// CA file to trust instead of the webpki roots.
    pub ca_file: Option<&'a Path>,
    /// TLS server name override.
    pub server_name: Option<&'a str>,
}

type Shared = Arc<Mutex<(std::io::BufWriter<std::fs::File>, u64, Option<std::io::Error>)>>;

/// Records `venue` (Binance USD-M or KuCoin) for `duration` into `out_dir`; returns the frame
/// count and the frames file.
pub fn capture_snapshot_feed(
    venue: Venue,
    target: &CaptureTarget<'_>,
    symbols: &[String],
    duration: Duration,
    out_dir: &Path,
) -> anyhow::Result<(u64, PathBuf)> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    sys::init_clock();
    let instruments = crate::feed_check::capture_instruments(venue, symbols, 8, 8)?;
    let mut cfg = SnapshotFeedConfig::new(target.ws_url, target.rest_url, instruments);
    cfg.ca_file = target.ca_file.map(Path::to_path_buf);
    cfg.server_name = target.server_name.map(str::to_string);
    let frames_path = out_dir.join("frames.jsonl");
    let file = std::fs::File::create(&frames_path).with_context(|| format!("creating {}", frames_path.display()))?;
    let shared: Shared = Arc::new(Mutex::new((std::io::BufWriter::new(file), 0, None)));
    let tap_shared = shared.clone();
    let names = symbols.to_vec();
    let dir = out_dir.to_path_buf();
    let mut saved = vec![false; names.len()];
    let tap = Box::new(move |t: Tapped<'_>| {
        let mut guard = tap_shared.lock().unwrap_or_else(|p| p.into_inner());
        let (writer, count, error) = &mut *guard;
        let result = match t {
            Tapped::Frame(frame) => {
                *count += 1;
                writer.write_all(frame).and_then(|()| writer.write_all(b"\n"))
            }
            Tapped::Snapshot { symbol, body } if !saved.get(symbol).copied().unwrap_or(true) => {
                saved[symbol] = true;
                std::fs::write(dir.join(format!("snapshot_{}.json", names[symbol])), body)
            }
            Tapped::Snapshot { .. } => Ok(()),
        };
        if let Err(e) = result {
            error.get_or_insert(e);
        }
    });
    let mut feed: Box<dyn FeedSource> = match venue {
        Venue::BinanceUsdm => {
            cfg.depth_limit = 1000;
            let mut f = qt_feed::binance_usdm::BinanceUsdmFeed::new(cfg)?;
            f.set_tap(tap);
            Box::new(f)
        }
        Venue::Kucoin => {
            // The public 100-level snapshot: the full one needs a signed request on the venue.
            cfg.depth_limit = 100;
            let mut f = qt_feed::kucoin::KucoinFeed::new(cfg)?;
            f.set_tap(tap);
            Box::new(f)
        }
        other => bail!("{other} is not captured through the snapshot-synced feed layer"),
    };
    let mut poll = mio::Poll::new()?;
    feed.register(poll.registry(), 0)?;
    let mut events = mio::Events::with_capacity(64);
    let started = Instant::now();
    while started.elapsed() < duration {
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        for ev in events.iter() {
            feed.on_ready(ev.token().0);
        }
        feed.poll(sys::mono_now(), &mut |_: &MarketEvent| {});
        if let Some(e) = shared.lock().unwrap_or_else(|p| p.into_inner()).2.take() {
            return Err(e).context("writing the capture");
        }
    }
    drop(feed);
    let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
    guard.0.flush().context("writing frames")?;
    Ok((guard.1, frames_path))
}

/// Records Firi's depth bodies of one market, polled every `interval`, one body per line.
pub fn capture_firi(
    target: &CaptureTarget<'_>,
    market: &str,
    interval: Duration,
    duration: Duration,
    out_dir: &Path,
) -> anyhow::Result<(u64, PathBuf)> {
    use qt_feed::endpoint::Endpoint;
    use qt_feed::firi::{FiriPoller, Poll};
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let rest = Endpoint::parse(target.rest_url, "rest_url")?;
    let tls = qt_feed::tls::client_config(target.ca_file)?;
    let client =
        qt_feed::snapshot::HttpsClient::new(rest.clone(), rest.resolve()?, rest.server_name(target.server_name)?, tls);
    let poller = FiriPoller::spawn(client, qt_feed::firi::parse::depth_path(market), interval, 64)?;
    let frames_path = out_dir.join("frames.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&frames_path)?);
    let (started, mut count, mut failed) = (Instant::now(), 0u64, 0u64);
    while started.elapsed() < duration {
        match poller.try_recv() {
            Some(Poll::Body(body)) => {
                // One body per line (JSON strings hold no raw line breaks, so dropping them
                // only joins a pretty-printed body).
                let line: Vec<u8> = body.into_iter().filter(|b| !matches!(b, b'\n' | b'\r')).collect();
                out.write_all(&line)?;
                out.write_all(b"\n")?;
                count += 1;
            }
            Some(Poll::Failed(status)) => {
                failed += 1;
                log::warn!("firi capture: poll failed (HTTP {status})");
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    out.flush()?;
    if count == 0 {
        bail!("no depth body of {market} in {duration:?} ({failed} failed polls)");
    }
    Ok((count, frames_path))
}
