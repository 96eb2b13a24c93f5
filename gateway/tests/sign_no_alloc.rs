//! The signers' hot methods (`*_into`, which append a signature to the caller's buffer) make no
//! allocation once the buffer has its capacity: a counting allocator over 1,000 signatures per
//! venue. (The printable `sign_rest`/`sign_ws` allocate by design; they are for cold paths and
//! `qt sign`.)

use qt_gateway::sign::binance::Signer as BinanceHmac;
use qt_gateway::sign::bybit::BybitSigner;
use qt_gateway::sign::firi::FiriSigner;
use qt_gateway::sign::kraken::KrakenSigner;
use qt_gateway::sign::kucoin::KucoinSigner;
use qt_gateway::sign::mac::Parts;
use qt_gateway::sign::okx::{OkxSigner, iso8601_ms_bytes};
use qt_gateway::sign::{Credentials, Secret, prehash_parts};
use qt_test_support::{CountingAllocator, allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const BODY: &str =
    r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"50000"}"#;

fn creds() -> Credentials {
    Credentials {
        key: Some("key".into()),
        // Base64, so Kraken accepts it too.
        secret: Secret::new("kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="),
        passphrase: Some(Secret::new("pass")),
    }
}

/// Runs `sign` 1,000 times into one buffer after a warm-up and returns the allocations made.
fn allocations_of(mut sign: impl FnMut(&mut String)) -> u64 {
    let mut out = String::with_capacity(128);
    sign(&mut out);
    let before = allocations();
    for _ in 0..1000 {
        out.clear();
        sign(&mut out);
    }
    let made = allocations() - before;
    assert!(!out.is_empty());
    made
}

#[test]
fn hot_signing_does_not_allocate() {
    let binance = BinanceHmac::new(creds().secret.expose());
    let bybit = BybitSigner::new(creds());
    let okx = OkxSigner::new(creds()).unwrap();
    let kucoin = KucoinSigner::new(creds()).unwrap();
    let kraken = KrakenSigner::new(creds()).unwrap();
    let firi = FiriSigner::new(creds());
    let query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943";
    let cases: [(&str, u64); 7] = [
        ("binance", allocations_of(|out| binance.sign_into(Parts::new().push_str(query), out))),
        ("bybit", allocations_of(|out| bybit.rest_signature_into("key", "1658385579423", BODY, out))),
        (
            "okx",
            allocations_of(|out| {
                let ts = iso8601_ms_bytes(1_607_418_537_715);
                let ts = std::str::from_utf8(&ts).unwrap_or_default();
                okx.signature_into(&prehash_parts(ts, "POST", "/api/v5/trade/order", "", BODY), out);
            }),
        ),
        (
            "kucoin",
            allocations_of(|out| {
                kucoin.signature_into(&prehash_parts("1700000000000", "POST", "/api/v1/hf/orders", "", BODY), out)
            }),
        ),
        (
            "kraken",
            allocations_of(|out| {
                kraken.signature_into("/0/private/AddOrder", "1616492376594", "nonce=1616492376594&pair=XBTUSD", out)
            }),
        ),
        (
            "firi",
            allocations_of(|out| firi.signature_into(&firi.parts("1700000000", BODY.trim_matches(['{', '}'])), out)),
        ),
        ("okx timestamp", allocations_of(|out| out.push(char::from(iso8601_ms_bytes(1_607_418_537_715)[0])))),
    ];
    for (venue, made) in cases {
        assert_eq!(made, 0, "{venue}: {made} allocations over 1,000 signatures");
    }
}
