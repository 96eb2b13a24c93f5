//! What the live layer asks of a venue and of its decoder: [`LiveVenue`], the venue's connect
//! step (URLs, subscription frames, heartbeat rule, reconnect policy, session opening — each
//! venue's `connect.rs`), and [`LiveDecoder`], the part of a [`VenueDecoder`] the layer drives
//! beyond frames (which books are in sync, which want a resubscribe or a REST snapshot).
//!
//! Every [`LiveVenue`] method runs at start-up, on a cold path (connect, resubscribe, heartbeat)
//! or on the snapshot thread — never per frame — and may allocate. [`LiveDecoder`] methods run
//! on the core thread; those the layer calls every poll (`is_synced`, `wants_resubscribe`,
//! `take_snapshot_request`) must not allocate.

use super::heartbeat::Heartbeat;
use crate::decoder::VenueDecoder;
use crate::snapshot::HttpsClient;
use qt_core::{MarketEvent, Nanos};

/// First reconnect delay (before jitter) unless the venue says otherwise.
pub const RECONNECT_BASE: Nanos = Nanos(100_000_000);
/// Largest reconnect delay (before jitter) unless the venue says otherwise.
pub const RECONNECT_CAP: Nanos = Nanos(5_000_000_000);
/// How long a venue that resyncs in the stream usually waits for a book's snapshot before
/// resubscribing it ([`LiveVenue::snapshot_timeout`]).
pub const DEFAULT_SNAPSHOT_TIMEOUT: Nanos = Nanos(5_000_000_000);

/// One WebSocket session a venue opened over REST ([`LiveVenue::open_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPlan {
    /// Full `wss://` URL with path and query.
    pub url: String,
    /// The application-level heartbeat this session needs.
    pub heartbeat: Heartbeat,
    /// Drop the session when nothing arrived for this long (`None`: never for silence).
    pub silence_timeout: Option<Nanos>,
}

/// A venue's connect step: everything about reaching and keeping its public market-data
/// session that differs between venues. Shared by the core thread (frames to send) and the
/// snapshot thread (session opening, snapshot targets), hence `Sync`.
pub trait LiveVenue: Send + Sync + std::fmt::Debug + 'static {
    /// The decoder of this venue's frames.
    type Decoder: LiveDecoder;

    /// Lower-case venue name for the feed name, errors and logs (`binance`, `okx`).
    fn name(&self) -> &'static str;

    /// Symbols (indices `0..n`), as the decoder tracks them.
    fn symbol_count(&self) -> usize;

    /// The request target (path and query) to open on the configured `ws_url`, given its own
    /// target (`/` when it has none): OKX appends `/ws/v5/public`, Binance
    /// `/stream?streams=...`. Unused when [`Self::opens_sessions`].
    fn ws_target(&self, configured: &str) -> String {
        configured.to_owned()
    }

    /// Whether every session is opened over REST first ([`Self::open_session`], on the snapshot
    /// thread before every connect: KuCoin's single-use bullet token). Otherwise the session is
    /// `ws_url` + [`Self::ws_target`], resolved once at start-up, with [`Self::heartbeat`] and
    /// [`Self::silence_timeout`].
    fn opens_sessions(&self) -> bool {
        false
    }

    /// On the snapshot thread, before every (re)connect of a venue that [`Self::opens_sessions`]:
    /// where the next session is. May block on `rest`.
    fn open_session(&self, _rest: &HttpsClient) -> Result<SessionPlan, String> {
        Err(format!("{} opens no sessions over REST", self.name()))
    }

    /// Text frames to send once the session is ready (open, and greeted when the venue greets
    /// first), given which symbols are subscribed (`active[i]`): subscriptions, or — when the
    /// URL already names every stream — the unsubscriptions of the inactive ones.
    fn subscriptions(&self, active: &[bool]) -> Vec<String>;

    /// Text frames that (un)subscribe symbol `index` on an open session; `None` if the venue
    /// (and its decoder) cannot change one symbol's subscription on a live session.
    fn change_requests(&self, _index: usize, _subscribe: bool) -> Option<Vec<String>> {
        None
    }

    /// Requests that renew symbol `index`'s book subscription so the venue sends a fresh
    /// snapshot in the stream (typically unsubscribe then subscribe), sent in order when the
    /// decoder asks ([`LiveDecoder::take_resubscribe`]). Built once at start-up.
    fn resubscribe_requests(&self, _index: usize) -> Vec<String> {
        Vec::new()
    }

    /// A marker of the venue's greeting (KuCoin's `"welcome"`) when it greets first:
    /// subscriptions wait for a frame holding it.
    fn greeting(&self) -> Option<&'static [u8]> {
        None
    }

    /// The application-level heartbeat of a session this venue does not open over REST.
    fn heartbeat(&self) -> Heartbeat {
        Heartbeat::None
    }

    /// A session that received nothing for this long is dead: drop it and reconnect. Should
    /// exceed the heartbeat interval plus the venue's reply time. `None`: never for silence.
    fn silence_timeout(&self) -> Option<Nanos> {
        None
    }

    /// First and largest reconnect delay (before jitter).
    fn reconnect_policy(&self) -> (Nanos, Nanos) {
        (RECONNECT_BASE, RECONNECT_CAP)
    }

    /// A book still not in sync this long after its (re)subscription is resubscribed again (a
    /// refused or lost request must not leave it invalid forever). `None`: the venue resyncs
    /// over REST instead.
    fn snapshot_timeout(&self) -> Option<Nanos> {
        None
    }

    /// `GET` target (path and query) of symbol `index`'s REST snapshot, for venues whose books
    /// sync a diff stream against REST snapshots.
    fn snapshot_target(&self, _index: usize) -> Option<String> {
        None
    }
}

/// The part of a decoder the live layer drives beyond [`VenueDecoder`]. Venues that resync in
/// the stream implement the resubscribe pair; venues that resync over REST implement the
/// snapshot requests and answers (and [`Self::set_active`] when they can change subscriptions).
pub trait LiveDecoder: VenueDecoder {
    /// Symbols (indices `0..n`).
    fn symbol_count(&self) -> usize;

    /// Whether symbol `index`'s book is in sync (a snapshot applied, nothing broken since).
    fn is_synced(&self, index: usize) -> bool;

    /// Whether symbol `index`'s book must be resubscribed (after a gap, a checksum mismatch, an
    /// unreadable book frame), clearing the request: the caller resubscribes now.
    fn take_resubscribe(&mut self, _index: usize) -> bool {
        false
    }

    /// [`Self::take_resubscribe`] without clearing.
    fn wants_resubscribe(&self, _index: usize) -> bool {
        false
    }

    /// If symbol `index` wants a REST snapshot now, the generation to tag the request with (the
    /// want is taken: it is not returned again until [`Self::retry_snapshot_request`] or a
    /// new resync).
    fn take_snapshot_request(&mut self, _index: usize) -> Option<u64> {
        None
    }

    /// The request `generation` could not be sent or failed: want it again (if still current).
    fn retry_snapshot_request(&mut self, _index: usize, _generation: u64) {}

    /// A snapshot body answering request `generation` (parsed in place; refused bodies are
    /// counted and the snapshot wanted again). Cold path.
    fn on_snapshot_reply(
        &mut self,
        _index: usize,
        _generation: u64,
        _body: &mut [u8],
        _now: Nanos,
        _emit: &mut dyn FnMut(&MarketEvent),
    ) {
    }

    /// Symbol `index` is (un)subscribed: when it stops, its book is invalidated (one `CLEAR`
    /// record), frames of it still in flight are dropped and no snapshot is wanted for it; when
    /// it starts again it resyncs from its next diff. Called only for venues whose
    /// [`LiveVenue::change_requests`] is `Some`. Cold path.
    fn set_active(&mut self, _index: usize, _active: bool, _now: Nanos, _emit: &mut dyn FnMut(&MarketEvent)) {}
}

/// For [`LiveDecoder::set_active`]: sets `active[index]` to `on` and says whether that turned
/// the symbol off (the decoder then invalidates its book).
pub(crate) fn deactivates(active: &mut [bool], index: usize, on: bool) -> bool {
    active.get_mut(index).is_some_and(|flag| std::mem::replace(flag, on) && !on)
}
