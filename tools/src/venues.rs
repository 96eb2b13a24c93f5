//! The venue registry: one [`VenueEntry`] per venue naming everything the tools build for it —
//! its name in configuration, its decoder (`qt feed-check`), how its live feeds are built and
//! grouped (`qt run`), how `qt capture` records it, the simulator protocol that speaks it
//! (`qt venue-sim`) and its order gateway where one exists. Configuration, `qt run`,
//! `qt capture`, `qt feed-check`, `qt venue-sim` and the feed benches read this table instead of
//! each matching on [`Venue`]; a new venue is one more entry here, its folders in `feed` and
//! `venue-sim`, its `Venue` variant, and its listener in `qt venue-sim`'s lists
//! (docs/ARCHITECTURE.md, "Adding a venue").
//!
//! The benches (`qt-benches`, which only dev-depends on this crate: nothing here depends on it)
//! walk [`VENUES`] in `examples/feed_ratio.rs` and find each venue's stream generator by its
//! [`Venue`] in `qt_benches::stream_benches`; a test there holds one per entry, so the registry
//! stays the one list and the generators stay out of the shipped binary.
//!
//! Start-up code only: builders allocate, resolve hosts and read CA files.

use anyhow::bail;
use qt_core::{FeedSource, Instrument, InstrumentKind, Venue};
use qt_feed::VenueDecoder;
use qt_venue_sim::protocol::Protocol;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a venue's live feeds connect (a `[[venues]]` entry, or `qt capture`'s flags).
#[derive(Debug, Clone, Default)]
pub struct FeedTarget {
    /// WebSocket base URL (unused by venues whose endpoint comes from REST, or that poll).
    pub ws_url: String,
    /// REST base URL (snapshots, connect tokens, polls).
    pub rest_url: String,
    /// CA file to trust instead of the web PKI.
    pub ca_file: Option<PathBuf>,
    /// TLS server name override.
    pub server_name: Option<String>,
    /// Time between polls, for venues polled over REST (Firi); `None`: the venue's default.
    pub poll_interval: Option<std::time::Duration>,
}

/// Which endpoints a venue's market data uses (configuration requires those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// A `wss://` base URL.
    pub ws: bool,
    /// An `https://` base URL.
    pub rest: bool,
}

/// How a venue's instruments are split into live feeds (one feed = one connection or poller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedGrouping {
    /// Every instrument on one feed.
    One,
    /// One feed per instrument kind (Bybit: spot and linear are separate streams).
    PerKind,
    /// One feed per instrument (Firi polls one market per poller).
    PerInstrument,
}

/// Where `qt feed-check` finds a capture line's symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKey {
    /// After a JSON key, e.g. `"s":"` (every occurrence).
    Field(&'static str),
    /// The last part of `"topic"` after the separator (Bybit `orderbook.50.BTCUSDT`, KuCoin
    /// `/market/level2:BTC-USDT`).
    TopicTail(char),
    /// Frames do not name their symbol (Firi's depth bodies).
    None,
}

/// The order gateway a venue trades through: how `qt run` starts it and queries its accounts
/// ([`crate::gateways`]).
pub use crate::gateways::Gateway;

/// A venue's decoder, as `qt feed-check` drives it.
pub type Decoder = Box<dyn VenueDecoder>;

/// One live feed, as the core thread polls it.
pub type Feed = Box<dyn FeedSource>;

/// One venue: everything the tools need to know about it.
#[derive(Clone, Copy)]
pub struct VenueEntry {
    /// The venue (its name in configuration is `venue.name()`).
    pub venue: Venue,
    /// Endpoints its market data needs.
    pub endpoints: Endpoints,
    /// How its instruments split into feeds.
    pub grouping: FeedGrouping,
    /// The decoder over `instruments`; `depth` is the subscribed book depth where the wire
    /// names one (Bybit topics, Kraken's checksum depth), 0 for the venue's default.
    pub decoder: fn(instruments: &[Instrument], depth: u16) -> anyhow::Result<Decoder>,
    /// One live feed (already grouped, see [`VenueEntry::feed_groups`]).
    pub live_feed: fn(target: &FeedTarget, instruments: Vec<Instrument>) -> anyhow::Result<Feed>,
    /// Whether `qt capture` records it (through its live feed with a raw-frame tap,
    /// [`crate::capture`]).
    pub capture: bool,
    /// Where capture lines name their symbols.
    pub symbol_key: SymbolKey,
    /// The simulator protocol speaking it (its listener is named `venue.name()`).
    pub sim_protocol: fn() -> Arc<dyn Protocol>,
    /// Its order gateway, if orders can be sent there.
    pub gateway: Option<Gateway>,
}

impl std::fmt::Debug for VenueEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueEntry")
            .field("venue", &self.venue)
            .field("endpoints", &self.endpoints)
            .field("grouping", &self.grouping)
            .field("capture", &self.capture)
            .field("gateway", &self.gateway)
            .finish()
    }
}

impl VenueEntry {
    /// The name in configuration and on the command line.
    pub fn name(&self) -> &'static str {
        self.venue.name()
    }

    /// `instruments` split into this venue's feeds, in a fixed order (the engine's feed order).
    pub fn feed_groups<T: Clone>(&self, instruments: &[T], kind: impl Fn(&T) -> InstrumentKind) -> Vec<Vec<T>> {
        match self.grouping {
            FeedGrouping::One => vec![instruments.to_vec()],
            FeedGrouping::PerInstrument => instruments.iter().map(|i| vec![i.clone()]).collect(),
            FeedGrouping::PerKind => {
                let mut groups: Vec<(InstrumentKind, Vec<T>)> = Vec::new();
                for i in instruments {
                    match groups.iter_mut().find(|(k, _)| *k == kind(i)) {
                        Some((_, g)) => g.push(i.clone()),
                        None => groups.push((kind(i), vec![i.clone()])),
                    }
                }
                groups.into_iter().map(|(_, g)| g).collect()
            }
        }
    }

    /// Every live feed of `instruments` on this venue, in [`VenueEntry::feed_groups`] order.
    pub fn live_feeds(&self, target: &FeedTarget, instruments: &[Instrument]) -> anyhow::Result<Vec<Feed>> {
        self.feed_groups(instruments, Instrument::kind).into_iter().map(|g| (self.live_feed)(target, g)).collect()
    }
}

/// Every venue with market data, in [`Venue::ALL`] order (the built-in simulated venue aside).
pub static VENUES: [VenueEntry; 7] = [
    VenueEntry {
        venue: Venue::Binance,
        endpoints: Endpoints { ws: true, rest: true },
        grouping: FeedGrouping::One,
        decoder: |i, _| Ok(Box::new(qt_feed::binance::Decoder::new(i))),
        live_feed: |t, i| {
            let mut cfg = qt_feed::BinanceFeedConfig::new(t.ws_url.clone(), t.rest_url.clone(), i);
            (cfg.ca_file, cfg.server_name) = (t.ca_file.clone(), t.server_name.clone());
            Ok(Box::new(qt_feed::BinanceFeed::new(cfg)?))
        },
        capture: true,
        symbol_key: SymbolKey::Field("\"s\":\""),
        sim_protocol: || Arc::new(qt_venue_sim::binance::BinanceSpot::default()),
        gateway: Some(crate::gateways::BINANCE),
    },
    VenueEntry {
        venue: Venue::BinanceUsdm,
        endpoints: Endpoints { ws: true, rest: true },
        grouping: FeedGrouping::One,
        decoder: |i, _| Ok(Box::new(qt_feed::binance_usdm::Decoder::new(i))),
        live_feed: |t, i| Ok(Box::new(qt_feed::binance_usdm::BinanceUsdmFeed::new(snapshot_config(t, i, 1000))?)),
        capture: true,
        symbol_key: SymbolKey::Field("\"s\":\""),
        sim_protocol: || Arc::new(qt_venue_sim::binance_usdm::BinanceUsdm::default()),
        gateway: Some(crate::gateways::BINANCE_USDM),
    },
    VenueEntry {
        venue: Venue::Bybit,
        endpoints: Endpoints { ws: true, rest: false },
        grouping: FeedGrouping::PerKind,
        decoder: |i, depth| {
            let depth = if depth == 0 { qt_feed::bybit::DEFAULT_DEPTH } else { depth };
            Ok(Box::new(qt_feed::bybit::Decoder::new(i, depth)))
        },
        live_feed: |t, i| {
            let linear = i.first().is_some_and(|x| x.kind() != InstrumentKind::Spot);
            let mut cfg = qt_feed::BybitFeedConfig::new(t.ws_url.clone(), i);
            cfg.category = if linear { qt_feed::bybit::Category::Linear } else { qt_feed::bybit::Category::Spot };
            (cfg.ca_file, cfg.server_name) = (t.ca_file.clone(), t.server_name.clone());
            Ok(Box::new(qt_feed::BybitFeed::new(cfg)?))
        },
        capture: true,
        symbol_key: SymbolKey::TopicTail('.'),
        sim_protocol: || Arc::new(qt_venue_sim::bybit::BybitV5::default()),
        gateway: Some(crate::gateways::BYBIT),
    },
    VenueEntry {
        venue: Venue::Okx,
        endpoints: Endpoints { ws: true, rest: false },
        grouping: FeedGrouping::One,
        decoder: |i, _| Ok(Box::new(qt_feed::okx::Decoder::new(i))),
        live_feed: |t, i| {
            let cfg = qt_feed::okx::live::OkxFeedConfig::new(ws_config(t, i));
            Ok(Box::new(qt_feed::okx::live::OkxLive::feed(cfg)?))
        },
        capture: true,
        symbol_key: SymbolKey::Field("\"instId\":\""),
        sim_protocol: || Arc::new(qt_venue_sim::okx::OkxV5::default()),
        gateway: Some(crate::gateways::OKX),
    },
    VenueEntry {
        venue: Venue::Kucoin,
        endpoints: Endpoints { ws: false, rest: true },
        grouping: FeedGrouping::One,
        decoder: |i, _| Ok(Box::new(qt_feed::kucoin::Decoder::new(i))),
        // The public 100-level snapshot: the full one needs a signed request on the venue.
        live_feed: |t, i| Ok(Box::new(qt_feed::kucoin::KucoinFeed::new(snapshot_config(t, i, 100))?)),
        capture: true,
        symbol_key: SymbolKey::TopicTail(':'),
        sim_protocol: || Arc::new(qt_venue_sim::kucoin::KucoinSpot::default()),
        gateway: Some(crate::gateways::KUCOIN),
    },
    VenueEntry {
        venue: Venue::Kraken,
        endpoints: Endpoints { ws: true, rest: false },
        grouping: FeedGrouping::One,
        // Kraken's checksum formats at the pair's precision: the instruments' scales must be it.
        decoder: |i, depth| {
            let depth = if depth == 0 { qt_feed::kraken::DEPTHS[0] } else { usize::from(depth) };
            Ok(Box::new(qt_feed::kraken::Decoder::with_depth(i, &[], depth)))
        },
        live_feed: |t, i| {
            let cfg = qt_feed::kraken::live::KrakenFeedConfig::new(ws_config(t, i));
            Ok(Box::new(qt_feed::kraken::live::KrakenLive::feed(cfg)?))
        },
        capture: true,
        symbol_key: SymbolKey::Field("\"symbol\":\""),
        sim_protocol: || Arc::new(qt_venue_sim::kraken::KrakenV2::new()),
        gateway: Some(crate::gateways::KRAKEN),
    },
    VenueEntry {
        venue: Venue::Firi,
        endpoints: Endpoints { ws: false, rest: true },
        grouping: FeedGrouping::PerInstrument,
        decoder: |i, _| match i {
            [one] => Ok(Box::new(qt_feed::firi::Decoder::new(one.clone()))),
            _ => bail!("a Firi capture holds one market's depth bodies; give exactly one --symbols"),
        },
        live_feed: |t, i| {
            let [one] = <[Instrument; 1]>::try_from(i).map_err(|_| anyhow::anyhow!("a Firi feed polls one market"))?;
            let mut cfg = qt_feed::firi::FiriFeedConfig::new(t.rest_url.clone(), one);
            (cfg.ca_file, cfg.server_name) = (t.ca_file.clone(), t.server_name.clone());
            cfg.interval = t.poll_interval.unwrap_or(cfg.interval);
            Ok(Box::new(qt_feed::firi::FiriFeed::new(cfg)?))
        },
        capture: true,
        symbol_key: SymbolKey::None,
        sim_protocol: || Arc::new(qt_venue_sim::firi::FiriPublic::default()),
        gateway: Some(crate::gateways::FIRI),
    },
];

/// The entry of `venue`; `None` for the built-in simulated venue.
pub fn entry(venue: Venue) -> Option<&'static VenueEntry> {
    VENUES.iter().find(|e| e.venue == venue)
}

/// The entry of `venue`, or an error naming the venues there are.
pub fn require(venue: Venue) -> anyhow::Result<&'static VenueEntry> {
    entry(venue).ok_or_else(|| anyhow::anyhow!("{venue} is not a market-data venue (venues: {})", names(|_| true)))
}

/// The names of the venues `keep` admits, comma-separated (for messages and help).
pub fn names(keep: impl Fn(&VenueEntry) -> bool) -> String {
    VENUES.iter().filter(|e| keep(e)).map(VenueEntry::name).collect::<Vec<_>>().join(", ")
}

fn snapshot_config(
    t: &FeedTarget,
    symbols: Vec<Instrument>,
    depth: usize,
) -> qt_feed::snapshot_feed::SnapshotFeedConfig {
    let mut cfg = qt_feed::snapshot_feed::SnapshotFeedConfig::new(t.ws_url.clone(), t.rest_url.clone(), symbols);
    (cfg.ca_file, cfg.server_name, cfg.depth_limit) = (t.ca_file.clone(), t.server_name.clone(), depth);
    cfg
}

fn ws_config(t: &FeedTarget, symbols: Vec<Instrument>) -> qt_feed::ws_feed::WsFeedConfig {
    qt_feed::ws_feed::WsFeedConfig {
        ws_url: t.ws_url.clone(),
        ca_file: t.ca_file.clone(),
        server_name: t.server_name.clone(),
        symbols,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_but_the_simulated_one_has_one_entry() {
        for v in Venue::ALL {
            let n = VENUES.iter().filter(|e| e.venue == v).count();
            assert_eq!(n, usize::from(v != Venue::Sim), "{v}");
        }
        assert_eq!(names(|e| e.gateway.is_some()), "binance, binance_usdm, bybit, okx, kucoin, kraken, firi");
    }

    #[test]
    fn every_protocol_is_named_like_its_venue() {
        for e in &VENUES {
            assert_eq!((e.sim_protocol)().name(), e.name());
        }
    }

    #[test]
    fn bybit_splits_by_kind_and_firi_by_market() {
        let kinds = [InstrumentKind::Spot, InstrumentKind::LinearPerpetual, InstrumentKind::Spot];
        let idx = [0usize, 1, 2];
        let bybit = require(Venue::Bybit).unwrap().feed_groups(&idx, |i| kinds[*i]);
        assert_eq!(bybit, vec![vec![0, 2], vec![1]]);
        let firi = require(Venue::Firi).unwrap().feed_groups(&idx, |i| kinds[*i]);
        assert_eq!(firi, vec![vec![0], vec![1], vec![2]]);
        assert_eq!(require(Venue::Okx).unwrap().feed_groups(&idx, |i| kinds[*i]), vec![vec![0, 1, 2]]);
    }
}
