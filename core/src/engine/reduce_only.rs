//! `reduce_only` on spot, before the order ring: a reduce-only order never exceeds what the
//! account holds at that venue.
//!
//! Spot venues have no reduce-only flag (derivatives venues get it on the wire, and the venue
//! enforces it), so on spot the core is the only guard. A reduce-only order must be opposite
//! the account's position in that instrument (at the venue it was routed to), and at most the
//! position less what its working reduce-only orders on the same side may still take. More is
//! **clamped** to that (rounded down to the lot), as a scale-down with reason `reduce_only`:
//! "sell what I hold, never open a position" is the order's intent, and selling what is held
//! fulfils it, where refusing would leave the position open. Nothing to reduce (no position,
//! the wrong side, or a clamp below the instrument's minimum) is **refused** (`reduce_only`).
//!
//! Runs on the core thread per reduce-only spot order: a pass over the order table (bounded,
//! preallocated), no allocation.

use super::*;
use crate::instrument::InstrumentKind;
use crate::money::{Qty, Rounding};

impl<R: PreTradeCheck> Core<R> {
    /// The gate's `decision` on a reduce-only spot `request`, narrowed to what the account
    /// holds (see the module doc); other orders' decisions unchanged.
    #[inline]
    pub(super) fn reduce_only_on_spot(&self, request: &OrderRequest, decision: RiskDecision) -> RiskDecision {
        let spot = self.instruments.get(request.instrument).is_some_and(|i| i.kind() == InstrumentKind::Spot);
        if !request.reduce_only || !spot {
            return decision;
        }
        let asked = match decision {
            RiskDecision::Allow => request.qty,
            RiskDecision::ScaleDown(qty, _) => qty,
            RiskDecision::Block(_) => return decision,
        };
        match self.spot_reduce_only_qty(&OrderRequest { qty: asked, ..*request }) {
            Some(qty) if qty == asked => decision,
            Some(qty) => RiskDecision::ScaleDown(qty, BlockReason::ReduceOnly),
            None => RiskDecision::Block(BlockReason::ReduceOnly),
        }
    }

    /// The quantity `request` (reduce-only, on spot) may have, or `None` where it must be
    /// refused; `Some(request.qty)` where it passes as asked.
    pub(super) fn spot_reduce_only_qty(&self, request: &OrderRequest) -> Option<Qty> {
        let inst = self.instruments.get(request.instrument)?;
        let position = self.positions.get(request.account, request.instrument).map_or(Qty::ZERO, |p| p.qty());
        let opposite = match request.side {
            crate::order::Side::Buy => position.is_negative(),
            crate::order::Side::Sell => position.is_positive(),
        };
        if !opposite {
            return None;
        }
        let working: i64 = self
            .orders
            .iter()
            .filter(|o| {
                o.request.reduce_only
                    && o.request.account == request.account
                    && o.request.instrument == request.instrument
                    && o.request.side == request.side
            })
            .map(|o| o.request.qty.units().saturating_sub(o.cum_qty.units()).max(0))
            .fold(0i64, i64::saturating_add);
        let room = position.units().saturating_abs().saturating_sub(working);
        if request.qty.units() <= room {
            return Some(request.qty);
        }
        let clamped = inst.round_qty(Qty::from_units(room.max(0)), Rounding::Down).ok()?;
        (clamped.is_positive() && clamped >= inst.min_qty()).then_some(clamped)
    }
}
