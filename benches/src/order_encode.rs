//! Order command → signed request bytes ready to write to the socket, per venue: the
//! order-encoding benchmark's subject (`benches/benches/order_encode.rs`) and its
//! allocation test (`benches/tests/order_encode.rs`).
//!
//! Each [`OrderEncoder`] runs the pieces the venue's gateway sends a new order with — its
//! parameter or body writer (`write_order_query`, `write_create_body`, `write_order_body`, …),
//! the venue's timestamp form, the signer's allocation-free `*_into` MAC over the same parts
//! `sign_rest` signs, and the kit's `write_request` — into buffers it reuses, so after the
//! first order nothing is allocated where the format allows. [`OrderEncoder::reference`]
//! builds the same request the way the gateways' cold path does (`RequestSigner::sign_rest`,
//! which allocates its printable result), and the test holds the two byte for byte equal: the
//! benchmark measures what goes on the wire.

use qt_core::{
    AccountId, ClientOrderId, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, OrderId, OrderRequest,
    OrderType, Side, StrategyId, TimeInForce, Venue,
};
use qt_gateway::sign::{self, Credentials, RequestSigner, RestRequest, Secret};
use qt_gateway::wire::{Endpoint, write_request};
use std::fmt::Write as _;

/// The venues benchmarked, by name.
pub const VENUES: [&str; 7] = ["binance", "binance-usdm", "bybit", "okx", "kucoin", "kraken", "firi"];

const KEY: &str = "bench-api-key-0123456789";
const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";
/// [`SECRET`] in base64, as Kraken issues its secrets.
const SECRET_BASE64: &str = "YmVuY2gtc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm";
const PASSPHRASE: &str = "bench-passphrase";
const RECV_WINDOW: &str = "5000";

/// Which venue's wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    BinanceSpot,
    BinanceUsdm,
    Bybit,
    Okx,
    Kucoin,
    Kraken,
    Firi,
}

/// The signer a venue's encoder holds (the concrete type: its `*_into` method).
enum Mac {
    Binance(sign::binance::Signer),
    Bybit(sign::bybit::BybitSigner),
    Okx(sign::okx::OkxSigner),
    Kucoin(sign::kucoin::KucoinSigner),
    Kraken(sign::kraken::KrakenSigner),
    Firi(sign::firi::FiriSigner),
}

/// One venue's new-order encoder with its reused buffers.
pub struct OrderEncoder {
    form: Form,
    venue: Venue,
    path: &'static str,
    inst: Instrument,
    endpoint: Endpoint,
    mac: Mac,
    /// The cold-path signer (`sign_rest`), for [`Self::reference`].
    signer: Box<dyn RequestSigner>,
    run_id: u32,
    body: String,
    query: String,
    timestamp: String,
    signature: String,
    bytes: Vec<u8>,
}

/// The instrument each venue trades here (tick 0.01, lot 0.00001).
fn instrument(venue: Venue, symbol: &str, kind: InstrumentKind) -> Instrument {
    let spec = InstrumentSpec {
        venue,
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind,
        tick_size: "0.01".into(),
        lot_size: "0.00001".into(),
        min_qty: None,
        min_notional: None,
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    };
    Instrument::from_spec(InstrumentId(0), &spec).expect("a valid bench instrument")
}

/// A limit buy of 0.01234 at 65 432.10 on the encoder's instrument.
pub fn limit_order() -> OrderRequest {
    let inst = instrument(Venue::Binance, "BTCUSDT", InstrumentKind::Spot);
    OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: inst.parse_price("65432.10").expect("price"),
        qty: inst.parse_qty("0.01234").expect("qty"),
        reduce_only: false,
        stop_price: None,
    }
}

impl std::fmt::Debug for OrderEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderEncoder").field("venue", &self.venue).field("path", &self.path).finish_non_exhaustive()
    }
}

impl OrderEncoder {
    /// The encoder of venue `name` (one of [`VENUES`]).
    pub fn new(name: &str) -> Option<Self> {
        let creds = Credentials {
            key: Some(KEY.into()),
            secret: Secret::new(SECRET),
            passphrase: Some(Secret::new(PASSPHRASE)),
        };
        let kraken_creds = Credentials { secret: Secret::new(SECRET_BASE64), ..creds.clone() };
        let (form, venue, path, inst, mac) = match name {
            "binance" => (
                Form::BinanceSpot,
                Venue::Binance,
                "/api/v3/order",
                instrument(Venue::Binance, "BTCUSDT", InstrumentKind::Spot),
                Mac::Binance(sign::binance::Signer::new(SECRET)),
            ),
            "binance-usdm" => (
                Form::BinanceUsdm,
                Venue::BinanceUsdm,
                "/fapi/v1/order",
                instrument(Venue::BinanceUsdm, "BTCUSDT", InstrumentKind::LinearPerpetual),
                Mac::Binance(sign::binance::Signer::new(SECRET)),
            ),
            "bybit" => (
                Form::Bybit,
                Venue::Bybit,
                "/v5/order/create",
                instrument(Venue::Bybit, "BTCUSDT", InstrumentKind::LinearPerpetual),
                Mac::Bybit(sign::bybit::BybitSigner::new(creds.clone())),
            ),
            "okx" => (
                Form::Okx,
                Venue::Okx,
                "/api/v5/trade/order",
                instrument(Venue::Okx, "BTC-USDT", InstrumentKind::Spot),
                Mac::Okx(sign::okx::OkxSigner::new(creds.clone()).ok()?),
            ),
            "kucoin" => (
                Form::Kucoin,
                Venue::Kucoin,
                "/api/v1/hf/orders",
                instrument(Venue::Kucoin, "BTC-USDT", InstrumentKind::Spot),
                Mac::Kucoin(sign::kucoin::KucoinSigner::new(creds.clone()).ok()?),
            ),
            "kraken" => (
                Form::Kraken,
                Venue::Kraken,
                "/0/private/AddOrder",
                instrument(Venue::Kraken, "BTC/USDT", InstrumentKind::Spot),
                Mac::Kraken(sign::kraken::KrakenSigner::new(kraken_creds.clone()).ok()?),
            ),
            "firi" => (
                Form::Firi,
                Venue::Firi,
                "/v2/orders",
                instrument(Venue::Firi, "BTCUSDT", InstrumentKind::Spot),
                Mac::Firi(sign::firi::FiriSigner::new(creds.clone())),
            ),
            _ => return None,
        };
        let creds = if form == Form::Kraken { kraken_creds } else { creds };
        let signer = sign::signer_for(venue, creds).ok()?;
        Some(Self {
            form,
            venue,
            path,
            inst,
            endpoint: Endpoint::parse("https://api.example.com", &["https"]).ok()?,
            mac,
            signer,
            run_id: 7,
            body: String::with_capacity(512),
            query: String::with_capacity(512),
            timestamp: String::with_capacity(32),
            signature: String::with_capacity(128),
            bytes: Vec::with_capacity(2048),
        })
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Encodes and signs order `order_id` at venue time `venue_ms`; returns the request bytes.
    pub fn encode(&mut self, order_id: OrderId, request: &OrderRequest, venue_ms: i64) -> &[u8] {
        let cid = ClientOrderId::new(self.run_id, order_id);
        let (body, query, ts, sig) = (&mut self.body, &mut self.query, &mut self.timestamp, &mut self.signature);
        body.clear();
        query.clear();
        ts.clear();
        sig.clear();
        self.bytes.clear();
        // Writing an integer into a String cannot fail.
        let _ = write!(ts, "{venue_ms}");
        match (&self.mac, self.form) {
            (Mac::Binance(signer), Form::BinanceSpot | Form::BinanceUsdm) => {
                if self.form == Form::BinanceSpot {
                    qt_gateway::binance::gateway::write_order_query(query, &self.inst, cid.as_str(), request);
                } else {
                    qt_gateway::binance_usdm::dialect::write_order_query(query, &self.inst, cid.as_str(), request);
                }
                sign::binance::append_signed_tail(signer, query, sig, RECV_WINDOW, venue_ms);
                let headers = [("X-MBX-APIKEY", KEY)];
                write_request(&mut self.bytes, &self.endpoint, "POST", self.path, query, &headers, b"");
            }
            (Mac::Bybit(signer), _) => {
                qt_gateway::bybit::gateway::write_create_body(body, &self.inst, cid.as_str(), request);
                signer.rest_signature_into(KEY, ts, body, sig);
                let headers = [
                    ("X-BAPI-API-KEY", KEY),
                    ("X-BAPI-TIMESTAMP", ts.as_str()),
                    ("X-BAPI-SIGN", sig.as_str()),
                    ("X-BAPI-RECV-WINDOW", RECV_WINDOW),
                    ("Content-Type", "application/json"),
                ];
                write_request(&mut self.bytes, &self.endpoint, "POST", self.path, "", &headers, body.as_bytes());
            }
            (Mac::Okx(signer), _) => {
                qt_gateway::okx::gateway::write_order_body(body, &self.inst, cid.as_str(), request);
                let iso = sign::okx::iso8601_ms_bytes(u64::try_from(venue_ms).unwrap_or(0));
                let iso = std::str::from_utf8(&iso).unwrap_or_default();
                signer.signature_into(&sign::prehash_parts(iso, "POST", self.path, "", body), sig);
                let headers = [
                    ("OK-ACCESS-KEY", KEY),
                    ("OK-ACCESS-SIGN", sig.as_str()),
                    ("OK-ACCESS-TIMESTAMP", iso),
                    ("OK-ACCESS-PASSPHRASE", PASSPHRASE),
                    ("Content-Type", "application/json"),
                ];
                write_request(&mut self.bytes, &self.endpoint, "POST", self.path, "", &headers, body.as_bytes());
            }
            (Mac::Kucoin(signer), _) => {
                qt_gateway::kucoin::orders::write_order_body(body, &self.inst, cid.as_str(), request);
                signer.signature_into(&sign::prehash_parts(ts, "POST", self.path, "", body), sig);
                let headers = [
                    ("KC-API-KEY", KEY),
                    ("KC-API-SIGN", sig.as_str()),
                    ("KC-API-TIMESTAMP", ts.as_str()),
                    ("KC-API-PASSPHRASE", signer.signed_passphrase()),
                    ("KC-API-KEY-VERSION", sign::kucoin::KEY_VERSION),
                    ("Content-Type", "application/json"),
                ];
                write_request(&mut self.bytes, &self.endpoint, "POST", self.path, "", &headers, body.as_bytes());
            }
            (Mac::Kraken(signer), _) => {
                // The nonce in µs of venue time; the body opens with it (the kit's `nonce_first`).
                ts.clear();
                let _ = write!(ts, "{}", venue_ms.saturating_mul(1000));
                body.push_str("nonce=");
                body.push_str(ts);
                body.push('&');
                let _ = qt_gateway::kraken::rest::write_order_body(body, &self.inst, order_id, self.run_id, request);
                signer.signature_into(self.path, ts, body, sig);
                let headers = [
                    ("API-Key", KEY),
                    ("API-Sign", sig.as_str()),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ];
                write_request(&mut self.bytes, &self.endpoint, "POST", self.path, "", &headers, body.as_bytes());
            }
            (Mac::Firi(signer), _) => {
                // Epoch seconds; `timestamp` and `validity` also go in the query.
                ts.clear();
                let _ = write!(ts, "{}", venue_ms / 1000);
                qt_gateway::firi::wire::write_order_body(body, &self.inst, request);
                let members = sign::firi::body_members(body).unwrap_or_default();
                signer.signature_into(&signer.parts(ts, members), sig);
                query.push_str("timestamp=");
                query.push_str(ts);
                query.push_str("&validity=");
                query.push_str(sign::firi::DEFAULT_VALIDITY);
                let headers = [
                    ("miraiex-user-clientid", KEY),
                    ("miraiex-user-signature", sig.as_str()),
                    ("Content-Type", "application/json"),
                ];
                write_request(&mut self.bytes, &self.endpoint, "POST", self.path, query, &headers, body.as_bytes());
            }
            (Mac::Binance(_), _) => {}
        }
        &self.bytes
    }

    /// The same request built the cold way: the body or query from [`Self::encode`]'s
    /// writers, signed by `RequestSigner::sign_rest` (what `qt sign` prints), written by
    /// `write_request` with `sign_rest`'s headers.
    pub fn reference(&mut self, order_id: OrderId, request: &OrderRequest, venue_ms: i64) -> Vec<u8> {
        // The unsigned body / parameters: the fast path's, cut before its signature.
        self.encode(order_id, request, venue_ms);
        let (query, body) = match self.form {
            Form::BinanceSpot | Form::BinanceUsdm => {
                let end = self.query.find("&recvWindow=").unwrap_or(self.query.len());
                (self.query[..end].to_string(), String::new())
            }
            _ => (String::new(), self.body.clone()),
        };
        let ts = match self.form {
            Form::Kraken => venue_ms.saturating_mul(1000).to_string(),
            Form::Firi => (venue_ms / 1000).to_string(),
            _ => venue_ms.to_string(),
        };
        let req = RestRequest { timestamp: &ts, method: "POST", path: self.path, query: &query, body: &body };
        let signed = self.signer.sign_rest(&req).expect("the bench request signs");
        let headers: Vec<(&str, &str)> = signed.headers.iter().map(|(k, v)| (*k, v.expose())).collect();
        let mut out = Vec::new();
        write_request(&mut out, &self.endpoint, "POST", self.path, &signed.query, &headers, signed.body.as_bytes());
        out
    }
}
