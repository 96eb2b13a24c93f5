//! `qt sign` end to end: the binary, for each venue, on a documented vector (the files under
//! `testdata/<venue>/sign_*`), printing the documented signature and the headers or WebSocket
//! payload our gateway sends — and never the secret (nor OKX's plain passphrase).

use std::io::Write;
use std::process::{Command, Stdio};

/// `name=value` of the first such line of a vector file (the value up to the first space).
fn value(file: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    file.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no {name}= line"))
}

/// Runs `qt sign ARGS` (feeding `stdin`), returns (success, stdout + stderr).
fn qt_sign(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qt"))
        .arg("sign")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Runs a vector: it must succeed, print every `expected` line, and not contain any `secrets`.
fn check(args: &[&str], expected: &[String], secrets: &[&str]) {
    let (ok, out) = qt_sign(args, "");
    assert!(ok, "qt sign {args:?} failed:\n{out}");
    for line in expected {
        assert!(out.lines().any(|l| l.trim_end() == line), "missing line {line:?} in:\n{out}");
    }
    for secret in secrets {
        assert!(!out.contains(secret), "the secret {secret:?} is printed:\n{out}");
    }
}

const BINANCE: &str = include_str!("../../testdata/binance_spot/sign_example.txt");
const BINANCE_WS: &str = include_str!("../../testdata/binance_spot/sign_vectors.txt");
const USDM: &str = include_str!("../../testdata/binance_usdm/sign_example.txt");
const BYBIT: &str = include_str!("../../testdata/bybit/sign_example.txt");
const OKX: &str = include_str!("../../testdata/okx/sign_example.txt");
const KUCOIN: &str = include_str!("../../testdata/kucoin/sign_example.txt");
const KRAKEN: &str = include_str!("../../testdata/kraken/sign_example.txt");
const FIRI: &str = include_str!("../../testdata/firi/sign_third_party.txt");

#[test]
fn binance_rest_and_ws_api() {
    let (key, secret) = (value(BINANCE, "apiKey"), value(BINANCE, "secretKey"));
    let payload = value(BINANCE, "payload");
    let sig = value(BINANCE, "signature");
    assert_eq!(sig, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    #[rustfmt::skip]
    let args = ["--venue", "binance", "--secret", &secret, "--key", &key, "--timestamp", "1499827319559",
        "--method", "POST", "--path", "/api/v3/order", "--query", &payload];
    check(
        &args,
        &[
            format!("string to sign: {payload}"),
            format!("signature:      {sig}"),
            format!("request:        POST /api/v3/order?{payload}&signature={sig}"),
            format!("  X-MBX-APIKEY: {key}"),
        ],
        &[&secret],
    );
    // The WebSocket API session logon, the secret read from standard input.
    let logon = BINANCE_WS.split("[session.logon]").nth(1).unwrap();
    let (payload, sig) = (value(logon, "payload"), value(logon, "signature"));
    #[rustfmt::skip]
    let args = ["--venue", "binance", "--secret", "-", "--key", &key, "--timestamp", "1649729878532",
        "--ws", "--method", "session.logon"];
    let (ok, out) = qt_sign(&args, &format!("{secret}\n"));
    assert!(ok, "{out}");
    assert!(out.contains(&format!("string to sign: {payload}\n")), "{out}");
    assert!(out.contains(&format!("signature:      {sig}\n")), "{out}");
    let json = out.lines().find_map(|l| l.strip_prefix("payload:        ")).unwrap();
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(json["method"], "session.logon");
    assert_eq!(json["params"]["signature"], sig.as_str());
    assert!(!out.contains(&secret));
}

/// Every payload/signature pair of the Binance spot vector files (REST and WS-API, the seven
/// WS-API method vectors and the user data subscription), each through the binary.
#[test]
fn every_binance_spot_vector() {
    let (key, secret) = (value(BINANCE, "apiKey"), value(BINANCE, "secretKey"));
    let mut seen = 0;
    for file in [BINANCE, BINANCE_WS] {
        let mut section = String::new();
        let mut payload = String::new();
        for line in file.lines() {
            if let Some(rest) = line.strip_prefix('[') {
                section = rest.split([']', ' ']).next().unwrap_or_default().to_string();
            } else if let Some(p) = line.strip_prefix("payload=") {
                payload = p.to_string();
            } else if let Some(sig) = line.strip_prefix("signature=") {
                let sig = sig.split_whitespace().next().unwrap();
                let ts = payload.split('&').find_map(|p| p.strip_prefix("timestamp=")).unwrap();
                let mut args = vec!["--venue", "binance", "--secret", &secret, "--key", &key, "--timestamp", ts];
                if section.starts_with("rest") {
                    args.extend(["--method", "POST", "--path", "/api/v3/order", "--query", &payload]);
                } else {
                    let method = if section.starts_with("wsapi") { "order.place" } else { section.as_str() };
                    args.extend(["--ws", "--method", method, "--query", &payload]);
                }
                check(&args, &[format!("string to sign: {payload}"), format!("signature:      {sig}")], &[&secret]);
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 12);
}

#[test]
fn binance_usdm() {
    let (key, secret) = (value(USDM, "apiKey"), value(USDM, "secretKey"));
    let payload = value(USDM, "payload");
    #[rustfmt::skip]
    let args = ["--venue", "binance_usdm", "--secret", &secret, "--key", &key, "--timestamp", "1591702613943",
        "--method", "POST", "--path", "/fapi/v1/order", "--body", &payload];
    check(
        &args,
        &[
            "signature:      3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9".into(),
            format!("  X-MBX-APIKEY: {key}"),
            format!(
                "body:           {payload}&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
            ),
        ],
        &[&secret],
    );
}

/// Bybit publishes its string to sign but not the secret behind its signature: the string must
/// match the documentation exactly; the signature is python3's HMAC with our own secret.
#[test]
fn bybit_rest_and_ws_auth() {
    let secret = "bybit-test-secret";
    let get = BYBIT.split("[get]").nth(1).unwrap();
    #[rustfmt::skip]
    let args = ["--venue", "bybit", "--secret", secret, "--key", "XXXXXXXXXX", "--timestamp", "1658384314791",
        "--method", "GET", "--path", "/v5/order/realtime", "--query", &value(get, "queryString")];
    check(
        &args,
        &[
            format!("string to sign: {}", value(get, "string_to_sign")),
            "signature:      603cf75a23e0bd0a5226adb8f4f42accf1a7b89145fc1c05d3ec5f6855b26c67".into(),
            "  X-BAPI-API-KEY: XXXXXXXXXX".into(),
            "  X-BAPI-TIMESTAMP: 1658384314791".into(),
            "  X-BAPI-SIGN: 603cf75a23e0bd0a5226adb8f4f42accf1a7b89145fc1c05d3ec5f6855b26c67".into(),
            "  X-BAPI-RECV-WINDOW: 5000".into(),
        ],
        &[secret],
    );
    let args = ["--venue", "bybit", "--secret", secret, "--key", "api_key", "--timestamp", "1662350400000", "--ws"];
    check(
        &args,
        &[
            "string to sign: GET/realtime1662350400000".into(),
            r#"payload:        {"op":"auth","args":["api_key",1662350400000,"e5afa359fdaabfeeae6a8755687997f43c4696196a957502edf608dcd3c83caa"]}"#.into(),
        ],
        &[secret],
    );
}

#[test]
fn okx_rest_and_ws_login() {
    let secret = value(OKX, "secret");
    let passphrase = "okx-pass-phrase-42";
    let sign = OKX.lines().filter_map(|l| l.strip_prefix("sign=")).collect::<Vec<_>>();
    #[rustfmt::skip]
    let args = ["--venue", "okx", "--secret", &secret, "--key", "okx-key", "--passphrase", passphrase,
        "--timestamp", "2020-12-08T09:08:57.715Z", "--method", "GET", "--path", "/api/v5/account/balance", "--query", "ccy=BTC"];
    check(
        &args,
        &[
            format!("string to sign: {}", value(OKX, "prehash")),
            format!("  OK-ACCESS-SIGN: {}", sign[0]),
            "  OK-ACCESS-KEY: okx-key".into(),
            "  OK-ACCESS-TIMESTAMP: 2020-12-08T09:08:57.715Z".into(),
            "  OK-ACCESS-PASSPHRASE: <passphrase>".into(),
        ],
        &[&secret, passphrase],
    );
    let body = r#"{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}"#;
    #[rustfmt::skip]
    let args = ["--venue", "okx", "--secret", &secret, "--passphrase", passphrase,
        "--timestamp", "2020-12-08T09:08:57.715Z", "--method", "POST", "--path", "/api/v5/account/set-leverage", "--body", body];
    let post = OKX.lines().filter_map(|l| l.strip_prefix("prehash=")).nth(1).unwrap();
    check(&args, &[format!("string to sign: {post}"), format!("signature:      {}", sign[1])], &[&secret, passphrase]);
    #[rustfmt::skip]
    let args = ["--venue", "okx", "--secret", &secret, "--key", "okx-key", "--passphrase", passphrase,
        "--timestamp", "1538054050", "--ws"];
    check(
        &args,
        &[
            "string to sign: 1538054050GET/users/self/verify".into(),
            format!("signature:      {}", sign[2]),
            format!(
                r#"payload:        {{"op":"login","args":[{{"apiKey":"okx-key","passphrase":"<passphrase>","timestamp":"1538054050","sign":"{}"}}]}}"#,
                sign[2]
            ),
        ],
        &[&secret, passphrase],
    );
    // Without the passphrase: an error naming the flag, still without the secret.
    let (ok, out) = qt_sign(&args[..6].iter().chain(&args[8..]).copied().collect::<Vec<_>>(), "");
    assert!(!ok && out.contains("--passphrase") && !out.contains(&secret), "{out}");
}

#[test]
fn kucoin() {
    let secret = value(KUCOIN, "secret");
    let body = r#"{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"50000","size":"0.00001","clientOid":"5c52e11203aa677f33e493fb"}"#;
    #[rustfmt::skip]
    let args = ["--venue", "kucoin", "--secret", &secret, "--key", "kc-key", "--passphrase", "test_passphrase",
        "--timestamp", "1700000000000", "--method", "POST", "--path", "/api/v1/hf/orders", "--body", body];
    check(
        &args,
        &[
            format!("string to sign: 1700000000000POST/api/v1/hf/orders{body}"),
            "  KC-API-SIGN: 4iNIB269WZKg/CGoBINONJoe4/fbwKcDeeMWBXQ+c94=".into(),
            "  KC-API-KEY: kc-key".into(),
            "  KC-API-TIMESTAMP: 1700000000000".into(),
            // The SDK-derived value in the vector file.
            "  KC-API-PASSPHRASE: Ikr9KjwgA4urCb5Az1TNKgQELW10z84iOq+wsZsRRz0=".into(),
            "  KC-API-KEY-VERSION: 2".into(),
        ],
        &[&secret, "test_passphrase"],
    );
}

#[test]
fn kraken() {
    let secret = value(KRAKEN, "private_key");
    #[rustfmt::skip]
    let args = ["--venue", "kraken", "--secret", &secret, "--key", "kr-key", "--timestamp", &value(KRAKEN, "nonce"),
        "--method", "POST", "--path", &value(KRAKEN, "uri_path"), "--body", &value(KRAKEN, "post_data")];
    let sign = value(KRAKEN, "api_sign");
    check(
        &args,
        &[
            format!("signature:      {sign}"),
            format!("  API-Sign: {sign}"),
            "  API-Key: kr-key".into(),
            format!("  SHA-256 of:   {}{}", value(KRAKEN, "nonce"), value(KRAKEN, "post_data")),
        ],
        &[&secret],
    );
    // A nonce that is not the body's: the error names --body.
    let mut bad = args.to_vec();
    bad[7] = "1616492376595";
    let (ok, out) = qt_sign(&bad, "");
    assert!(!ok && out.contains("--body") && !out.contains(&secret), "{out}");
}

#[test]
fn firi() {
    let secret = value(FIRI, "secret");
    #[rustfmt::skip]
    let args = ["--venue", "firi", "--secret", &secret, "--key", "client-7", "--timestamp", "1632954488",
        "--method", "GET", "--path", "/v2/balances"];
    check(
        &args,
        &[
            format!("string to sign: {}", value(FIRI, "payload")),
            format!("  miraiex-user-signature: {}", value(FIRI, "signature")),
            "  miraiex-user-clientid: client-7".into(),
            "request:        GET /v2/balances?timestamp=1632954488&validity=2000".into(),
        ],
        &[&secret],
    );
}
