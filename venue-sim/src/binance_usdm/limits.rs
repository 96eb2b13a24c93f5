//! Binance USD-M's request limits: the REQUEST_WEIGHT of each endpoint and the ORDERS windows,
//! on the shared meters (`kit::binance_limits`).
//!
//! Facts (NOTES-orders.md §1b, USD-M "General Info" and each endpoint's "Request Weight"; the
//! WebSocket API examples' `rateLimits`): REQUEST_WEIGHT 2400 per minute per IP, ORDERS 300 per
//! 10 s and 1200 per minute per account; a new order costs 0 weight and 1 on each ORDERS window
//! (`X-MBX-ORDER-COUNT-10S`, `-1M` on the answer), every response carries
//! `X-MBX-USED-WEIGHT-1M`, and over the limit the answer is HTTP 429, -1003, with `Retry-After`.
//! Weights: `depth` 2/5/10/20 by `limit`, `trades` 5, `aggTrades` 20, `ticker/24hr` 1 (40
//! without `symbol`), `ticker/bookTicker` 2 (5 without), `openOrders` 1 (40 without), `balance`,
//! `account`, `positionRisk` and `userTrades` 5, `positionSide/dual` and `income` 30, everything
//! else 1.
//!
//! Pure functions plus the meters' short locks.

use crate::kit::binance_limits::{OrderCounter, OrderWindow, WeightMeter};
use crate::protocol::HttpRequest;

/// REQUEST_WEIGHT per minute (Binance: 2400).
pub(super) const WEIGHT_PER_MINUTE: u32 = 2400;
/// ORDERS per 10 s and per minute (Binance: 300, 1200).
pub(super) const ORDERS_PER_10S: u32 = 300;
pub(super) const ORDERS_PER_MINUTE: u32 = 1200;

/// The meters of one venue.
#[derive(Debug)]
pub(super) struct Limits {
    pub(super) weight: WeightMeter,
    pub(super) orders: OrderCounter,
}

impl Limits {
    pub(super) fn new(weight_per_minute: u32, orders_per_10s: u32, orders_per_minute: u32) -> Self {
        Self {
            weight: WeightMeter::new(weight_per_minute),
            orders: OrderCounter::new(vec![
                OrderWindow { ms: 10_000, limit: orders_per_10s, header: "10S", interval: "10 SECOND" },
                OrderWindow { ms: 60_000, limit: orders_per_minute, header: "1M", interval: "1 MINUTE" },
            ]),
        }
    }
}

/// The REQUEST_WEIGHT of `req`.
pub(super) fn weight(req: &HttpRequest) -> u32 {
    let has = |name: &str| req.query.split('&').any(|kv| kv.split('=').next() == Some(name));
    let limit = req
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("limit="))
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(500);
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/fapi/v1/order") => 0,
        ("GET", "/fapi/v1/depth") => match limit {
            0..=50 => 2,
            51..=100 => 5,
            101..=500 => 10,
            _ => 20,
        },
        ("GET", "/fapi/v1/trades") => 5,
        ("GET", "/fapi/v1/aggTrades") => 20,
        ("GET", "/fapi/v1/ticker/24hr") if !has("symbol") => 40,
        ("GET", "/fapi/v1/ticker/bookTicker") => {
            if has("symbol") {
                2
            } else {
                5
            }
        }
        ("GET", "/fapi/v1/openOrders") if !has("symbol") => 40,
        ("GET", "/fapi/v2/balance" | "/fapi/v3/balance" | "/fapi/v2/account" | "/fapi/v3/account")
        | ("GET", "/fapi/v2/positionRisk" | "/fapi/v3/positionRisk" | "/fapi/v1/userTrades") => 5,
        ("GET", "/fapi/v1/positionSide/dual" | "/fapi/v1/income") => 30,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, query: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    /// The documented weights of the endpoints whose weight depends on their parameters.
    #[test]
    fn weights() {
        assert_eq!(weight(&req("POST", "/fapi/v1/order", "")), 0);
        assert_eq!(weight(&req("GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")), 20);
        assert_eq!(weight(&req("GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=5")), 2);
        assert_eq!(weight(&req("GET", "/fapi/v1/openOrders", "")), 40);
        assert_eq!(weight(&req("GET", "/fapi/v1/openOrders", "symbol=BTCUSDT")), 1);
        assert_eq!(weight(&req("GET", "/fapi/v3/positionRisk", "")), 5);
    }
}
