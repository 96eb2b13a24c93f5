//! Builders of the simulated markets the simulator tests run: [`MarketBuilder`] (symbols with a
//! start mid and a background-flow rate, accounts, fees, seed) and the usual two-symbol market
//! ([`two_symbol_market`]: BTCUSDT and ETHUSDT).

use crate::TestInstrument;
use qt_core::{Instrument, InstrumentKind, Rate, Venue};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::market::{AccountConfig, Market, MarketConfig, SymbolConfig};
use std::sync::Arc;

/// Symbol index of BTCUSDT in [`two_symbol_market`].
pub const BTC: usize = 0;
/// Symbol index of ETHUSDT in [`two_symbol_market`].
pub const ETH: usize = 1;

/// The API key of the test account [`two_symbol_market`] holds.
pub const API_KEY: &str = "test-key";
/// Its secret.
pub const API_SECRET: &str = "test-secret";

/// A `<base>USDT` instrument of `kind` with tick 0.01, lot (and minimum quantity) `lot` and
/// minimum notional 5.
pub fn usdt_instrument(venue: Venue, id: u32, symbol: &str, base: &str, lot: &str, kind: InstrumentKind) -> Instrument {
    TestInstrument::spot(venue, symbol).assets(base, "USDT").lot(lot).kind(kind).minimums(lot, "5").build(id)
}

/// The flow tests use unless they say otherwise: `rate` events/s around `mid`, median size 200
/// lots.
pub fn flow(inst: &Instrument, mid: &str, rate: f64) -> FlowParams {
    FlowParams {
        events_per_sec: rate,
        start_mid: Some(inst.parse_price(mid).expect("a start mid on the instrument's grid")),
        size_median_lots: 200.0,
        ..FlowParams::default()
    }
}

/// A simulated market under construction: no symbol, no account, fees 1/5 bps, seed 42.
#[derive(Debug)]
pub struct MarketBuilder {
    config: MarketConfig,
}

impl Default for MarketBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl MarketBuilder {
    /// An empty market (add symbols and accounts).
    pub fn new() -> Self {
        Self {
            config: MarketConfig {
                symbols: Vec::new(),
                fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
                accounts: Vec::new(),
                seed: 42,
            },
        }
    }

    /// Adds `inst` (symbol index = symbols added before) with [`flow`] at `rate` events/s
    /// around `mid`.
    pub fn symbol(self, inst: Instrument, mid: &str, rate: f64) -> Self {
        let flow = flow(&inst, mid, rate);
        self.symbol_with_flow(inst, flow)
    }

    /// Adds `inst` with a flow of the test's own.
    pub fn symbol_with_flow(mut self, instrument: Instrument, flow: FlowParams) -> Self {
        self.config.symbols.push(SymbolConfig { instrument, flow });
        self
    }

    /// Adds an account `api_key`/`secret` holding `balances` (asset, amount).
    pub fn account(mut self, api_key: &str, secret: &str, balances: &[(&str, &str)]) -> Self {
        self.config.accounts.push(AccountConfig {
            api_key: api_key.into(),
            secret: secret.into(),
            balances: balances.iter().map(|(a, n)| ((*a).into(), (*n).into())).collect(),
        });
        self
    }

    /// Maker and taker fees in basis points.
    pub fn fees_bps(mut self, maker: i64, taker: i64) -> Self {
        self.config.fees = FeeSchedule { maker: Rate::from_bps(maker), taker: Rate::from_bps(taker) };
        self
    }

    /// The flow's random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// The market (panics if the configuration is invalid: a test's mistake).
    pub fn build(self) -> Arc<Market> {
        Market::new(self.config).expect("valid test market")
    }
}

/// BTCUSDT ([`BTC`], lot 0.00001, mid 65000) at `btc_rate` background events/s and ETHUSDT
/// ([`ETH`], lot 0.0001, mid 3200) at `eth_rate`, both of `kind`, with one account
/// ([`API_KEY`]) holding 1,000,000 USDT.
pub fn two_symbol_market(venue: Venue, kind: InstrumentKind, btc_rate: f64, eth_rate: f64) -> Arc<Market> {
    two_symbols(venue, kind, btc_rate, eth_rate).account(API_KEY, API_SECRET, &[("USDT", "1000000")]).build()
}

/// [`two_symbol_market`]'s symbols, without an account (add your own).
pub fn two_symbols(venue: Venue, kind: InstrumentKind, btc_rate: f64, eth_rate: f64) -> MarketBuilder {
    MarketBuilder::new().symbol(usdt_instrument(venue, 0, "BTCUSDT", "BTC", "0.00001", kind), "65000", btc_rate).symbol(
        usdt_instrument(venue, 1, "ETHUSDT", "ETH", "0.0001", kind),
        "3200",
        eth_rate,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_symbol_market_has_its_symbols_in_order_and_the_account() {
        let m = two_symbol_market(Venue::Binance, InstrumentKind::Spot, 1.0, 1.0);
        let symbols: Vec<_> = m.instruments().iter().map(|i| i.symbol().to_owned()).collect();
        assert_eq!(symbols, ["BTCUSDT", "ETHUSDT"]);
        assert_eq!(m.instruments()[BTC].base(), "BTC");
        assert_eq!(m.instruments()[ETH].base(), "ETH");
    }
}
