//! REST: signing, orders, parameters, market data, rate limits and the wallet.

use super::*;

#[test]
fn string_to_sign_matches_the_documented_examples() {
    // The docs publish the strings, not the secret: the construction is what can be checked.
    let text = sample("sign_example.txt");
    let mut checked = 0;
    let mut sections: Vec<String> = Vec::new();
    for line in text.lines() {
        if line == "[get]" || line == "[post]" {
            sections.push(String::new());
        } else if let Some(s) = sections.last_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    for section in &sections {
        let field = |name: &str| {
            section
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .map(|v| v.split("   ").next().unwrap_or(v).to_owned())
        };
        let payload = field("queryString").or_else(|| field("jsonBodyString")).unwrap();
        let built = string_to_sign(
            &field("timestamp").unwrap(),
            &field("api_key").unwrap(),
            &field("recv_window").unwrap(),
            &payload,
        );
        assert_eq!(built, field("string_to_sign").unwrap());
        checked += 1;
    }
    assert_eq!(checked, 2, "the GET and the POST example");
}

#[test]
fn signed_order_is_placed_listed_and_cancelled() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let (bid, _) = best(&ctx, 0);
    let price = px(&ctx, 0, Price::from_units(bid.units() - 500));
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{price}","timeInForce":"GTC","orderLinkId":"my-order-1"}}"#
    );
    let r = post(&v, &ctx, "/v5/order/create", &body);
    assert_eq!(code(&r), 0, "{r}");
    assert_eq!(r["retMsg"], "OK");
    assert_eq!(keys(&r), set(&["retCode", "retMsg", "result", "retExtInfo", "time"]));
    let order_id = r["result"]["orderId"].as_str().unwrap().to_owned();
    assert!(order_id.parse::<u64>().is_ok(), "spot order ids are decimal: {order_id}");
    assert_eq!(r["result"]["orderLinkId"], "my-order-1");

    let open = get_signed(&v, &ctx, "/v5/order/realtime", "category=spot&symbol=BTCUSDT");
    assert_eq!(code(&open), 0, "{open}");
    let list = open["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["orderId"], order_id.as_str());
    assert_eq!(list[0]["orderStatus"], "New");
    assert_eq!(list[0]["price"], price.trim_end_matches('0').trim_end_matches('.'));
    assert_eq!(list[0]["qty"], "0.01");
    assert_eq!(list[0]["leavesQty"], "0.01");
    assert_eq!(list[0]["cumExecQty"], "0");
    assert_eq!(list[0]["timeInForce"], "GTC");

    let r = post(&v, &ctx, "/v5/order/cancel", r#"{"category":"spot","symbol":"BTCUSDT","orderLinkId":"my-order-1"}"#);
    assert_eq!(code(&r), 0, "{r}");
    assert_eq!(r["result"]["orderId"], order_id.as_str());
    let r = post(
        &v,
        &ctx,
        "/v5/order/cancel",
        &format!(r#"{{"category":"spot","symbol":"BTCUSDT","orderId":"{order_id}"}}"#),
    );
    assert_eq!((code(&r), r["retMsg"].as_str().unwrap()), (170213, "Order does not exist."));

    let closed = get_signed(&v, &ctx, "/v5/order/realtime", "category=spot&openOnly=1");
    let list = closed["result"]["list"].as_array().unwrap();
    assert_eq!(list[0]["orderStatus"], "Cancelled");
    assert_eq!(list[0]["cancelType"], "CancelByUser");
    assert!(
        get_signed(&v, &ctx, "/v5/order/realtime", "category=spot")["result"]["list"].as_array().unwrap().is_empty()
    );
}

#[test]
fn authentication_failures_carry_the_documented_codes() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let body = r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1000"}"#;
    let now = ctx.market.now_ms();
    let send =
        |headers: Vec<(String, String)>| call(&v, &ctx, &request("POST", "/v5/order/create", "", headers, body)).1;

    let mut bad_sign = auth_headers(KEY, SECRET, now, body);
    bad_sign[3].1 = signing::hmac_sha256_hex("wrong", b"x");
    let r = send(bad_sign);
    assert_eq!(code(&r), 10004);
    assert!(r["retMsg"].as_str().unwrap().starts_with("Error sign, please check your signature generation algorithm"));

    let r = send(auth_headers(KEY, SECRET, now - 6000, body));
    assert_eq!(code(&r), 10002);
    assert!(
        r["retMsg"]
            .as_str()
            .unwrap()
            .starts_with("invalid request, please check your server timestamp or recv_window param")
    );
    assert_eq!(code(&send(auth_headers(KEY, SECRET, now + 1500, body))), 10002, "a second ahead is too far");
    assert_eq!(code(&send(auth_headers(KEY, SECRET, now + 500, body))), 0, "within the future tolerance");

    let r = send(auth_headers("nobody", SECRET, now, body));
    assert_eq!((code(&r), r["retMsg"].as_str().unwrap()), (10003, "API key is invalid."));
    assert_eq!(code(&send(Vec::new())), 10003);

    // A signed GET covers the query string as sent; changing it breaks the signature.
    let q = "category=spot&symbol=BTCUSDT";
    let mut h = auth_headers(KEY, SECRET, ctx.market.now_ms(), q);
    assert_eq!(code(&call(&v, &ctx, &request("GET", "/v5/order/realtime", q, h.clone(), "")).1), 0);
    h[3].1 = signing::hmac_sha256_hex(SECRET, b"nope");
    assert_eq!(code(&call(&v, &ctx, &request("GET", "/v5/order/realtime", "category=spot", h, "")).1), 10004);
}

#[test]
fn missing_and_invalid_parameters_are_refused() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let cases = [
        (r#"{"symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"1"}"#, 10001),
        (r#"{"category":"inverse","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"1"}"#, 10001),
        (r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","price":"1000"}"#, 10001),
        (r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01"}"#, 10001),
        (r#"{"category":"spot","symbol":"BTCUSDT","side":"Up","orderType":"Limit","qty":"0.01","price":"1"}"#, 170117),
        (r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Stop","qty":"0.01","price":"1"}"#, 170116),
        (
            r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1","timeInForce":"GTD"}"#,
            170115,
        ),
        (
            r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"abc","price":"1000"}"#,
            170130,
        ),
        (r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":0.01,"price":"1000"}"#, 10001),
        (
            r#"{"category":"spot","symbol":"NOPEUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1000"}"#,
            170121,
        ),
        (r#"{"category":"spot","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"100"}"#, 170121),
        (r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"100"}"#, 10001),
        (
            r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1000","orderLinkId":"has space"}"#,
            10001,
        ),
        ("not json", 10001),
    ];
    for (body, expected) in cases {
        let r = post(&v, &ctx, "/v5/order/create", body);
        assert_eq!(code(&r), expected, "{body} -> {r}");
        assert_eq!(r["result"], serde_json::json!({}));
    }
    let r = post(&v, &ctx, "/v5/order/cancel", r#"{"category":"spot","symbol":"BTCUSDT"}"#);
    assert_eq!(code(&r), 10001);
    let r = post(&v, &ctx, "/v5/order/cancel-all", r#"{"category":"linear"}"#);
    assert_eq!(code(&r), 10001, "linear cancel-all names a symbol, baseCoin or settleCoin");
    let r = get_public(&v, &ctx, "/v5/market/orderbook", "category=spot");
    assert_eq!(code(&r), 10001);
    let r = get_public(&v, &ctx, "/v5/market/orderbook", "category=linear&symbol=BTCUSDT");
    assert_eq!(code(&r), 10001, "a spot symbol under linear is unknown there");
    let resp = v.handle_http(&ctx, &request("GET", "/v5/nothing", "", Vec::new(), ""));
    assert_eq!(resp.status, 404);
}

#[test]
fn off_grid_prices_and_quantities_get_the_spot_codes() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let (eth_bid, _) = best(&ctx, 1);
    let eth_px = px(&ctx, 1, Price::from_units(eth_bid.units() - 500));
    let order = |symbol: &str, qty: &str, price: &str| {
        let body = format!(
            r#"{{"category":"spot","symbol":"{symbol}","side":"Buy","orderType":"Limit","qty":"{qty}","price":"{price}"}}"#
        );
        let r = post(&v, &ctx, "/v5/order/create", &body);
        (code(&r), r["retMsg"].as_str().unwrap_or("").to_owned())
    };
    // More decimals than the instrument holds: refused while parsing.
    assert_eq!(order("BTCUSDT", "0.01", "60000.001"), (170134, "Order price decimal too long.".into()));
    assert_eq!(order("BTCUSDT", "0.000001", "60000"), (170137, "Order volume decimal too long".into()));
    // On the decimal grid but off the tick / lot: the matching engine's filter answers.
    let off_tick = format!("{}.01", eth_px.split('.').next().unwrap());
    assert_eq!(order("ETHUSDT", "0.01", &off_tick).0, 170134);
    assert_eq!(order("ETHUSDT", "0.0101", &eth_px).0, 170137);
    assert_eq!(order("ETHUSDT", "0.0005", &eth_px), (170136, "Order quantity lower than the minimum.".into()));
    // 0.00001 BTC at 60000 is 0.6 USDT, under the 5 USDT minimum.
    assert_eq!(order("BTCUSDT", "0.00001", "60000"), (170140, "Transaction amount lower than the minimum.".into()));
    assert_eq!(order("BTCUSDT", "1000", "60000"), (170131, "Balance insufficient".into()));
    assert_eq!(order("BTCUSDT", "0", "60000").0, 170130);
    assert_eq!(order("BTCUSDT", "0.01", "-1").0, 170130);
    // Linear refusals are parameter errors (10001).
    let (sol_bid, _) = best(&ctx, 2);
    let sol_px = px(&ctx, 2, Price::from_units(sol_bid.units() - 100));
    let body = format!(
        r#"{{"category":"linear","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"0.15","price":"{sol_px}"}}"#
    );
    assert_eq!(code(&post(&v, &ctx, "/v5/order/create", &body)), 10001);
    let body = format!(
        r#"{{"category":"linear","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"{sol_px}"}}"#
    );
    let r = post(&v, &ctx, "/v5/order/create", &body);
    assert_eq!(code(&r), 0, "{r}");
    let id = r["result"]["orderId"].as_str().unwrap();
    assert_eq!(id.len(), 36, "linear order ids are UUID-shaped: {id}");
    let r =
        post(&v, &ctx, "/v5/order/cancel", &format!(r#"{{"category":"linear","symbol":"SOLUSDT","orderId":"{id}"}}"#));
    assert_eq!(code(&r), 0, "{r}");
}

#[test]
fn post_only_that_would_cross_is_acknowledged_then_refused() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let (_, ask) = best(&ctx, 0);
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{}","timeInForce":"PostOnly","orderLinkId":"po-1"}}"#,
        px(&ctx, 0, ask)
    );
    let r = post(&v, &ctx, "/v5/order/create", &body);
    assert_eq!(code(&r), 0, "Bybit acknowledges, then closes the order: {r}");
    let id = r["result"]["orderId"].as_str().unwrap().to_owned();
    let q = format!("category=spot&orderId={id}");
    let got = get_signed(&v, &ctx, "/v5/order/realtime", &q);
    let o = &got["result"]["list"][0];
    assert_eq!(o["orderStatus"], "Rejected", "{got}");
    assert_eq!(o["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
    assert_eq!(o["orderLinkId"], "po-1");
    assert_eq!(o["cumExecQty"], "0");
    // Nothing rests and nothing is locked.
    assert!(ctx.market.open_orders(AccountId(0), None).is_empty());

    let (_, sol_ask) = best(&ctx, 2);
    let body = format!(
        r#"{{"category":"linear","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"{}","timeInForce":"PostOnly"}}"#,
        px(&ctx, 2, sol_ask)
    );
    let r = post(&v, &ctx, "/v5/order/create", &body);
    assert_eq!(code(&r), 0, "{r}");
    assert_eq!(r["result"]["orderLinkId"], "", "no orderLinkId given, none reported");
    let got = get_signed(&v, &ctx, "/v5/order/realtime", "category=linear&symbol=SOLUSDT&openOnly=1");
    let o = &got["result"]["list"][0];
    assert_eq!(o["orderStatus"], "Cancelled");
    assert_eq!(o["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
}

#[test]
fn market_data_endpoints_match_the_documented_shapes() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let doc = sample_json("snapshot_rest.json");
    let r = get_public(&v, &ctx, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT&limit=50");
    assert_eq!(keys(&r), keys(&doc));
    assert_eq!(keys(&r["result"]), keys(&doc["result"]));
    assert_eq!(r["result"]["b"].as_array().unwrap().len(), 50);
    let snap = ctx.market.snapshot(0, 1).unwrap();
    assert_eq!(r["result"]["seq"].as_u64(), Some(snap.update_id), "seq: the market update id of the view");
    assert!(r["result"]["u"].as_u64().is_some_and(|u| u >= 1), "u: the 200-level topic's");
    let bid = &r["result"]["b"][0];
    assert_eq!(ctx.market.instruments()[0].parse_price(bid[0].as_str().unwrap()).unwrap(), snap.bids[0].0);
    assert_eq!(
        get_public(&v, &ctx, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT")["result"]["a"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "spot default limit is 1"
    );
    assert_eq!(code(&get_public(&v, &ctx, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT&limit=201")), 10001);

    let spot = get_public(&v, &ctx, "/v5/market/instruments-info", "category=spot&symbol=BTCUSDT");
    let i = &spot["result"]["list"][0];
    assert_eq!(i["priceFilter"]["tickSize"], "0.01");
    assert_eq!(i["lotSizeFilter"]["basePrecision"], "0.00001");
    assert_eq!(i["lotSizeFilter"]["minOrderQty"], "0.00001");
    assert_eq!(i["lotSizeFilter"]["minOrderAmt"], "5");
    let eth = get_public(&v, &ctx, "/v5/market/instruments-info", "category=spot&symbol=ETHUSDT");
    assert_eq!(eth["result"]["list"][0]["priceFilter"]["tickSize"], "0.05");
    assert_eq!(eth["result"]["list"][0]["lotSizeFilter"]["basePrecision"], "0.0005");
    let all = get_public(&v, &ctx, "/v5/market/instruments-info", "category=spot");
    assert_eq!(all["result"]["list"].as_array().unwrap().len(), 2);
    let lin = get_public(&v, &ctx, "/v5/market/instruments-info", "category=linear");
    let i = &lin["result"]["list"][0];
    assert_eq!((i["symbol"].as_str(), i["contractType"].as_str()), (Some("SOLUSDT"), Some("LinearPerpetual")));
    assert_eq!(i["priceFilter"]["tickSize"], "0.001");
    assert_eq!(i["lotSizeFilter"]["qtyStep"], "0.1");
    assert_eq!(i["lotSizeFilter"]["minNotionalValue"], "5");
    assert_eq!(i["priceScale"], "3");
    let none = get_public(&v, &ctx, "/v5/market/instruments-info", "category=linear&symbol=BTCUSDT");
    assert_eq!(none["result"]["list"].as_array().unwrap().len(), 0);

    let t = get_public(&v, &ctx, "/v5/market/time", "");
    let secs: i64 = t["result"]["timeSecond"].as_str().unwrap().parse().unwrap();
    assert!((secs * 1000 - t["time"].as_i64().unwrap()).abs() < 2000);
    assert!(t["result"]["timeNano"].as_str().unwrap().len() >= 19);
}

#[test]
fn rate_limit_answers_10006_with_limit_headers() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let body = r#"{"category":"spot","symbol":"BTCUSDT","orderLinkId":"missing"}"#;
    let mut codes = Vec::new();
    let mut last = None;
    for _ in 0..21 {
        let req = request("POST", "/v5/order/cancel", "", auth_headers(KEY, SECRET, ctx.market.now_ms(), body), body);
        let resp = v.handle_http(&ctx, &req);
        let r: Value = serde_json::from_slice(&resp.body).unwrap();
        codes.push(code(&r));
        last = Some(resp);
    }
    assert!(codes[..20].iter().all(|c| *c == 170213), "{codes:?}");
    assert_eq!(codes[20], 10006);
    let resp = last.unwrap();
    let header = |n: &str| resp.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(header("X-Bapi-Limit").as_deref(), Some("20"));
    assert_eq!(header("X-Bapi-Limit-Status").as_deref(), Some("0"));
    assert!(header("X-Bapi-Limit-Reset-Timestamp").is_some());
    assert_eq!(resp.status, 200);
}

#[test]
fn wallet_balance_reports_free_and_locked() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let r = get_signed(&v, &ctx, "/v5/account/wallet-balance", "accountType=UNIFIED&coin=USDT");
    assert_eq!(code(&r), 0, "{r}");
    let coin = &r["result"]["list"][0]["coin"][0];
    assert_eq!(coin["coin"], "USDT");
    assert_eq!(coin["walletBalance"], "1000000");
    assert_eq!(coin["locked"], "0");
    assert_eq!(code(&get_signed(&v, &ctx, "/v5/account/wallet-balance", "accountType=SPOT")), 10001);
}

#[test]
fn spot_market_buy_is_sized_in_quote_coin_by_default() {
    let ctx = ctx_of(market(1.0));
    let v = BybitV5::new();
    let r = post(
        &v,
        &ctx,
        "/v5/order/create",
        r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"100"}"#,
    );
    assert_eq!(code(&r), 0, "{r}");
    let id = r["result"]["orderId"].as_str().unwrap().to_owned();
    let got = get_signed(&v, &ctx, "/v5/order/realtime", &format!("category=spot&orderId={id}"));
    let o = &got["result"]["list"][0];
    assert_eq!(o["orderStatus"], "Filled", "{got}");
    let value = Notional::parse(o["cumExecValue"].as_str().unwrap()).unwrap();
    assert!(value <= Notional::parse("100").unwrap() && value > Notional::parse("99").unwrap(), "{value}");
    assert_ne!(o["cumExecFee"], "0", "fees come from the venue's ledger");
    let r = post(
        &v,
        &ctx,
        "/v5/order/create",
        r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"1"}"#,
    );
    assert_eq!(code(&r), 170140, "1 USDT is under minOrderAmt");
}
