//! Applying a book diff while it is parsed: [`DiffSink`], the parser's question "does this diff
//! go straight to the book?", and the level walks shared by the venues whose levels are
//! `[price, qty]` string pairs (Binance spot and USD-M, Bybit), and the string best bid/offer of
//! Binance spot's and USD-M's `bookTicker`.
//!
//! A parser reads a diff's update ids first and asks its sink. If the sink's sync would apply
//! the diff now (synced, in sequence), each level record goes to the sink as it is parsed;
//! otherwise the records are staged in the parser's output vector for the sync to buffer, drop
//! or refuse. Emitting directly saves one copy of every record into the vector and one loop
//! over it (BENCHMARKS.md `feed_parse`, round 7). If a later level of such a diff is bad, the
//! records before it have already gone out and the frame is still refused: the caller then
//! invalidates the book, as it does for any refused diff.

use crate::kit::json::{get_str, level_price_bytes, price, qty, qty_bytes};
use crate::kit::lift::{LiftSpec, Lifted, string_levels};
use crate::kit::symbol_sync::SymbolSync;
use crate::parse_error::ParseError;
use qt_core::{EventKind, MarketEvent, Side};
use simd_json::Node;

/// Where a diff's level records go when the caller can apply it on the spot. `Ids` are the
/// venue's update ids of one diff (what its sync checks).
pub trait DiffSink<Ids> {
    /// Whether the diff with `ids` of symbol index `symbol` goes straight to [`Self::emit`];
    /// `false` stages its records in the parser's output vector.
    fn direct(&mut self, symbol: usize, ids: Ids) -> bool;
    /// One record of an accepted diff.
    fn emit(&mut self, ev: &MarketEvent);
}

/// The sink that stages every diff (a parser's plain `parse_frame`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageEverything;

impl<Ids> DiffSink<Ids> for StageEverything {
    #[inline]
    fn direct(&mut self, _: usize, _: Ids) -> bool {
        false
    }

    #[inline]
    fn emit(&mut self, _: &MarketEvent) {}
}

/// The decoder shell's [`DiffSink`] ([`crate::kit::depth_decoder`]): a diff of an active symbol
/// whose sync would apply it now ([`SymbolSync::applies_directly`]) goes to `emit` while it is
/// parsed, unless the decoder stages everything (`direct` off).
pub(crate) struct SyncedSink<'a, S, E: FnMut(&MarketEvent) + ?Sized> {
    /// The decoder's `set_direct` switch.
    pub(crate) direct: bool,
    /// Per-symbol syncs.
    pub(crate) syncs: &'a [S],
    /// Per symbol: subscribed.
    pub(crate) active: &'a [bool],
    /// Where records go.
    pub(crate) emit: &'a mut E,
}

impl<S: SymbolSync, E: FnMut(&MarketEvent) + ?Sized> DiffSink<S::Ids> for SyncedSink<'_, S, E> {
    #[inline]
    fn direct(&mut self, symbol: usize, ids: S::Ids) -> bool {
        self.direct
            && self.active.get(symbol).copied().unwrap_or(false)
            && self.syncs.get(symbol).is_some_and(|s| s.applies_directly(ids))
    }

    #[inline]
    fn emit(&mut self, ev: &MarketEvent) {
        (self.emit)(ev);
    }
}

/// The exact grids of one instrument's prices and quantities.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scales {
    /// Decimals of a price.
    pub(crate) price: u8,
    /// Decimals of a quantity.
    pub(crate) qty: u8,
}

/// The level lists of the `[price, qty]` string-pair venues, `"b"` (bids) and `"a"` (asks),
/// lifted out of their frames before simd-json ([`crate::kit::lift`]).
pub(crate) const PAIR_LISTS: LiftSpec = LiftSpec { keys: &[b"\"b\":", b"\"a\":"], arity: 2 };

/// Levels a string-pair parser's lifted lists have room for before they grow (a Bybit
/// `orderbook.200` snapshot: 400).
pub(crate) const LIFTED_LEVELS: usize = 512;

/// Walks an array of `[price, qty]` string pairs at `at` — or the lifted list whose marker is
/// there ([`string_levels`]) — pushing one `template` record per level with its price and
/// quantity. Always inlined: out of line (it has two callers per diff) it cost calls and spills
/// (BENCHMARKS.md `feed_parse`, "Measured design choices").
#[inline(always)]
pub(crate) fn string_pairs(
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    at: usize,
    key: &'static str,
    scales: Scales,
    template: &MarketEvent,
    push: &mut impl FnMut(MarketEvent),
) -> Result<(), ParseError> {
    for level in string_levels(nodes, lifted, at, key)? {
        let [price, qty] = level.ok_or(ParseError::WrongType(key))?;
        let mut ev = *template;
        ev.price = level_price_bytes(price, scales.price, key)?;
        ev.qty = qty_bytes(qty, scales.qty, key)?;
        push(ev);
    }
    Ok(())
}

/// A diff's bid and ask arrays or lifted lists (`sides`: tape index and key, bids first) as `template`
/// records, pushed to `out` or — if `direct` — emitted to `sink` with `BATCH_END` on the last
/// record. Returns whether they were emitted.
#[allow(clippy::too_many_arguments)] // reason: one diff's context, passed down one level
#[inline(always)]
pub(crate) fn string_pair_diff<Ids>(
    nodes: &[Node<'_>],
    lifted: &Lifted<'_>,
    sides: [(usize, &'static str); 2],
    scales: Scales,
    template: &mut MarketEvent,
    direct: bool,
    out: &mut Vec<MarketEvent>,
    sink: &mut impl DiffSink<Ids>,
) -> Result<bool, ParseError> {
    let [(bids, bids_key), (asks, asks_key)] = sides;
    if direct {
        let count = |at| match nodes.get(at) {
            Some(Node::Array { len, .. }) => *len,
            Some(Node::String(mark)) => lifted.levels(mark),
            _ => 0,
        };
        let total = count(bids) + count(asks);
        let mut emitted = 0;
        let mut push = |mut ev: MarketEvent| {
            emitted += 1;
            if emitted == total {
                ev.flags |= MarketEvent::BATCH_END;
            }
            sink.emit(&ev);
        };
        template.side = qt_core::Side::Buy;
        string_pairs(nodes, lifted, bids, bids_key, scales, template, &mut push)?;
        template.side = qt_core::Side::Sell;
        string_pairs(nodes, lifted, asks, asks_key, scales, template, &mut push)?;
        return Ok(true);
    }
    let mut push = |ev| out.push(ev);
    template.side = qt_core::Side::Buy;
    string_pairs(nodes, lifted, bids, bids_key, scales, template, &mut push)?;
    template.side = qt_core::Side::Sell;
    string_pairs(nodes, lifted, asks, asks_key, scales, template, &mut push)?;
    Ok(false)
}

/// A best bid and offer given as the decimal strings `b`, `B` (bid and its quantity) and `a`, `A`
/// of object `obj` (Binance spot's and USD-M's `bookTicker`), pushed to `out` as two
/// `BestBidOffer` records of `template` (its instrument, times and `seq`): the bid, then the
/// offer flagged `BATCH_END`.
pub(crate) fn string_quote(
    nodes: &[Node<'_>],
    obj: usize,
    scales: Scales,
    template: MarketEvent,
    out: &mut Vec<MarketEvent>,
) -> Result<(), ParseError> {
    let level = |price_key, qty_key| -> Result<_, ParseError> {
        let p = price(get_str(nodes, obj, price_key)?, scales.price, price_key)?;
        Ok((p, qty(get_str(nodes, obj, qty_key)?, scales.qty, qty_key)?))
    };
    let (bid, ask) = (level("b", "B")?, level("a", "A")?);
    for (side, (price, qty), flags) in [(Side::Buy, bid, 0), (Side::Sell, ask, MarketEvent::BATCH_END)] {
        let mut ev = template;
        (ev.kind, ev.side, ev.price, ev.qty, ev.flags) = (EventKind::BestBidOffer, side, price, qty, flags);
        out.push(ev);
    }
    Ok(())
}
