//! A small world for risk tests: two spot instruments with valid books, positions, orders and a
//! gate builder with relaxed limits that a test tightens one at a time.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use qt_core::orders::OrderTable;
use qt_core::position::PositionBook;
use qt_core::{
    AccountId, Book, EventKind, InstrumentId, InstrumentRegistry, InstrumentSpec, MarketEvent, MarketView, Nanos,
    Notional, OrderRequest, OrderType, Price, Qty, Rate, Side, StrategyId, TimeInForce, Venue, VenueId,
};
use qt_risk::ess::EmergencyStop;
use qt_risk::global_level::{GlobalRisk, GlobalRiskConfig};
use qt_risk::profile::{CapitalProfile, OrderRate, ProfileLimits};
use qt_risk::{AccountSpec, GateSettings, RiskGate};

pub const SECRET: &[u8] = b"0123456789abcdef-test-secret";
pub const BTC: InstrumentId = InstrumentId(0);
pub const ETH: InstrumentId = InstrumentId(1);
/// BTCUSDT's sibling at another venue ([`World::with_btc_sibling`]).
pub const BTC_AT_BYBIT: InstrumentId = InstrumentId(2);

pub struct World {
    pub instruments: InstrumentRegistry,
    pub books: Vec<Book>,
    pub positions: PositionBook,
    pub orders: OrderTable,
    pub now: Nanos,
    pub siblings: qt_core::routing::Siblings,
}

impl World {
    /// BTCUSDT (tick 0.1, lot 0.001, min qty `btc_min_qty`, min notional `btc_min_notional`),
    /// mid 10000.0; ETHUSDT (tick 0.05, lot 0.001), mid 1000.00; `accounts` accounts.
    pub fn with(accounts: usize, btc_min_qty: &str, btc_min_notional: &str) -> Self {
        let mut btc = InstrumentSpec::spot(Venue::Sim, "BTCUSDT", "BTC", "USDT", "0.1", "0.001")
            .with_min_notional(btc_min_notional);
        btc.min_qty = Some(btc_min_qty.into());
        let mut eth = InstrumentSpec::spot(Venue::Sim, "ETHUSDT", "ETH", "USDT", "0.05", "0.001");
        eth.min_qty = Some("0.001".into());
        let mut instruments = InstrumentRegistry::new();
        instruments.add(&btc).unwrap();
        instruments.add(&eth).unwrap();
        let mut w = Self {
            books: Vec::new(),
            positions: PositionBook::new(accounts, 2),
            orders: OrderTable::new(64),
            now: Nanos(1_767_225_600_000_000_000),
            siblings: qt_core::routing::Siblings::default(),
            instruments,
        };
        w.books = vec![Book::new(BTC, 16), Book::new(ETH, 16)];
        w.set_quote(BTC, "9999.9", "10000.1");
        w.set_quote(ETH, "999.95", "1000.05");
        w
    }

    pub fn new() -> Self {
        Self::with(2, "0.001", "5")
    }

    /// [`World::new`] with BTCUSDT also listed at Bybit ([`BTC_AT_BYBIT`], same grid and
    /// quotes): one canonical instrument at two venues.
    pub fn with_btc_sibling() -> Self {
        let mut w = Self::new();
        let spec = InstrumentSpec::spot(Venue::Bybit, "BTCUSDT", "BTC", "USDT", "0.1", "0.001").with_min_notional("5");
        assert_eq!(w.instruments.add(&spec).unwrap(), BTC_AT_BYBIT);
        w.books.push(Book::new(BTC_AT_BYBIT, 16));
        w.set_quote(BTC_AT_BYBIT, "9999.9", "10000.1");
        w.positions = PositionBook::new(2, 3);
        w.siblings = qt_core::routing::Siblings::alone(&w.instruments);
        w.siblings.add_group(&w.instruments, "BTC/USDT", &[BTC, BTC_AT_BYBIT]).unwrap();
        w
    }

    pub fn set_quote(&mut self, i: InstrumentId, bid: &str, ask: &str) {
        let inst = self.instruments.get(i).unwrap().clone();
        let book = &mut self.books[i.index()];
        book.clear();
        book.set_level(Side::Buy, inst.parse_price(bid).unwrap(), Qty::from_units(1_000_000)).unwrap();
        book.set_level(Side::Sell, inst.parse_price(ask).unwrap(), Qty::from_units(1_000_000)).unwrap();
        book.mark_valid();
        // A trade record stamps the book's last update time (the mark's age).
        let mut ev =
            MarketEvent::new(i, EventKind::Trade, Side::Buy, inst.parse_price(bid).unwrap(), Qty::from_units(1));
        ev.exchange_ns = self.now;
        book.apply(&ev).unwrap();
    }

    pub fn px(&self, i: InstrumentId, text: &str) -> Price {
        self.instruments.get(i).unwrap().parse_price(text).unwrap()
    }

    pub fn qty(&self, i: InstrumentId, text: &str) -> Qty {
        self.instruments.get(i).unwrap().parse_qty(text).unwrap()
    }

    pub fn fill(&mut self, account: u16, i: InstrumentId, side: Side, price: &str, qty: &str) {
        let inst = self.instruments.get(i).unwrap().clone();
        let (p, q) = (inst.parse_price(price).unwrap(), inst.parse_qty(qty).unwrap());
        self.positions.get_mut(AccountId(account), i).unwrap().apply_fill(&inst, side, p, q, Notional::ZERO).unwrap();
    }

    pub fn view(&self) -> MarketView<'_> {
        MarketView {
            instruments: &self.instruments,
            books: &self.books,
            positions: &self.positions,
            orders: &self.orders,
            now: self.now,
            local_now: Nanos(0),
            siblings: &self.siblings,
        }
    }

    pub fn req(&self, i: InstrumentId, side: Side, price: &str, qty: &str) -> OrderRequest {
        OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: i,
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
            price: self.px(i, price),
            qty: self.qty(i, qty),
            reduce_only: false,
            stop_price: None,
        }
    }
}

pub fn rate(text: &str) -> Rate {
    Rate::parse(text).unwrap()
}

pub fn money(text: &str) -> Notional {
    Notional::parse(text).unwrap()
}

/// Limits no test order reaches; a test tightens the one it checks.
pub fn relaxed() -> ProfileLimits {
    ProfileLimits {
        max_leverage: rate("1000"),
        max_single_trade_risk: Rate::ONE,
        daily_loss_limit: Rate::ONE,
        weekly_loss_limit: Rate::ONE,
        max_open_positions: 100,
        max_order_notional: money("1000000000"),
        max_order_rate: OrderRate { orders: 10_000, per: Nanos::SECOND },
    }
}

pub fn spec(name: &str, limits: ProfileLimits, equity: &str) -> AccountSpec {
    AccountSpec {
        name: name.into(),
        profile: CapitalProfile::Medium,
        limits,
        starting_equity: money(equity),
        venues: vec![VenueId(0)],
        strategies: vec![StrategyId(0)],
        max_position_notional: None,
    }
}

pub fn ess() -> EmergencyStop {
    EmergencyStop::new(SECRET, Nanos(30 * Nanos::SECOND.0)).unwrap()
}

pub fn gate_with(accounts: Vec<AccountSpec>, global: GlobalRisk) -> RiskGate {
    RiskGate::new(accounts, GateSettings::default(), ess(), global).unwrap()
}

/// One account (`limits`, starting `equity`) and a second relaxed one with 100 000.
pub fn gate(limits: ProfileLimits, equity: &str) -> RiskGate {
    gate_with(
        vec![spec("a", limits, equity), spec("b", relaxed(), "100000")],
        GlobalRisk::new(GlobalRiskConfig::default()).unwrap(),
    )
}
