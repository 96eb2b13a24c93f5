//! Tests of configuration parsing and validation.
use super::*;
use qt_risk::profile::CapitalProfile;

#[test]
fn embedded_default_is_valid() {
    let plan = load(EMBEDDED_DEFAULT, "embedded").unwrap();
    assert!(plan.instruments.len() >= 2);
    assert!(!plan.strategies.is_empty());
    assert_eq!(plan.sim.flows.len(), plan.instruments.len());
}

#[test]
fn wrong_type_names_the_field_path() {
    let text = EMBEDDED_DEFAULT.replace("book_depth = 256", "book_depth = \"deep\"");
    let err = load(&text, "t").unwrap_err();
    assert_eq!(err.problems[0].path, "engine.book_depth", "{err}");
}

#[test]
fn unknown_field_is_refused() {
    let text = format!("{EMBEDDED_DEFAULT}\n[extra]\nx = 1\n");
    let err = load(&text, "t").unwrap_err();
    assert!(err.to_string().contains("extra"), "{err}");
}

#[test]
fn every_semantic_problem_is_reported_with_its_path_and_value() {
    let text = r#"
[engine]
book_depth = 0
[sim]
duration = "soon"
maker_fee = "0.5"
[[instruments]]
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
kind = "spot"
tick_size = "0.01"
lot_size = "0.0001"
start_price = "65000.005"
[[accounts]]
name = "a"
starting_equity = "-5"
max_position_notional = "1e3"
[[strategies]]
kind = "imbalance"
account = "nobody"
instrument = "BTCUSDT"
qty = "0.00015"
max_position = "0.1"
threshold = "1.5"
"#;
    let err = load(text, "t").unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "engine.book_depth",
        "sim.duration",
        "sim.maker_fee",
        "instruments[0].start_price",
        "accounts[0].starting_equity",
        "strategies[0].account",
        "strategies[0].qty",
        "strategies[0].threshold",
    ] {
        assert!(paths.contains(&want), "missing {want} in {err}");
    }
    let text = err.to_string();
    assert!(
        text.contains("\"soon\"") && text.contains("65000.005") && text.contains("\"-5\"") && text.contains("0.00015"),
        "{text}"
    );
}

#[test]
fn embedded_default_resolves_profiles_whitelists_and_chains() {
    let plan = load(EMBEDDED_DEFAULT, "embedded").unwrap();
    let alpha = &plan.accounts[0].spec;
    assert_eq!(alpha.profile, CapitalProfile::Medium);
    assert_eq!(alpha.limits.max_order_notional, Notional::from_whole(2500));
    assert_eq!(alpha.limits.max_leverage, ProfileLimits::defaults(CapitalProfile::Medium).max_leverage);
    assert_eq!(alpha.venues, vec![VenueId(0)]);
    // alpha runs strategies 0 (BTC) and 2 (ETH); beta's whitelist defaults to its own one.
    assert_eq!(alpha.strategies, vec![StrategyId(0), StrategyId(2)]);
    assert_eq!(plan.accounts[1].spec.strategies, vec![StrategyId(1)]);
    assert_eq!(plan.global_risk.buckets, vec![0, 0]);
}

#[test]
fn self_contradicting_accounts_are_refused_naming_the_field() {
    let cases = [
        (
            "daily above weekly",
            "max_order_notional = \"2500\"",
            "max_order_notional = \"2500\"\ndaily_loss_limit = \"0.2\"\nweekly_loss_limit = \"0.1\"",
            "accounts[0].overrides.daily_loss_limit",
        ),
        (
            "leverage zero",
            "max_order_notional = \"2500\"",
            "max_order_notional = \"2500\"\nmax_leverage = \"0\"",
            "accounts[0].overrides.max_leverage",
        ),
        (
            "leverage negative",
            "max_order_notional = \"2500\"",
            "max_order_notional = \"2500\"\nmax_leverage = \"-2\"",
            "accounts[0].overrides.max_leverage",
        ),
        (
            "unknown strategy in a whitelist",
            "\"btc-imbalance\", \"eth-imbalance\"",
            "\"btc-imbalance\", \"gamma\"",
            "accounts[0].strategies[1]",
        ),
        (
            "another account's strategy",
            "\"btc-imbalance\", \"eth-imbalance\"",
            "\"btc-imbalance\", \"imbalance-ETHUSDT\"",
            "accounts[0].strategies[1]",
        ),
        (
            "unknown venue in a chain",
            "venues = [\"sim\"]                 # ordered",
            "venues = [\"sim\", \"binance\"]   # ordered",
            "accounts[0].venues[1]",
        ),
        (
            "zero starting equity",
            "starting_equity = \"100000\"",
            "starting_equity = \"0\"",
            "accounts[0].starting_equity",
        ),
        (
            "reconcile interval under a second",
            "reconcile_every = \"60s\"",
            "reconcile_every = \"500ms\"",
            "engine.reconcile_every",
        ),
        (
            "reconcile interval not a duration",
            "reconcile_every = \"60s\"",
            "reconcile_every = \"often\"",
            "engine.reconcile_every",
        ),
        ("misspelt override", "max_order_notional = \"2500\"", "max_order_notionl = \"2500\"", "accounts[0].overrides"),
        ("global band", "band = \"0.5\"", "band = \"5\"", "global_risk.leverage.band"),
        (
            "two settlement currencies",
            "quote = \"USDT\"\nkind = \"spot\"\ntick_size = \"0.01\"",
            "quote = \"USDC\"\nkind = \"spot\"\ntick_size = \"0.01\"",
            "accounts[0]",
        ),
    ];
    for (name, from, to, field) in cases {
        assert!(EMBEDDED_DEFAULT.contains(from), "{name}: {from}");
        let text = EMBEDDED_DEFAULT.replacen(from, to, 1);
        let err = load(&text, "t").unwrap_err();
        assert!(err.problems.iter().any(|p| p.path.starts_with(field)), "{name}: want {field} in {err}");
    }
}

#[test]
fn live_venue_needs_a_venue_entry_https_and_keys() {
    let text = include_str!("../../../examples/binance-venue-sim.toml").replace("ca_file = \"venue-sim-ca.pem\"\n", "");
    let plan = load(&text, "t").unwrap();
    assert!(plan.is_live());
    assert_eq!(plan.venues[0].keys, vec![(AccountId(0), "qt-sim-key-1".to_string(), "qt-sim-secret-1".to_string())]);
    let shown = format!("{plan:?}");
    assert!(
        !shown.contains("qt-sim-secret-1") && !shown.contains("qt-sim-key-1"),
        "a key in the plan's Debug: {shown}"
    );
    assert_eq!(plan.venues[0].instruments, vec![InstrumentId(0)]);

    // Bybit serves market data now (no longer refused): the instrument on binance still needs
    // a [[venues]] entry saying where binance is.
    let no_entry = text.replace("[[venues]]\nvenue = \"binance\"", "[[venues]]\nvenue = \"bybit\"");
    let err = load(&no_entry, "t").unwrap_err().to_string();
    assert!(err.contains("instruments[0].venue"), "{err}");

    let bad = text
        .replace("https://127.0.0.1:9443", "http://127.0.0.1:9443")
        .replace("api_key = \"qt-sim-key-1\"", "api_key_env = \"QT_TEST_SURELY_UNSET_VAR\"");
    let err = load(&bad, "t").unwrap_err().to_string();
    assert!(err.contains("venues[0].rest_url"), "{err}");
    assert!(err.contains("accounts[0].keys.binance.api_key_env") && err.contains("QT_TEST_SURELY_UNSET_VAR"), "{err}");
}

#[test]
fn okx_keys_need_their_passphrase_and_others_have_none() {
    let text = include_str!("../../../examples/okx-venue-sim.toml").replace("ca_file = \"venue-sim-ca.pem\"\n", "");
    let plan = load(&text, "t").unwrap();
    assert_eq!(plan.venues[0].passphrases, vec![(AccountId(0), "qt-sim-passphrase".to_string())]);
    let shown = format!("{plan:?}");
    assert!(!shown.contains("qt-sim-passphrase"), "a passphrase in the plan's Debug: {shown}");
    let cases = [
        ("none", "passphrase = \"qt-sim-passphrase\"", "#", "keys need their passphrase"),
        (
            "an unset variable",
            "passphrase = \"qt-sim-passphrase\"",
            "passphrase_env = \"QT_TEST_SURELY_UNSET_VAR\"",
            "QT_TEST_SURELY_UNSET_VAR",
        ),
        ("both", "passphrase = \"qt-sim-passphrase\"", "passphrase = \"p\"\npassphrase_env = \"X\"", "at most one"),
    ];
    for (name, from, to, says) in cases {
        assert!(text.contains(from), "{name}");
        let err = load(&text.replacen(from, to, 1), "t").unwrap_err();
        let p = err.problems.iter().find(|p| p.path.starts_with("accounts[0].keys.okx.passphrase"));
        assert!(p.is_some_and(|p| p.message.contains(says)), "{name}: {err}");
        assert!(!err.to_string().contains("qt-sim-secret-1"), "{name}: {err}");
    }
    // Binance keys have none.
    let binance = include_str!("../../../examples/binance-venue-sim.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"\n", "")
        .replace("secret = \"qt-sim-secret-1\"", "secret = \"qt-sim-secret-1\"\npassphrase = \"p\"");
    let err = load(&binance, "t").unwrap_err();
    assert!(err.problems.iter().any(|p| p.path == "accounts[0].keys.binance.passphrase"), "{err}");
}

#[test]
fn a_stop_cancels_working_orders_unless_configured_not_to() {
    let plan = load(EMBEDDED_DEFAULT, "t").unwrap();
    assert_eq!(plan.cancel_on_stop, Some(std::time::Duration::from_secs(5)));
    let off = EMBEDDED_DEFAULT.replace("cancel_on_stop = true", "cancel_on_stop = false");
    assert_eq!(load(&off, "t").unwrap().cancel_on_stop, None);
    let bad = EMBEDDED_DEFAULT.replace("stop_grace = \"5s\"", "stop_grace = \"forever\"");
    let err = load(&bad, "t").unwrap_err();
    assert_eq!(err.problems[0].path, "engine.stop_grace", "{err}");
}

/// The all-venues example without its CA file (not written outside a simulator run).
fn all_venues() -> String {
    include_str!("../../../examples/all-venues-venue-sim.toml").replace("ca_file = \"venue-sim-ca.pem\"\n", "")
}

#[test]
fn every_venue_serves_market_data_and_orders_go_to_binance_only() {
    let plan = load(&all_venues(), "all").unwrap();
    let venues: Vec<Venue> = plan.venues.iter().map(|v| v.venue).collect();
    let registry: Vec<Venue> = crate::venues::VENUES.iter().map(|e| e.venue).collect();
    assert_eq!(venues, registry);
    // Bybit's spot and linear instruments are two feeds; every other venue one.
    let feeds: Vec<Venue> = plan.live_feeds().iter().map(|(v, _)| *v).collect();
    assert_eq!(feeds.len(), 8, "{feeds:?}");
    assert_eq!(feeds.iter().filter(|v| **v == Venue::Bybit).count(), 2);
    // Keys and the account's default chain: binance only.
    assert!(plan.venues.iter().all(|v| v.keys.is_empty() == (v.venue != Venue::Binance)));
    assert_eq!(plan.accounts[0].spec.venues, vec![VenueId(0)]);
    // The strategy trades Binance's BTCUSDT and reads OKX's BTC-USDT.
    let s = &plan.strategies[0];
    let name = |id: InstrumentId| plan.instruments.get(id).map(|i| (i.venue(), i.symbol().to_string()));
    assert_eq!(name(s.instrument), Some((Venue::Binance, "BTCUSDT".into())));
    assert_eq!(s.signal.and_then(name), Some((Venue::Okx, "BTC-USDT".into())));
}

#[test]
fn asking_to_trade_without_keys_or_a_listing_is_refused_naming_the_field() {
    let text = all_venues();
    let on_binance = "venue = \"binance\"                 #";
    // (case, from, to, the field named, whether the message is the missing gateway). Every
    // venue has an order gateway now: trading anywhere needs the account's keys there.
    let cases = [
        (
            "a strategy on firi",
            "instrument = \"BTCUSDT\"\nvenue = \"binance\"",
            "instrument = \"BTCUSDT\"\nvenue = \"firi\"",
            "accounts[0].keys.firi",
            false,
        ),
        (
            "a strategy's instrument on kraken",
            "instrument = \"BTCUSDT\"\nvenue = \"binance\"",
            "instrument = \"BTC/USDT\"\n#",
            "accounts[0].keys.kraken",
            false,
        ),
        ("keys at firi only", "[accounts.keys.binance]", "[accounts.keys.firi]", "accounts[0].keys.binance", false),
        (
            "no pair on the signal venue",
            "signal_venue = \"okx\"",
            "signal_venue = \"sim\"",
            "strategies[0].signal_venue",
            false,
        ),
        ("an ambiguous symbol", on_binance, "#", "strategies[0].venue", false),
    ];
    for (name, from, to, field, gateway) in cases {
        assert!(text.contains(from), "{name}: {from}");
        let err = load(&text.replacen(from, to, 1), "t").unwrap_err();
        let problem = err.problems.iter().find(|p| p.path == field);
        assert!(problem.is_some(), "{name}: want {field} in {err}");
        assert_eq!(problem.unwrap().message.contains("no order gateway"), gateway, "{name}: {err}");
    }
}

#[test]
fn binance_user_data_choice_is_read_and_refused_elsewhere_naming_the_field() {
    let text = all_venues();
    let binance = "[[venues]]\nvenue = \"binance\"\n";
    let okx = "[[venues]]\nvenue = \"okx\"\n";
    assert!(text.contains(binance) && text.contains(okx));
    let binance_plan = |plan: &super::Plan| plan.venues.iter().find(|v| v.venue == Venue::Binance).cloned().unwrap();
    // Default: the WebSocket API, at the URL the gateway derives.
    let plan = load(&text, "t").unwrap();
    assert!(!binance_plan(&plan).listen_key_only && binance_plan(&plan).ws_api_url.is_none());
    let chosen = text.replacen(
        binance,
        &format!("{binance}user_data = \"listen_key\"\nws_api_url = \"wss://127.0.0.1:9443\"\n"),
        1,
    );
    let plan = load(&chosen, "t").unwrap();
    assert!(binance_plan(&plan).listen_key_only);
    assert_eq!(binance_plan(&plan).ws_api_url.as_deref(), Some("wss://127.0.0.1:9443"));
    for (name, from, to, field) in [
        ("user_data on okx", okx, format!("{okx}user_data = \"ws_api\"\n"), "venues[3].user_data"),
        ("a bad choice", binance, format!("{binance}user_data = \"rest\"\n"), "venues[0].user_data"),
        ("not wss", binance, format!("{binance}ws_api_url = \"https://x\"\n"), "venues[0].ws_api_url"),
    ] {
        let err = load(&text.replacen(from, &to, 1), "t").unwrap_err();
        assert!(err.problems.iter().any(|p| p.path == field), "{name}: want {field} in {err}");
    }
}

/// The Binance example with a bybit venue added (market data there in this build).
fn binance_and_bybit() -> String {
    include_str!("../../../examples/binance-venue-sim.toml").replace("ca_file = \"venue-sim-ca.pem\"\n", "").replace(
        "# Must match the venue's filters",
        "[[venues]]\nvenue = \"bybit\"\nrest_url = \"https://127.0.0.1:9443\"\nws_url = \"wss://127.0.0.1:9443\"\n\n# Must match the venue's filters",
    )
}

#[test]
fn an_instrument_names_its_symbol_per_venue_and_the_listings_are_siblings() {
    let text = binance_and_bybit()
        .replace("min_notional = \"5\"\n", "min_notional = \"5\"\nsymbols = { bybit = \"BTC-USDT\" }\n");
    let plan = load(&text, "t").unwrap();
    let bybit = plan.instruments.iter().find(|i| i.venue() == Venue::Bybit).unwrap();
    assert_eq!(
        (bybit.symbol(), bybit.tick(), bybit.lot()),
        (
            "BTC-USDT",
            plan.instruments.get(InstrumentId(0)).unwrap().tick(),
            plan.instruments.get(InstrumentId(0)).unwrap().lot()
        )
    );
    assert_eq!(plan.routing.siblings.of(InstrumentId(0)), &[InstrumentId(0), bybit.id()]);
    assert_eq!(plan.routing.siblings.name(bybit.id()), Some("BTC/USDT"));
    assert_eq!(plan.routing.chains, vec![vec![VenueId(0)]]);
    assert_eq!(plan.sim.flows.len(), plan.instruments.len());
    assert_eq!(plan.venues[1].instruments, vec![bybit.id()]);
    // The same symbol at both venues is one canonical instrument: the strategy needs no venue.
    let same = load(&text.replace("bybit = \"BTC-USDT\"", "bybit = \"BTCUSDT\""), "t").unwrap();
    assert_eq!(same.strategies[0].instrument, InstrumentId(0));

    // A venue without a [[venues]] entry, or the entry's own venue, is refused by field.
    let err = load(&text.replace("bybit = \"BTC-USDT\"", "okx = \"BTC-USDT\", binance = \"X\""), "t").unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    assert!(
        paths.contains(&"instruments[0].symbols.okx") && paths.contains(&"instruments[0].symbols.binance"),
        "{err}"
    );
}

#[test]
fn siblings_on_different_grids_are_refused_naming_both_values_and_both_venues() {
    let bybit = "\n[[instruments]]\nvenue = \"bybit\"\nsymbol = \"BTC_USDT\"\nbase = \"BTC\"\nquote = \"USDT\"\nkind = \"spot\"\ntick_size = \"0.1\"\nlot_size = \"0.00001\"\ncanonical = \"BTC/USDT\"\n";
    let text = binance_and_bybit()
        .replace("min_notional = \"5\"\n", &format!("min_notional = \"5\"\ncanonical = \"BTC/USDT\"\n{bybit}"));
    let err = load(&text, "t").unwrap_err();
    let problem = err.problems.iter().find(|p| p.path == "instruments[1]").unwrap_or_else(|| panic!("{err}"));
    for part in ["BTC/USDT", "tick_size", "0.01 at binance", "0.1 at bybit"] {
        assert!(problem.message.contains(part), "{err}");
    }
    // The same grid: siblings.
    let plan = load(&text.replace("tick_size = \"0.1\"", "tick_size = \"0.01\""), "t").unwrap();
    assert_eq!(plan.routing.siblings.of(InstrumentId(1)), &[InstrumentId(0), InstrumentId(1)]);
}

#[test]
fn failover_thresholds_default_safely_and_bad_ones_are_named() {
    let plan = load(EMBEDDED_DEFAULT, "embedded").unwrap();
    assert_eq!(plan.routing.health, qt_core::routing::HealthSettings::default());
    assert_eq!(plan.routing.router.return_after, Nanos(30 * Nanos::SECOND.0));
    assert_eq!(plan.routing.chains.len(), plan.accounts.len());
    let text = EMBEDDED_DEFAULT
        .replace("return_after = \"30s\"", "return_after = \"0s\"")
        .replace("max_reject_rate = \"0.5\"", "max_reject_rate = \"1.5\"")
        .replace("min_answers = 10", "min_answers = 0")
        .replace("max_md_age = \"30s\"", "max_md_age = \"never\"");
    let err = load(&text, "t").unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    for want in ["failover.return_after", "failover.max_reject_rate", "failover.min_answers", "failover.max_md_age"] {
        assert!(paths.contains(&want), "{want}: {err}");
    }
    let text = EMBEDDED_DEFAULT
        .replace("max_md_age = \"30s\"", "max_md_age = \"off\"")
        .replace("max_reject_rate = \"0.5\"", "max_reject_rate = \"0.25\"");
    let plan = load(&text, "t").unwrap();
    assert_eq!((plan.routing.health.max_md_age, plan.routing.health.max_reject_permille), (None, 250));
}

#[test]
fn an_account_needs_keys_where_its_chain_may_route_a_sibling() {
    let text = binance_and_bybit()
        .replace("min_notional = \"5\"\n", "min_notional = \"5\"\nsymbols = { bybit = \"BTC-USDT\" }\n");
    let plan = load(&text, "t").unwrap();
    let raw: RawConfig = source::parse_document(&text, "t").unwrap();
    let here = venues::Here { venue: Venue::Bybit, id: VenueId(1), listed: &plan.venues[1].instruments };
    let keys_needed = |chain: Vec<VenueId>| {
        let chains = [chain];
        let routes = venues::Routes { siblings: &plan.routing.siblings, chains: &chains };
        let mut p = Problems(Vec::new());
        venues::account_keys(&mut p, &raw, &here, &plan.strategies, &routes);
        p.0.iter().map(|x| x.path.clone()).collect::<Vec<_>>()
    };
    // Bybit in the chain: the strategy's orders may go to its sibling there.
    assert_eq!(keys_needed(vec![VenueId(0), VenueId(1)]), vec!["accounts[0].keys.bybit".to_string()]);
    // Not in the chain: never routed there, no key needed.
    assert!(keys_needed(vec![VenueId(0)]).is_empty());
}

#[test]
fn gateway_threads_back_off_unless_told_to_spin() {
    let plan = load(EMBEDDED_DEFAULT, "embedded").unwrap();
    assert_eq!(plan.gateway_idle, qt_gateway::kit::DEFAULT_IDLE);
    let text =
        EMBEDDED_DEFAULT.replace("book_depth = 256", "book_depth = 256\ngateway_idle = { kind = \"busy_spin\" }");
    assert_eq!(load(&text, "t").unwrap().gateway_idle, qt_core::idle::IdleStrategy::BusySpin);
    let text = EMBEDDED_DEFAULT.replace("book_depth = 256", "book_depth = 256\ngateway_idle = { kind = \"nap\" }");
    let err = load(&text, "t").unwrap_err();
    assert_eq!(err.problems[0].path, "engine.gateway_idle.kind", "{err}");
}
