//! REST: signing, parameters, filters, weights, market data and listen keys.

use super::*;

#[test]
fn documented_signing_payloads_and_signatures() {
    // rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order", HMAC examples 1-3.
    let all = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    let sig1 = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
    let body = request("POST", "/api/v3/order", "", &format!("{all}&signature={sig1}"), Some(DOC_KEY));
    assert_eq!(signing_payload(&body), all.as_bytes());
    let query = request("POST", "/api/v3/order", &format!("{all}&signature={sig1}"), "", Some(DOC_KEY));
    assert_eq!(signing_payload(&query), all.as_bytes());
    assert!(signing::verify_hex(DOC_SECRET, &signing_payload(&query), sig1));
    let sig3 = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
    let mixed = request(
        "POST",
        "/api/v3/order",
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        &format!("quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature={sig3}"),
        Some(DOC_KEY),
    );
    let payload = signing_payload(&mixed);
    assert_eq!(
        payload,
        b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    );
    assert_eq!(signing::hmac_sha256_hex(DOC_SECRET, &payload), sig3);
}

#[test]
fn signed_order_with_the_documented_key_is_accepted() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let (bid, _) = best(&ctx, 0);
    let below = btc_text(Price::from_units(bid.0.units() - 500));
    let params = format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={below}");
    let resp = venue.handle_http(&ctx, &signed(&ctx, "POST", "/api/v3/order", &params));
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let header = |n: &str| resp.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(header("X-MBX-USED-WEIGHT-1M").as_deref(), Some("1"));
    assert_eq!(header("X-MBX-ORDER-COUNT-10S").as_deref(), Some("1"));
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    // A LIMIT order answers FULL by default.
    let expected: BTreeSet<String> = [
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
        "price",
        "origQty",
        "executedQty",
        "origQuoteOrderQty",
        "cummulativeQuoteQty",
        "status",
        "timeInForce",
        "type",
        "side",
        "workingTime",
        "selfTradePreventionMode",
        "fills",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys(&v), expected);
    assert_eq!(v["status"], "NEW");
    assert_eq!(v["origQty"], "0.00100000");
    assert_eq!(v["price"], format!("{below}000000"));
    assert_eq!(v["executedQty"], "0.00000000");
    assert_eq!(v["fills"], json!([]));
    assert!(v["orderId"].is_u64());
    // The same order queried and cancelled.
    let id = v["orderId"].as_u64().unwrap();
    let (status, q) =
        call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}")));
    assert_eq!((status, q["status"].as_str()), (200, Some("NEW")));
    assert_eq!(q["isWorking"], true);
    let (status, open) = call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/openOrders", "symbol=BTCUSDT"));
    assert_eq!(status, 200);
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    let cancel =
        signed(&ctx, "DELETE", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}&newClientOrderId=myCancel"));
    let (status, c) = call(&venue, &ctx, &cancel);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["status"], "CANCELED");
    assert_eq!(c["clientOrderId"], "myCancel");
    assert_eq!(c["origClientOrderId"], v["clientOrderId"]);
    assert_error(call(&venue, &ctx, &cancel), 400, -2011, "Unknown order sent.");
    let (status, q) =
        call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}")));
    assert_eq!((status, q["status"].as_str()), (200, Some("CANCELED")));
    assert_error(
        call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/order", "symbol=BTCUSDT&orderId=999999")),
        400,
        -2013,
        "Order does not exist.",
    );
    assert_error(
        call(&venue, &ctx, &signed(&ctx, "DELETE", "/api/v3/openOrders", "symbol=BTCUSDT")),
        400,
        -2011,
        "Unknown order sent.",
    );
}

#[test]
fn bad_signature_is_1022() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let mut req =
        signed(&ctx, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1");
    let body = String::from_utf8(req.body.clone()).unwrap().replace("quantity=1", "quantity=2");
    req.body = body.into_bytes();
    assert_error(call(&venue, &ctx, &req), 400, -1022, "Signature for this request is not valid.");
    let wrong_secret = signed_at("GET", "/api/v3/account", "", ctx.market.now_ms(), DOC_KEY, "nope");
    assert_error(call(&venue, &ctx, &wrong_secret), 400, -1022, "Signature for this request is not valid.");
    let garbage = request("GET", "/api/v3/account", "timestamp=1&signature=zz", "", Some(DOC_KEY));
    assert_error(call(&venue, &ctx, &garbage), 400, -1022, "Signature for this request is not valid.");
}

#[test]
fn timestamps_outside_the_window_are_1021() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let now = ctx.market.now_ms();
    let old = signed_at("GET", "/api/v3/account", "", now - 6000, DOC_KEY, DOC_SECRET);
    assert_error(call(&venue, &ctx, &old), 400, -1021, "Timestamp for this request is outside of the recvWindow.");
    let ahead = signed_at("GET", "/api/v3/account", "", now + 2000, DOC_KEY, DOC_SECRET);
    assert_error(
        call(&venue, &ctx, &ahead),
        400,
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    );
    // Microsecond timestamps and a wider window are accepted.
    let payload = format!("recvWindow=60000&timestamp={}", (now - 30_000) * 1000);
    let sig = signing::hmac_sha256_hex(DOC_SECRET, payload.as_bytes());
    let micros = request("GET", "/api/v3/account", &format!("{payload}&signature={sig}"), "", Some(DOC_KEY));
    assert_eq!(call(&venue, &ctx, &micros).0, 200);
    // recvWindow above 60000 is refused.
    let payload = format!("recvWindow=60001&timestamp={now}");
    let sig = signing::hmac_sha256_hex(DOC_SECRET, payload.as_bytes());
    let wide = request("GET", "/api/v3/account", &format!("{payload}&signature={sig}"), "", Some(DOC_KEY));
    assert_error(call(&venue, &ctx, &wide), 400, -1130, "Data sent for parameter 'recvWindow' is not valid.");
    // A skewed server clock moves the window with it.
    ctx.market.set_clock_skew_ms(-10_000);
    let fresh = signed_at("GET", "/api/v3/account", "", now, DOC_KEY, DOC_SECRET);
    assert_error(
        call(&venue, &ctx, &fresh),
        400,
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    );
}

#[test]
fn api_key_errors_are_2014_and_2015() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let mut req = signed(&ctx, "GET", "/api/v3/account", "");
    req.headers.clear();
    assert_error(call(&venue, &ctx, &req), 401, -2014, "API-key format invalid.");
    let unknown = signed_at("GET", "/api/v3/account", "", ctx.market.now_ms(), "unknownKey", DOC_SECRET);
    assert_error(call(&venue, &ctx, &unknown), 401, -2015, "Invalid API-key, IP, or permissions for action.");
    let listen = request("POST", "/api/v3/userDataStream", "", "", Some("unknownKey"));
    assert_error(call(&venue, &ctx, &listen), 401, -2015, "Invalid API-key, IP, or permissions for action.");
    let listen = request("POST", "/api/v3/userDataStream", "", "", None);
    assert_error(call(&venue, &ctx, &listen), 401, -2014, "API-key format invalid.");
}

#[test]
fn parameter_errors_use_the_documented_messages() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let order = |params: &str| call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", params));
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=60000"),
        400,
        -1102,
        "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=&price=60000"),
        400,
        -1102,
        "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=MARKET"),
        400,
        -1102,
        "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&timeInForce=GTC&quantity=0.001&price=60000"),
        400,
        -1106,
        "Parameter 'timeInForce' sent when not required.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0O1&price=60000"),
        400,
        -1100,
        r"Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\.[0-9]{1,20})?$'.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000000001&price=60000"),
        400,
        -1111,
        "Parameter 'quantity' has too much precision.",
    );
    assert_error(
        order("symbol=btcusdt&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000"),
        400,
        -1100,
        "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
    );
    assert_error(
        order("symbol=XRPUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1"),
        400,
        -1121,
        "Invalid symbol.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=HOLD&type=LIMIT&timeInForce=GTC&quantity=1&price=1"),
        400,
        -1117,
        "Invalid side.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=1&price=1"),
        400,
        -1115,
        "Invalid timeInForce.",
    );
    assert_error(order("symbol=BTCUSDT&side=BUY&type=ICEBERG&quantity=1&price=1"), 400, -1116, "Invalid orderType.");
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=STOP_LOSS&quantity=1&stopPrice=1"),
        400,
        -2010,
        "Stop loss orders are not supported for this symbol.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&newClientOrderId="),
        400,
        -1118,
        "New client order ID was empty.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&newClientOrderId=a%20b"),
        400,
        -1100,
        r"Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\.A-Z\:/a-z0-9_-]{1,36}$'.",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&color=red"),
        400,
        -1104,
        "Not all sent parameters were read; read '9' parameter(s) but was sent '10'.",
    );
    // A parameter twice in the query.
    let dup = request("GET", "/api/v3/depth", "symbol=BTCUSDT&symbol=ETHUSDT", "", None);
    assert_error(call(&venue, &ctx, &dup), 400, -1101, "Duplicate values for a parameter detected.");
    let many = request("GET", "/api/v3/time", "a=1", "", None);
    assert_error(call(&venue, &ctx, &many), 400, -1101, "Too many parameters; expected '0' and received '1'.");
    let bad_escape = request("GET", "/api/v3/depth", "symbol=%zz", "", None);
    assert_error(call(&venue, &ctx, &bad_escape), 400, -1100, "Illegal characters found in a parameter.");
    let missing = request("GET", "/api/v3/depth", "", "", None);
    assert_error(
        call(&venue, &ctx, &missing),
        400,
        -1102,
        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
    );
    let no_sig = request("GET", "/api/v3/account", &format!("timestamp={}", ctx.market.now_ms()), "", Some(DOC_KEY));
    assert_error(
        call(&venue, &ctx, &no_sig),
        400,
        -1102,
        "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
    );
    let nowhere = request("GET", "/api/v3/nothing", "", "", None);
    assert_error(call(&venue, &ctx, &nowhere), 404, -1020, "This operation is not supported.");
    let method = request("PATCH", "/api/v3/order", "", "", None);
    assert_error(call(&venue, &ctx, &method), 405, -1020, "This operation is not supported.");
}

#[test]
fn filters_fail_with_1013() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let order = |params: &str| call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", params));
    let (bid, _) = best(&ctx, 0);
    let px = btc_text(Price::from_units(bid.0.units() - 1000));
    // Off the tick: more decimals than the tick has (caught while parsing) ...
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000.005"),
        400,
        -1013,
        "Filter failure: PRICE_FILTER",
    );
    // ... and on the grid but not a multiple of ETHUSDT's 0.05 tick (the engine's check).
    assert_error(
        order("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.010&price=3000.01"),
        400,
        -1013,
        "Filter failure: PRICE_FILTER",
    );
    // Off the lot, both ways; an off-tick price still wins (filters are checked in order).
    assert_error(
        order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000015&price={px}")),
        400,
        -1013,
        "Filter failure: LOT_SIZE",
    );
    assert_error(
        order("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.011&price=3000.00"),
        400,
        -1013,
        "Filter failure: LOT_SIZE",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000015&price=60000.005"),
        400,
        -1013,
        "Filter failure: PRICE_FILTER",
    );
    // Below the minimum notional (5 USDT).
    assert_error(
        order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00001&price={px}")),
        400,
        -1013,
        "Filter failure: NOTIONAL",
    );
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=99999999999.00"),
        400,
        -1013,
        "Filter failure: PRICE_FILTER",
    );
}

#[test]
fn engine_rejections_are_2010() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let order = |params: &str| call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", params));
    let (bid, ask) = best(&ctx, 0);
    let px = btc_text(Price::from_units(bid.0.units() - 1000));
    assert_error(
        order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=10&price={px}")),
        400,
        -2010,
        "Account has insufficient balance for requested action.",
    );
    assert_error(
        order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price={}", btc_text(ask.0))),
        400,
        -2010,
        "Order would immediately match and take.",
    );
    // LIMIT_MAKER answers ACK by default.
    let (status, v) =
        order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price={px}&newClientOrderId=dup1"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        keys(&v),
        ["clientOrderId", "orderId", "orderListId", "symbol", "transactTime"].map(String::from).into()
    );
    assert_error(
        order(&format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={px}&newClientOrderId=dup1"
        )),
        400,
        -2010,
        "Duplicate order sent.",
    );
    // An unfillable FOK is accepted and expires at once, as on Binance.
    let (status, v) = order(&format!(
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=1&price={}&newOrderRespType=RESULT",
        btc_text(ask.0)
    ));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "EXPIRED");
    assert_eq!(v["executedQty"], "0.00000000");
    assert!(v.get("fills").is_none());
    // A marketable IOC fills at the ask and reports its fills.
    let (status, v) = order(&format!(
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.00010&price={}",
        btc_text(ask.0)
    ));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "FILLED");
    assert_eq!(v["fills"][0]["price"], price_text(&ctx.market.instruments()[0], ask.0));
    assert_eq!(v["fills"][0]["qty"], "0.00010000");
    assert_eq!(v["fills"][0]["commissionAsset"], "USDT");
    assert_eq!(
        keys(&v["fills"][0]),
        ["commission", "commissionAsset", "price", "qty", "tradeId"].map(String::from).into()
    );
    // MARKET orders take no price.
    assert_error(
        order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&price=1"),
        400,
        -1106,
        "Parameter 'price' sent when not required.",
    );
    let (status, v) = order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.00010");
    assert_eq!((status, v["status"].as_str(), v["type"].as_str()), (200, Some("FILLED"), Some("MARKET")), "{v}");
}

#[test]
fn weight_is_charged_per_ip_and_limited_with_429() {
    let ctx = ctx();
    let venue = BinanceSpot::new(BinanceLimits { request_weight_per_minute: 10, ..BinanceLimits::default() });
    let resp = venue.handle_http(&ctx, &request("GET", "/api/v3/exchangeInfo", "", "", None));
    assert_eq!(resp.status, 429);
    assert!(resp.headers.iter().any(|(k, v)| k == "X-MBX-USED-WEIGHT-1M" && v == "20"), "{:?}", resp.headers);
    assert!(resp.headers.iter().any(|(k, _)| k == "Retry-After"));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        body,
        json!({ "code": -1003, "msg": "Too much request weight used; current limit is 10 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API." })
    );
    // Pings weigh 1: within a few calls one minute's count passes the limit.
    let venue = BinanceSpot::new(BinanceLimits { request_weight_per_minute: 5, ..BinanceLimits::default() });
    let mut seen = Vec::new();
    for _ in 0..20 {
        let resp = venue.handle_http(&ctx, &request("GET", "/api/v3/ping", "", "", None));
        let used: u32 = resp.headers.iter().find(|(k, _)| k == "X-MBX-USED-WEIGHT-1M").unwrap().1.parse().unwrap();
        seen.push((resp.status, used));
    }
    assert!(seen.iter().any(|(s, u)| *s == 429 && *u > 5), "{seen:?}");
    assert!(seen.iter().all(|(s, u)| (*s == 200) == (*u <= 5)), "{seen:?}");
    // Depth weight follows the limit.
    let venue = BinanceSpot::default();
    let weight = |q: &str| {
        let resp = venue.handle_http(&ctx, &request("GET", "/api/v3/depth", q, "", None));
        let h = resp.headers.iter().find(|(k, _)| k == "X-MBX-USED-WEIGHT-1M").unwrap().1.clone();
        h.parse::<u32>().unwrap()
    };
    let a = weight("symbol=BTCUSDT");
    let b = weight("symbol=BTCUSDT&limit=500");
    let c = weight("symbol=BTCUSDT&limit=1000");
    let d = weight("symbol=BTCUSDT&limit=5000");
    // Differences are robust to a minute rollover between calls only if none happens;
    // check the increments instead of absolute values where the window held.
    if b > a && c > b && d > c {
        assert_eq!((a, b - a, c - b, d - c), (5, 25, 50, 250));
    }
}

#[test]
fn market_data_endpoints_match_the_documented_shapes() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let (status, t) = call(&venue, &ctx, &request("GET", "/api/v3/time", "", "", None));
    assert_eq!(status, 200);
    assert!((t["serverTime"].as_i64().unwrap() - ctx.market.now_ms()).abs() < 1000);
    assert_eq!(call(&venue, &ctx, &request("GET", "/api/v3/ping", "", "", None)), (200, json!({})));
    let (status, depth) = call(&venue, &ctx, &request("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=5", "", None));
    assert_eq!(status, 200);
    let sample: Value = serde_json::from_str(SNAPSHOT_REST).unwrap();
    assert_eq!(keys(&depth), keys(&sample));
    assert_eq!(depth["bids"].as_array().unwrap().len(), 5);
    let snap = ctx.market.snapshot(0, 5).unwrap();
    assert_eq!(depth["lastUpdateId"], snap.update_id);
    let level = &depth["asks"][0];
    assert_eq!(
        level,
        &json!([
            price_text(&ctx.market.instruments()[0], snap.asks[0].0),
            qty_text(&ctx.market.instruments()[0], snap.asks[0].1)
        ])
    );
    assert!(level[0].as_str().unwrap().ends_with("000000"), "8 decimals: {level}");
    let (status, info) = call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbol=BTCUSDT", "", None));
    assert_eq!(status, 200);
    let symbols = info["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 1);
    let s = &symbols[0];
    assert_eq!((s["symbol"].as_str(), s["status"].as_str()), (Some("BTCUSDT"), Some("TRADING")));
    assert_eq!((s["baseAsset"].as_str(), s["quoteAsset"].as_str()), (Some("BTC"), Some("USDT")));
    let filter =
        |name: &str| s["filters"].as_array().unwrap().iter().find(|f| f["filterType"] == name).unwrap().clone();
    assert_eq!(filter("PRICE_FILTER")["tickSize"], "0.01000000");
    assert_eq!(filter("PRICE_FILTER")["minPrice"], "0.01000000");
    assert_eq!(filter("LOT_SIZE")["stepSize"], "0.00001000");
    assert_eq!(filter("LOT_SIZE")["minQty"], "0.00001000");
    assert_eq!(filter("NOTIONAL")["minNotional"], "5.00000000");
    // Every documented key of each filter (filters.md).
    assert_eq!(
        keys(&filter("PRICE_FILTER")),
        ["filterType", "maxPrice", "minPrice", "tickSize"].map(String::from).into()
    );
    assert_eq!(keys(&filter("LOT_SIZE")), ["filterType", "maxQty", "minQty", "stepSize"].map(String::from).into());
    assert_eq!(
        keys(&filter("NOTIONAL")),
        ["applyMaxToMarket", "applyMinToMarket", "avgPriceMins", "filterType", "maxNotional", "minNotional"]
            .map(String::from)
            .into()
    );
    let (_, eth) = call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbols=%5B%22ETHUSDT%22%5D", "", None));
    assert_eq!(eth["symbols"][0]["filters"][0]["tickSize"], "0.05000000");
    let (_, all) = call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "", "", None));
    assert_eq!(all["symbols"].as_array().unwrap().len(), 2);
    assert_error(
        call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbol=NOPE", "", None)),
        400,
        -1121,
        "Invalid symbol.",
    );
    assert_error(
        call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbols=%5B%22NOPE%22%5D", "", None)),
        400,
        -1121,
        "Invalid symbol.",
    );
    assert_error(
        call(&venue, &ctx, &request("GET", "/api/v3/depth", "symbol=NOPE", "", None)),
        400,
        -1121,
        "Invalid symbol.",
    );
    let (_, account) = call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/account", ""));
    let usdt = account["balances"].as_array().unwrap().iter().find(|b| b["asset"] == "USDT").unwrap().clone();
    assert_eq!(usdt, json!({ "asset": "USDT", "free": "100000.00000000", "locked": "0.00000000" }));
}

#[test]
fn listen_keys_start_keep_alive_and_close() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let (status, v) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(DOC_KEY)));
    assert_eq!(status, 200);
    let key = v["listenKey"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 60);
    // An active key is returned again.
    let (_, again) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(DOC_KEY)));
    assert_eq!(again["listenKey"], key.as_str());
    let (_, other) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(TAKER_KEY)));
    assert_ne!(other["listenKey"], key.as_str());
    let q = format!("listenKey={key}");
    assert_eq!(call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", &q, "", Some(DOC_KEY))), (200, json!({})));
    assert_error(
        call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", &q, "", Some(TAKER_KEY))),
        400,
        -1125,
        "This listenKey does not exist.",
    );
    assert_eq!(
        call(&venue, &ctx, &request("DELETE", "/api/v3/userDataStream", &q, "", Some(DOC_KEY))),
        (200, json!({}))
    );
    assert_error(
        call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", &q, "", Some(DOC_KEY))),
        400,
        -1125,
        "This listenKey does not exist.",
    );
    assert_error(
        call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", "", "", Some(DOC_KEY))),
        400,
        -1102,
        "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed.",
    );
}

#[test]
fn bad_input_never_panics_and_always_gets_binance_json() {
    let (ctx, venue) = (ctx(), BinanceSpot::default());
    let inputs = [
        ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=-1"),
        ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=99999999999999999999999"),
        ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=0"),
        ("GET", "/api/v3/depth", "symbol=%F0%28%8C%BC"),
        ("GET", "/api/v3/depth", "&&&=&=="),
        ("GET", "/api/v3/exchangeInfo", "symbols=%5Bnot-json"),
        ("GET", "/api/v3/exchangeInfo", "symbol=BTCUSDT&symbols=%5B%5D"),
        ("POST", "/api/v3/order", "timestamp=99999999999999999999&signature=00"),
        ("GET", "/api/v3/order", "symbol=BTCUSDT"),
        ("DELETE", "/api/v3/openOrders", ""),
        ("GET", "/api/v3/openOrders", "symbol=%00"),
        ("PUT", "/api/v3/userDataStream", "listenKey=%"),
        ("GET", "/", ""),
    ];
    for (method, path, query) in inputs {
        for key in [None, Some(DOC_KEY)] {
            let resp = venue.handle_http(&ctx, &request(method, path, query, "", key));
            let v: Value = serde_json::from_slice(&resp.body).unwrap();
            assert!((400..500).contains(&resp.status), "{method} {path}?{query}: {} {v}", resp.status);
            assert!(v["code"].as_i64().is_some_and(|c| c < 0) && v["msg"].is_string(), "{v}");
        }
    }
    // Signed requests whose parameters are wrong after authentication.
    let order = |params: &str| venue.handle_http(&ctx, &signed(&ctx, "POST", "/api/v3/order", params));
    for params in [
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=99999999999999999999&price=1",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1.&price=1",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=.5&price=1",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0&price=0",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1e3",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=10",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&newOrderRespType=ALL",
    ] {
        let resp = order(params);
        assert!((400..500).contains(&resp.status), "{params}: {}", resp.status);
    }
}
