//! Binance signing against every published vector: `testdata/binance_spot/sign_example.txt`
//! (REST and WS-API), `testdata/binance_spot/sign_vectors.txt` (WS-API methods) and
//! `testdata/binance_usdm/sign_example.txt` (USD-M REST).

use super::*;
use crate::sign::test_vectors::{every_changed_byte_changes_the_signature, payload_signature_pairs, value};
use crate::sign::{Secret, signer_for};

const SPOT: &str = include_str!("../../../testdata/binance_spot/sign_example.txt");
const SPOT_WS: &str = include_str!("../../../testdata/binance_spot/sign_vectors.txt");
const USDM: &str = include_str!("../../../testdata/binance_usdm/sign_example.txt");

fn signer(venue: Venue, file: &str) -> Box<dyn RequestSigner> {
    let creds = Credentials {
        key: Some(value(file, "apiKey")),
        secret: Secret::new(value(file, "secretKey")),
        passphrase: None,
    };
    signer_for(venue, creds).unwrap()
}

fn timestamp_of(payload: &str) -> &str {
    payload.split('&').find_map(|p| p.strip_prefix("timestamp=")).unwrap()
}

#[test]
fn reproduces_every_documented_spot_vector() {
    let s = signer(Venue::Binance, SPOT);
    let vectors = payload_signature_pairs(SPOT);
    assert_eq!(vectors.len(), 4, "{vectors:?}");
    for v in vectors {
        let ts = timestamp_of(&v.payload);
        if v.section.starts_with("rest") {
            let req = RestRequest { timestamp: ts, method: "POST", path: "/api/v3/order", query: &v.payload, body: "" };
            let signed = s.sign_rest(&req).unwrap();
            assert_eq!(signed.string_to_sign, StringToSign::Text(v.payload.clone()), "{}", v.section);
            assert_eq!(signed.signature, v.signature, "{}", v.section);
            assert_eq!(signed.query, format!("{}&signature={}", v.payload, v.signature));
            assert_eq!(signed.headers, vec![header("X-MBX-APIKEY", value(SPOT, "apiKey"))]);
        } else {
            let req = WsRequest { timestamp: ts, method: "order.place", params: &v.payload, ..Default::default() };
            let signed = s.sign_ws(&req).unwrap();
            assert_eq!(
                (signed.string_to_sign.as_str(), signed.signature.as_str()),
                (v.payload.as_str(), v.signature.as_str())
            );
        }
    }
}

#[test]
fn reproduces_every_ws_api_method_vector() {
    let s = signer(Venue::Binance, SPOT);
    let vectors = payload_signature_pairs(SPOT_WS);
    assert_eq!(vectors.len(), 8, "{vectors:?}");
    for v in vectors {
        // Only the method's own parameters are given; apiKey and timestamp come from the signer.
        let own: Vec<&str> =
            v.payload.split('&').filter(|p| !p.starts_with("apiKey=") && !p.starts_with("timestamp=")).collect();
        let params = own.join("&");
        let req =
            WsRequest { timestamp: timestamp_of(&v.payload), method: &v.section, params: &params, id: "x", path: "" };
        let signed = s.sign_ws(&req).unwrap();
        assert_eq!(signed.string_to_sign, v.payload, "{}", v.section);
        assert_eq!(signed.signature, v.signature, "{}", v.section);
        let json: serde_json::Value = serde_json::from_str(signed.payload.expose()).unwrap();
        assert_eq!(json["method"], v.section.as_str());
        assert_eq!(json["params"]["signature"], v.signature.as_str());
        assert_eq!(json["params"]["timestamp"], timestamp_of(&v.payload).parse::<u64>().unwrap());
        assert_eq!(json["params"]["apiKey"], value(SPOT, "apiKey").as_str());
    }
}

/// `wsapi_session_logon_request.json` and the user data subscription: the whole request the
/// gateway sends, not only its signature.
#[test]
fn the_user_data_subscription_request_is_complete() {
    let s = signer(Venue::Binance, SPOT);
    let signed = s.sign_ws(&WsRequest { timestamp: "1747385641636", ..Default::default() }).unwrap();
    assert_eq!(signed.signature, "681110a6057ad58657af22f5640fab9dd17418834cdfccdc81be8b0f7b2cde3e");
    let json: serde_json::Value = serde_json::from_str(signed.payload.expose()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"id": "1", "method": "userDataStream.subscribe.signature", "params": {
            "apiKey": value(SPOT, "apiKey"), "timestamp": 1747385641636u64,
            "signature": "681110a6057ad58657af22f5640fab9dd17418834cdfccdc81be8b0f7b2cde3e"}})
    );
}

#[test]
fn reproduces_the_usdm_vectors() {
    let s = signer(Venue::BinanceUsdm, USDM);
    let vectors = payload_signature_pairs(USDM);
    assert_eq!(vectors.len(), 1, "{vectors:?}");
    let v = &vectors[0];
    // Examples 1 (query string) and 2 (request body) sign the same payload.
    for (query, body) in [(v.payload.as_str(), ""), ("", v.payload.as_str())] {
        let req = RestRequest { timestamp: "1591702613943", method: "POST", path: "/fapi/v1/order", query, body };
        let signed = s.sign_rest(&req).unwrap();
        assert_eq!(signed.signature, "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9");
        assert_eq!(signed.signature, v.signature);
        let sent = if body.is_empty() { &signed.query } else { &signed.body };
        assert_eq!(*sent, format!("{}&signature={}", v.payload, v.signature));
    }
    // Example 3 ("mixed"): query and body concatenated with no separator. The doc's value
    // reproduces only from its literal string (a stray space after `timestamp=`, a doc typo)...
    let literal = USDM.lines().find_map(|l| l.strip_prefix("doc_payload_literal=")).unwrap();
    let doc_sig = USDM.lines().filter_map(|l| l.strip_prefix("signature=")).nth(1).unwrap();
    assert_eq!(Signer::new(&value(USDM, "secretKey")).sign(literal.as_bytes()), doc_sig.trim());
    // ...and without the typo it is the self-computed value the file gives.
    let req = RestRequest {
        timestamp: "1591702613943",
        method: "POST",
        path: "/fapi/v1/order",
        query: "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC",
        body: "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943",
    };
    let signed = s.sign_rest(&req).unwrap();
    assert_eq!(signed.signature, "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4");
    assert!(signed.body.ends_with("&signature=30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"));
    assert_eq!(signed.query, req.query, "the signature goes after the timestamp, in the body");
}

/// A request without a timestamp gets `recvWindow` and `timestamp` appended, as the gateway's
/// `signed_query` does: both routes give the same bytes.
#[test]
fn appending_the_timestamp_matches_the_gateway_route() {
    let s = signer(Venue::Binance, SPOT);
    let req = RestRequest {
        timestamp: "1499827319559",
        method: "POST",
        path: "/api/v3/order",
        query: "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1",
        body: "",
    };
    let signed = s.sign_rest(&req).unwrap();
    assert_eq!(signed.signature, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    let params: Vec<(&str, &str)> = req.query.split('&').filter_map(|p| p.split_once('=')).collect();
    let gateway = signed_query(&Signer::new(&value(SPOT, "secretKey")), &params, "5000", 1_499_827_319_559);
    assert_eq!(signed.query, gateway);
}

#[test]
fn bad_input_is_a_typed_error() {
    let s = signer(Venue::Binance, SPOT);
    let req = RestRequest { timestamp: "1", method: "POST", path: "/api/v3/order", query: "timestamp=2", body: "" };
    assert!(matches!(s.sign_rest(&req), Err(SignError::TimestampMismatch { .. })));
    let req = RestRequest { query: "symbol", timestamp: "1", ..req };
    assert!(matches!(s.sign_rest(&req), Err(SignError::BadParams { .. })));
    let req = RestRequest { query: "", timestamp: "soon", ..req };
    assert!(matches!(s.sign_rest(&req), Err(SignError::BadTimestamp { .. })));
    let ws = WsRequest { timestamp: "1", params: "signature=abc", ..Default::default() };
    assert!(matches!(s.sign_ws(&ws), Err(SignError::BadParams { .. })));
    let keyless = signer_for(
        Venue::Binance,
        Credentials { key: None, secret: Secret::new(value(SPOT, "secretKey")), passphrase: None },
    )
    .unwrap();
    let ws = WsRequest { timestamp: "1", ..Default::default() };
    assert!(matches!(keyless.sign_ws(&ws), Err(SignError::MissingKey { .. })));
}

/// Any changed byte of a payload changes the signature.
#[test]
fn a_changed_byte_changes_the_signature() {
    let s = Signer::new(&value(SPOT, "secretKey"));
    every_changed_byte_changes_the_signature(|payload| s.sign(payload.as_bytes()));
}
