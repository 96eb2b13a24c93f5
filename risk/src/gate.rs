//! [`PreTradeGate`]: the first risk gate — book validity, grid, order notional, position.
//!
//! Checks run in this order and stop at the first that blocks: unknown instrument → book
//! invalid → price/quantity off the grid → order notional above the account's limit (scaled
//! down to fit) → position after the fill above the account's limit (scaled down to fit). A
//! scale-down rounds down to the lot and becomes a block (`BelowMinimum`) if it falls below the
//! instrument's minimum quantity or notional. Runs on the core thread; no allocation.

use qt_core::{
    AccountId, BlockReason, Instrument, MarketView, Notional, OrderRequest, PreTradeCheck, Qty, RiskDecision, Rounding,
};

/// One account's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    /// Largest notional of one order.
    pub max_order_notional: Notional,
    /// Largest absolute position notional per instrument (valued at the order price).
    pub max_position_notional: Notional,
}

/// A limits table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A limit is zero or negative.
    #[error("account {account}: {field} must be greater than zero, got {value}")]
    NotPositive {
        /// Account index.
        account: usize,
        /// Field name.
        field: &'static str,
        /// The value.
        value: Notional,
    },
}

/// The pre-trade gate.
#[derive(Debug, Clone)]
pub struct PreTradeGate {
    limits: Vec<AccountLimits>,
}

impl PreTradeGate {
    /// A gate with one [`AccountLimits`] per account, indexed by [`AccountId`].
    pub fn new(limits: Vec<AccountLimits>) -> Result<Self, LimitsError> {
        for (account, l) in limits.iter().enumerate() {
            for (field, value) in
                [("max_order_notional", l.max_order_notional), ("max_position_notional", l.max_position_notional)]
            {
                if value <= Notional::ZERO {
                    return Err(LimitsError::NotPositive { account, field, value });
                }
            }
        }
        Ok(Self { limits })
    }

    /// The limits of `account`.
    pub fn limits(&self, account: AccountId) -> Option<&AccountLimits> {
        self.limits.get(account.index())
    }
}

/// Largest quantity on the lot grid, at most `qty`, whose notional at the order price is within
/// `cap`; `None` if that is below the instrument's minimum.
#[inline]
fn scale_to(inst: &Instrument, request: &OrderRequest, cap: Notional) -> Option<Qty> {
    let q = inst.qty_for_notional(request.price, cap).ok()?;
    let q = if q > request.qty { request.qty } else { q };
    let q = inst.round_qty(q, Rounding::Down).ok()?;
    let notional = inst.notional(request.price, q, Rounding::Up).ok()?;
    (q >= inst.min_qty() && notional >= inst.min_notional()).then_some(q)
}

impl PreTradeCheck for PreTradeGate {
    #[inline]
    fn check(&mut self, request: &OrderRequest, view: &MarketView<'_>) -> RiskDecision {
        let Some(inst) = view.instrument(request.instrument) else {
            return RiskDecision::Block(BlockReason::UnknownInstrument);
        };
        let Some(limits) = self.limits.get(request.account.index()) else {
            return RiskDecision::Block(BlockReason::StrategyNotAllowed);
        };
        match view.book(request.instrument) {
            Some(book) if book.is_valid() => {}
            _ => return RiskDecision::Block(BlockReason::BookInvalid),
        }
        if !inst.is_on_tick(request.price) || !inst.is_on_lot(request.qty) {
            return RiskDecision::Block(BlockReason::OffGrid);
        }
        let Ok(notional) = inst.notional(request.price, request.qty, Rounding::Up) else {
            return RiskDecision::Block(BlockReason::MaxOrderNotional);
        };
        if notional < inst.min_notional() || request.qty < inst.min_qty() {
            return RiskDecision::Block(BlockReason::BelowMinimum);
        }
        let mut decision = RiskDecision::Allow;
        let mut qty = request.qty;
        if notional > limits.max_order_notional {
            match scale_to(inst, request, limits.max_order_notional) {
                Some(q) => {
                    qty = q;
                    decision = RiskDecision::ScaleDown(q, BlockReason::MaxOrderNotional);
                }
                None => return RiskDecision::Block(BlockReason::MaxOrderNotional),
            }
        }
        // Position after a full fill, valued at the order price.
        let position = view.position(request.account, request.instrument).qty();
        let signed = qty.units().saturating_mul(request.side.sign());
        let after = Qty::from_units(position.units().saturating_add(signed));
        let Ok(after_notional) = inst.notional(request.price, after, Rounding::Up).and_then(|n| n.checked_abs()) else {
            return RiskDecision::Block(BlockReason::MaxPosition);
        };
        if after_notional > limits.max_position_notional {
            // Only the part that increases exposure is limited; reducing orders always pass.
            let before = inst
                .notional(request.price, position, Rounding::Up)
                .and_then(|n| n.checked_abs())
                .unwrap_or(Notional::MAX);
            if after_notional > before {
                let headroom = match limits.max_position_notional.checked_sub(before) {
                    Ok(h) if position.units().signum() != -request.side.sign() => h,
                    // An order that flips the position: room is the limit plus the part that closes.
                    _ => limits.max_position_notional.checked_add(before).unwrap_or(Notional::ZERO),
                };
                if headroom <= Notional::ZERO {
                    return RiskDecision::Block(BlockReason::MaxPosition);
                }
                let capped = OrderRequest { qty, ..*request };
                match scale_to(inst, &capped, headroom) {
                    Some(q) if q < qty => return RiskDecision::ScaleDown(q, BlockReason::MaxPosition),
                    Some(_) => {}
                    None => return RiskDecision::Block(BlockReason::MaxPosition),
                }
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::orders::OrderTable;
    use qt_core::position::PositionBook;
    use qt_core::{
        Book, InstrumentId, InstrumentKind, InstrumentRegistry, InstrumentSpec, Nanos, OrderType, Price, Side,
        StrategyId, TimeInForce, Venue,
    };

    struct World {
        instruments: InstrumentRegistry,
        books: Vec<Book>,
        positions: PositionBook,
        orders: OrderTable,
    }

    impl World {
        fn new() -> Self {
            let mut instruments = InstrumentRegistry::new();
            instruments
                .add(&InstrumentSpec {
                    venue: Venue::Sim,
                    symbol: "BTCUSDT".into(),
                    base: "BTC".into(),
                    quote: "USDT".into(),
                    kind: InstrumentKind::Spot,
                    tick_size: "0.05".into(),
                    lot_size: "0.001".into(),
                    min_qty: Some("0.002".into()),
                    min_notional: Some("10".into()),
                    multiplier: None,
                    price_scale: None,
                    qty_scale: None,
                })
                .unwrap();
            let mut book = Book::new(InstrumentId(0), 8);
            book.set_level(Side::Buy, Price::parse("9999", 2).unwrap(), Qty::from_units(1000)).unwrap();
            book.set_level(Side::Sell, Price::parse("10001", 2).unwrap(), Qty::from_units(1000)).unwrap();
            book.mark_valid();
            Self { instruments, books: vec![book], positions: PositionBook::new(1, 1), orders: OrderTable::new(4) }
        }

        fn view(&self) -> MarketView<'_> {
            MarketView {
                instruments: &self.instruments,
                books: &self.books,
                positions: &self.positions,
                orders: &self.orders,
                now: Nanos(0),
                local_now: Nanos(0),
            }
        }
    }

    fn gate(order: &str, position: &str) -> PreTradeGate {
        PreTradeGate::new(vec![AccountLimits {
            max_order_notional: Notional::parse(order).unwrap(),
            max_position_notional: Notional::parse(position).unwrap(),
        }])
        .unwrap()
    }

    fn req(side: Side, price: &str, qty: &str) -> OrderRequest {
        OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
            price: Price::parse(price, 2).unwrap(),
            qty: Qty::parse(qty, 3).unwrap(),
            reduce_only: false,
            stop_price: None,
        }
    }

    fn q(s: &str) -> Qty {
        Qty::parse(s, 3).unwrap()
    }

    #[test]
    fn table_of_decisions() {
        let w = World::new();
        /// (name, (side, price, qty), max order notional, max position notional, expected)
        type Case<'a> = (&'a str, (Side, &'a str, &'a str), &'a str, &'a str, RiskDecision);
        let cases: &[Case<'_>] = &[
            ("plain allow", (Side::Buy, "10000", "0.01"), "1000", "5000", RiskDecision::Allow),
            ("exactly at order limit", (Side::Buy, "10000", "0.1"), "1000", "5000", RiskDecision::Allow),
            (
                "one lot over order limit scales down",
                (Side::Buy, "10000", "0.101"),
                "1000",
                "5000",
                RiskDecision::ScaleDown(q("0.1"), BlockReason::MaxOrderNotional),
            ),
            (
                "scale below minimum blocks",
                (Side::Buy, "10000", "0.01"),
                "15",
                "5000",
                RiskDecision::Block(BlockReason::MaxOrderNotional),
            ),
            (
                "below min notional",
                (Side::Buy, "10000", "0.00"),
                "1000",
                "5000",
                RiskDecision::Block(BlockReason::OffGrid),
            ),
            (
                "below min qty",
                (Side::Buy, "4000", "0.001"),
                "1000",
                "5000",
                RiskDecision::Block(BlockReason::BelowMinimum),
            ),
            ("off tick", (Side::Buy, "10000.01", "0.01"), "1000", "5000", RiskDecision::Block(BlockReason::OffGrid)),
            ("exactly at position limit", (Side::Sell, "10000", "0.05"), "1000", "500", RiskDecision::Allow),
            (
                "one lot over position limit",
                (Side::Sell, "10000", "0.051"),
                "1000",
                "500",
                RiskDecision::ScaleDown(q("0.05"), BlockReason::MaxPosition),
            ),
        ];
        for (name, (side, price, qty), order, position, want) in cases {
            let mut g = gate(order, position);
            let r = req(*side, price, qty);
            let r = if *qty == "0.00" { OrderRequest { qty: Qty::ZERO, ..r } } else { r };
            assert_eq!(g.check(&r, &w.view()), *want, "{name}");
        }
    }

    #[test]
    fn invalid_book_blocks() {
        let mut w = World::new();
        w.books[0].invalidate();
        assert_eq!(
            gate("1000", "1000").check(&req(Side::Buy, "10000", "0.01"), &w.view()),
            RiskDecision::Block(BlockReason::BookInvalid)
        );
    }

    #[test]
    fn position_limit_counts_existing_position_and_lets_reductions_through() {
        let mut w = World::new();
        let inst = w.instruments.get(InstrumentId(0)).unwrap().clone();
        w.positions
            .get_mut(AccountId(0), InstrumentId(0))
            .unwrap()
            .apply_fill(&inst, Side::Buy, Price::parse("10000", 2).unwrap(), q("0.04"), Notional::ZERO)
            .unwrap();
        let mut g = gate("1000", "500");
        // 0.04 held; buying 0.02 more would be 600 > 500: scaled to 0.01.
        assert_eq!(
            g.check(&req(Side::Buy, "10000", "0.02"), &w.view()),
            RiskDecision::ScaleDown(q("0.01"), BlockReason::MaxPosition)
        );
        // Selling reduces exposure: allowed.
        assert_eq!(g.check(&req(Side::Sell, "10000", "0.04"), &w.view()), RiskDecision::Allow);
        // Flipping to a short of 0.05 (500) is within the limit.
        assert_eq!(g.check(&req(Side::Sell, "10000", "0.09"), &w.view()), RiskDecision::Allow);
        // Flipping to a short of 0.06 is scaled back to a short of 0.05.
        assert_eq!(
            g.check(&req(Side::Sell, "10000", "0.1"), &w.view()),
            RiskDecision::ScaleDown(q("0.09"), BlockReason::MaxPosition)
        );
    }

    #[test]
    fn refuses_non_positive_limits() {
        let e = PreTradeGate::new(vec![AccountLimits {
            max_order_notional: Notional::ZERO,
            max_position_notional: Notional::from_whole(1),
        }])
        .unwrap_err();
        assert!(e.to_string().contains("max_order_notional"), "{e}");
    }
}
