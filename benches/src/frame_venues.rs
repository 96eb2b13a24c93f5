//! The seven venues as `qt bench` drives them: each venue's standard generated stream (from
//! [`crate::stream_benches`]), its real decoder, how that decoder syncs, and an order size for
//! the strategy; [`frame_engine`] wires one into the engine behind a [`FrameFeed`].
//!
//! Set-up code: generating a stream takes a moment and allocates freely.

use crate::feed_streams::VenueStream;
use crate::frame_feed::{FrameFeed, FrameProbe, Pace, SyncStep};
use crate::stream_benches::stream_bench;
use crate::venue_stand_in::{VenueReplies, VenueStandIn, wire_engine};
use qt_core::decimal::DecimalStyle;
use qt_core::strategy::imbalance::ImbalanceParams;
use qt_core::{Engine, Instrument, InstrumentId, InstrumentRegistry, InstrumentSpec, Nanos, SimClock, Venue};
use qt_feed::VenueDecoder;
use qt_risk::RiskGate;
use std::sync::Arc;

/// One venue's decoder as the bench drives it.
#[derive(Debug)]
pub struct FrameVenue {
    /// The venue.
    pub venue: Venue,
    /// Its decoder for a stream's instrument (synced on the stream by its feed-bench set-up;
    /// [`FrameFeed`] resyncs it through the engine on its first poll).
    pub decoder: fn(&VenueStream) -> Box<dyn VenueDecoder>,
    /// How it syncs.
    pub sync: SyncStep,
    /// The strategy's order size (about 1 300 to 2 000 in the quote currency at the stream's
    /// mid, under the reference account's 2 500 per order).
    pub order_qty: &'static str,
}

/// Every venue, in the registry's order.
pub static FRAME_VENUES: [FrameVenue; 7] = [
    FrameVenue {
        venue: Venue::Binance,
        decoder: |s| Box::new(crate::feed_streams::binance_synced(s).0),
        sync: SyncStep::FrameThenBody,
        order_qty: "0.02",
    },
    FrameVenue {
        venue: Venue::BinanceUsdm,
        decoder: |s| Box::new(crate::feed_streams_usdm::usdm_synced(s).0),
        sync: SyncStep::FrameThenBody,
        order_qty: "0.02",
    },
    FrameVenue {
        venue: Venue::Bybit,
        decoder: |s| Box::new(crate::feed_streams_bybit::bybit_synced(s).0),
        sync: SyncStep::SnapshotFrame,
        order_qty: "0.02",
    },
    FrameVenue {
        venue: Venue::Okx,
        decoder: |s| Box::new(crate::feed_streams::okx_synced(s).0),
        sync: SyncStep::SnapshotFrame,
        order_qty: "0.02",
    },
    FrameVenue {
        venue: Venue::Kucoin,
        decoder: |s| Box::new(crate::feed_streams_kucoin::kucoin_synced(s).0),
        sync: SyncStep::FrameThenBody,
        order_qty: "0.02",
    },
    FrameVenue {
        venue: Venue::Kraken,
        decoder: |s| Box::new(crate::feed_streams_kraken::kraken_synced(s).0),
        sync: SyncStep::SnapshotFrame,
        order_qty: "0.02",
    },
    FrameVenue {
        venue: Venue::Firi,
        decoder: |s| Box::new(crate::feed_streams_firi::firi_synced(s).0),
        sync: SyncStep::SnapshotFrame,
        order_qty: "0.002",
    },
];

/// The entry of `venue`; `None` for a venue without a generated stream (the simulated venue).
pub fn frame_venue(venue: Venue) -> Option<&'static FrameVenue> {
    FRAME_VENUES.iter().find(|v| v.venue == venue)
}

/// A registry holding exactly `instrument` as instrument 0 (rebuilt from its grid and limits;
/// panics if the rebuilt instrument differs, which would be a fixture bug).
pub fn registry_of(instrument: &Instrument) -> InstrumentRegistry {
    let spec = InstrumentSpec {
        venue: instrument.venue(),
        symbol: instrument.symbol().into(),
        base: instrument.base().into(),
        quote: instrument.quote().into(),
        kind: instrument.kind(),
        tick_size: instrument.price_text(instrument.tick()).as_str().into(),
        lot_size: instrument.qty_text(instrument.lot()).as_str().into(),
        min_qty: Some(instrument.qty_text(instrument.min_qty()).as_str().into()),
        min_notional: Some(instrument.min_notional().to_text(DecimalStyle::Trimmed).as_str().into()),
        multiplier: Some(instrument.multiplier_text()),
        price_scale: Some(instrument.price_scale()),
        qty_scale: Some(instrument.qty_scale()),
    };
    let mut registry = InstrumentRegistry::new();
    registry.add(&spec).expect("a fixture instrument's own grid is valid");
    assert_eq!(registry.get(InstrumentId(0)), Some(instrument), "the rebuilt instrument is the fixture's");
    registry
}

/// An engine fed by `venue`'s standard stream through its decoder (a [`FrameFeed`] paced by
/// `pace`), trading the order-heavy imbalance taker ([`crate::order_heavy_params`] at the
/// venue's order size) through the full risk gate, every order expiring unfilled (the
/// position stays flat, so every signal becomes an order); with the venue's other side and the
/// feed's probe. `None` for a venue without a stream.
pub fn frame_engine(venue: Venue, pace: Pace) -> Option<(Engine<RiskGate>, VenueStandIn, Arc<FrameProbe>)> {
    let entry = frame_venue(venue)?;
    let stream = (stream_bench(venue)?.stream)();
    let instrument = stream.instrument.clone();
    let decoder = (entry.decoder)(&stream);
    let clock = SimClock::new(Nanos::ZERO);
    let (feed, probe) = FrameFeed::new(decoder, stream, entry.sync, pace, clock.clone());
    let qty = |text: &str| instrument.parse_qty(text).expect("the order size is on the venue's lot grid");
    let order = qty(entry.order_qty);
    let params = ImbalanceParams { qty: order, max_position: qty("1000"), ..crate::order_heavy_params() };
    let (engine, stand_in) =
        wire_engine(registry_of(&instrument), Box::new(feed), clock, params, VenueReplies::ExpireAll);
    Some((engine, stand_in, probe))
}
