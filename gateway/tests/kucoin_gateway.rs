//! Integration tests of the KuCoin gateway's parts against the venue simulator (`qt-venue-sim`'s
//! `KucoinSpot`) over real TLS sockets on loopback: account snapshots through the signed
//! `GET /api/v1/accounts` on a clock synced by `GET /api/v1/timestamp`, and refusals of the
//! account's credentials. (The gateway thread is not written yet; see `gateway/src/kucoin/`.)
//!
//! Runs on the test thread; every wait is bounded.

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use qt_core::{Instrument, Notional, Rate, Venue, VenueId};
use qt_gateway::kit::config::GatewayConfig;
use qt_gateway::kucoin::account::query_account;
use qt_test_support::TestInstrument;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::kucoin::KucoinSpot;
use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, SymbolConfig};
use std::sync::Arc;
use std::time::Duration;
use util::{GW, MAKER_FEE_BPS, TAKER_FEE_BPS};

const PASSPHRASE: &str = "gw-pass";

fn instrument() -> Instrument {
    TestInstrument::spot(Venue::Kucoin, "BTC-USDT")
        .assets("BTC", "USDT")
        .tick("0.1")
        .lot("0.00001")
        .minimums("0.00001", "5")
        .build(0)
}

fn market() -> Arc<Market> {
    let instrument = instrument();
    let flow = FlowParams {
        events_per_sec: 100.0,
        start_mid: Some(instrument.parse_price("65000").unwrap()),
        ..FlowParams::default()
    };
    Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(MAKER_FEE_BPS), taker: Rate::from_bps(TAKER_FEE_BPS) },
        accounts: vec![AccountConfig {
            api_key: "gw-key".into(),
            secret: "gw-secret".into(),
            balances: vec![("USDT".into(), "100000".into()), ("BTC".into(), "2".into())],
        }],
        seed: 13,
    })
    .unwrap()
}

#[test]
fn account_query_returns_exact_balances_and_refuses_bad_credentials() {
    let kucoin = KucoinSpot::default().with_passphrase("gw-key", PASSPHRASE);
    let server = util::start_sim(market(), Arc::new(kucoin), "qt-gateway-kucoin-tests");
    let addr = server.addr_of("kucoin").unwrap();
    // A resting order holds 0.01 × 30000 USDT plus the fee reserve.
    let inst = instrument();
    let req = ClientOrderRequest {
        client_order_id: Some("hold1".into()),
        side: qt_core::Side::Buy,
        order_type: qt_core::OrderType::Limit,
        tif: qt_core::TimeInForce::Gtc,
        price: Some(inst.parse_price("30000").unwrap()),
        qty: inst.parse_qty("0.01").unwrap(),
    };
    server.market.submit(qt_core::AccountId(0), 0, req).unwrap();
    let cfg = GatewayConfig {
        rest_url: format!("https://{addr}"),
        ws_url: format!("wss://{addr}"),
        ca_file: Some(server.ca_file.clone()),
        server_name: Some("localhost".into()),
        venue: VenueId(7),
        instruments: vec![inst],
        accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
        passphrases: vec![(GW, PASSPHRASE.into())],
        request_timeout: Duration::from_secs(10),
        ..GatewayConfig::default()
    };
    // The venue's clock is 20 s ahead: the synced clock signs inside KuCoin's 5 s window.
    server.market.set_clock_skew_ms(20_000);
    let snap = query_account(&cfg).unwrap();
    assert_eq!((snap.len(), snap[0].balances.account), (1, GW));
    let b = &snap[0].balances.balances;
    let usdt = b.iter().find(|x| x.asset == "USDT").unwrap();
    let btc = b.iter().find(|x| x.asset == "BTC").unwrap();
    assert_eq!(usdt.total(), Notional::parse("100000").unwrap());
    assert!(usdt.locked >= Notional::parse("300").unwrap(), "{usdt:?}");
    assert_eq!((btc.free, btc.locked), (Notional::parse("2").unwrap(), Notional::ZERO));
    // A wrong secret, or a wrong passphrase, is refused as the account's credentials.
    let mut bad = cfg.clone();
    bad.accounts[0].2 = "wrong".into();
    assert!(query_account(&bad).unwrap_err().is_auth_rejected());
    let mut bad = cfg.clone();
    bad.passphrases[0].1 = "wrong".into();
    assert!(query_account(&bad).unwrap_err().is_auth_rejected());
    // No passphrase at all is a configuration problem, named.
    let mut bad = cfg;
    bad.passphrases.clear();
    let e = query_account(&bad).unwrap_err().to_string();
    assert!(e.contains("passphrase"), "{e}");
}
