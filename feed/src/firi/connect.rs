//! Firi's connect step: [`FiriFeed`], its order book as a [`FeedSource`]. Firi has no public
//! market-data stream, so the book is polled: [`super::FiriPoller`] fetches `GET /v2/markets/{market}/depth` on its own
//! thread every configured interval and hands each result over through a bounded channel; the
//! core thread drains it without blocking and turns each good body into a full book image
//! ([`super::Decoder`]).
//!
//! A failed poll (transport error, non-200 status such as 503) or a refused body is counted and
//! invalidates the book (one `CLEAR` record without `BATCH_END`) until the next good poll: an
//! engine never trades on a book it could not refresh. When the core falls behind, the poller
//! drops polls (counted there) rather than queueing stale books.
//!
//! Not on the WebSocket live layer ([`crate::kit::live`]): with no session there is nothing to
//! connect, subscribe, heartbeat or resubscribe, and the poller's periodic newest-wins bodies are
//! not the layer's on-demand snapshot requests. It shares the layer's taps and instrument table
//! ([`crate::kit::live::tap`]).
//!
//! Thread and contract: owned and polled by the core thread; `poll` never blocks (`try_recv`).
//! It allocates per good body while parsing (one REST poll every few hundred milliseconds is not
//! the per-message hot path); the polling thread blocks and allocates freely.

use super::{Decoder, FiriPoller, Poll};
use crate::decoder::VenueDecoder;
use crate::endpoint::Endpoint;
use crate::error::FeedError;
use crate::kit::live::LiveFeedConfig;
use crate::kit::live::tap::Outlets;
use crate::snapshot::HttpsClient;
use crate::tls;
use qt_core::feed_source::FeedState;
use qt_core::journal_raw::{RawFrameKind, RawFrameTap};
use qt_core::{FeedSource, Instrument, InstrumentId, MarketEvent, Nanos};
use std::path::PathBuf;
use std::time::Duration;

/// What a [`FiriFeed`] polls.
#[derive(Debug, Clone)]
pub struct FiriFeedConfig {
    /// REST base, e.g. `https://api.firi.com`.
    pub rest_url: String,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URL's host.
    pub server_name: Option<String>,
    /// The market (`instrument.symbol()` is Firi's market id, e.g. `BTCNOK`).
    pub instrument: Instrument,
    /// Time between poll starts.
    pub interval: Duration,
    /// Polls buffered between the threads (at least 1).
    pub capacity: usize,
}

impl FiriFeedConfig {
    /// Polls every 500 ms, two polls buffered.
    pub fn new(rest_url: impl Into<String>, instrument: Instrument) -> Self {
        Self {
            rest_url: rest_url.into(),
            ca_file: None,
            server_name: None,
            instrument,
            interval: Duration::from_millis(500),
            capacity: 2,
        }
    }
}

impl TryFrom<&LiveFeedConfig> for FiriFeedConfig {
    type Error = FeedError;

    /// The uniform live config with Firi's defaults ([`FiriFeedConfig::new`]): its REST URL, TLS
    /// and its one market (a Firi feed polls exactly one).
    fn try_from(c: &LiveFeedConfig) -> Result<Self, FeedError> {
        let [instrument] = c.symbols.as_slice() else {
            let problem = format!("symbols: {} listed; a Firi feed polls exactly one market", c.symbols.len());
            return Err(FeedError::Config { field: "firi", problem });
        };
        let mut cfg = Self::new(&c.rest_url, instrument.clone());
        cfg.ca_file.clone_from(&c.ca_file);
        cfg.server_name.clone_from(&c.server_name);
        Ok(cfg)
    }
}

/// Poll outcomes the core saw (core thread only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiriFeedCounters {
    /// Good bodies applied.
    pub books: u64,
    /// Polls that failed (transport error or non-200), by the poller.
    pub failed_polls: u64,
    /// The last failed poll's HTTP status (0: transport error).
    pub last_failed_status: u16,
    /// Bodies refused by the decoder.
    pub refused_bodies: u64,
    /// Book invalidations emitted.
    pub invalidations: u64,
}

/// The Firi market-data feed (one market).
#[derive(Debug)]
pub struct FiriFeed {
    name: String,
    decoder: Decoder,
    poller: FiriPoller,
    counters: FiriFeedCounters,
    /// The engine's book holds the last good poll.
    valid: bool,
    /// The raw-frame tap and the market's instrument.
    outlets: Outlets,
}

impl FiriFeed {
    /// Validates `cfg` (every problem at once), resolves the host and starts the polling thread.
    /// Blocking start-up work: call before the core loop.
    pub fn new(cfg: FiriFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        let rest = Endpoint::parse(&cfg.rest_url, "rest_url").map_err(|e| problems.push(e.to_string())).ok();
        if cfg.interval.is_zero() {
            problems.push("interval: must be above zero".into());
        }
        if cfg.capacity == 0 {
            problems.push("capacity: must be at least 1".into());
        }
        let Some(rest) = rest.filter(|_| problems.is_empty()) else {
            return Err(FeedError::Config { field: "firi", problem: problems.join("; ") });
        };
        let tls = tls::client_config(cfg.ca_file.as_deref())?;
        let addrs = rest.resolve()?;
        let name = rest.server_name(cfg.server_name.as_deref())?;
        let decoder = Decoder::new(cfg.instrument.clone());
        let poller = FiriPoller::spawn(
            HttpsClient::new(rest, addrs, name, tls),
            decoder.depth_path(),
            cfg.interval,
            cfg.capacity,
        )?;
        Ok(Self {
            name: format!("firi:{}", cfg.instrument.symbol()),
            decoder,
            poller,
            counters: FiriFeedCounters::default(),
            valid: false,
            outlets: Outlets::new(vec![cfg.instrument.id()]),
        })
    }

    /// The poll counters.
    pub fn counters(&self) -> FiriFeedCounters {
        self.counters
    }

    /// The decoder (its own counters).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Polls the thread dropped because the core had not drained the previous ones.
    pub fn dropped_polls(&self) -> u64 {
        self.poller.dropped()
    }

    /// Whether the book holds the last poll's image.
    pub fn is_synced(&self) -> bool {
        self.valid
    }

    #[cold]
    fn invalidate(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if self.valid {
            self.valid = false;
            self.counters.invalidations += 1;
            self.decoder.on_disconnect(now, emit);
        }
    }
}

impl FeedSource for FiriFeed {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let mut emitted = 0usize;
        let mut emit = |ev: &MarketEvent| {
            emitted += 1;
            sink(ev);
        };
        while let Some(poll) = self.poller.try_recv() {
            match poll {
                Poll::Body(body) => {
                    self.outlets.body(RawFrameKind::RestPoll, 0, &body, local_now);
                    let refused = self.decoder.counters().parse_errors.iter().sum::<u64>();
                    self.decoder.on_frame(&body, local_now, &mut emit);
                    if self.decoder.counters().parse_errors.iter().sum::<u64>() > refused {
                        self.counters.refused_bodies += 1;
                        self.invalidate(local_now, &mut emit);
                    } else {
                        self.counters.books += 1;
                        self.valid = true;
                    }
                }
                Poll::Failed(status) => {
                    self.counters.failed_polls += 1;
                    self.counters.last_failed_status = status;
                    self.invalidate(local_now, &mut emit);
                }
            }
        }
        emitted
    }

    /// The image was refused (crossed, or a level the book cannot hold): invalid until the next
    /// polled body replaces it.
    #[cold]
    fn on_book_refused(
        &mut self,
        instrument: InstrumentId,
        reason: qt_core::BookError,
        local_now: Nanos,
        sink: &mut dyn FnMut(&MarketEvent),
    ) {
        if self.outlets.book_refused(&mut self.decoder, instrument, reason, local_now, sink) {
            self.valid = false;
            self.counters.invalidations += 1;
        }
    }

    fn set_raw_tap(&mut self, tap: RawFrameTap) {
        self.outlets.set_raw(tap);
    }

    fn stats(&self) -> Option<qt_core::FeedStats> {
        Some(VenueDecoder::stats(&self.decoder))
    }

    fn state(&self) -> FeedState {
        if self.valid { FeedState::Live } else { FeedState::Recovering }
    }
}
