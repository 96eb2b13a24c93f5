//! Binance spot's REST routing: which endpoint a request is for ([`route`]), its weight and the
//! per-IP weight and per-account order limits, dispatch to the handlers, and the market-data
//! endpoints (`exchangeInfo`, `depth`).

use super::errors::BinanceError;
use super::params::{Params, integer_param};
use super::wire::symbol_info;
use super::{BinanceSpot, DEPTH_DEFAULT_LIMIT, DEPTH_MAX_LIMIT, SYMBOL_RANGE};
use crate::kit::decimal_text::levels_json;
use crate::market::Market;
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{AccountId, Instrument, InstrumentKind};
use serde_json::{Value, json};
use std::net::IpAddr;

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    Depth,
    NewOrder,
    CancelOrder,
    QueryOrder,
    CancelOpenOrders,
    OpenOrders,
    Account,
    MyTrades,
    ListenKeyStart,
    ListenKeyKeepalive,
    ListenKeyClose,
}

pub(super) fn route(method: &str, path: &str) -> Result<Endpoint, BinanceError> {
    use Endpoint::*;
    let methods: &[(&str, Endpoint)] = match path {
        "/api/v3/ping" => &[("GET", Ping)],
        "/api/v3/time" => &[("GET", Time)],
        "/api/v3/exchangeInfo" => &[("GET", ExchangeInfo)],
        "/api/v3/depth" => &[("GET", Depth)],
        "/api/v3/order" => &[("POST", NewOrder), ("DELETE", CancelOrder), ("GET", QueryOrder)],
        "/api/v3/openOrders" => &[("DELETE", CancelOpenOrders), ("GET", OpenOrders)],
        "/api/v3/account" => &[("GET", Account)],
        "/api/v3/myTrades" => &[("GET", MyTrades)],
        "/api/v3/userDataStream" => {
            &[("POST", ListenKeyStart), ("PUT", ListenKeyKeepalive), ("DELETE", ListenKeyClose)]
        }
        _ => return Err(BinanceError::UnsupportedOperation { status: 404 }),
    };
    methods
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, e)| *e)
        .ok_or(BinanceError::UnsupportedOperation { status: 405 })
}

/// A successful answer: the body and any extra headers.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) body: Value,
    pub(super) headers: Vec<(String, String)>,
}

impl From<Value> for Reply {
    fn from(body: Value) -> Self {
        Self { body, headers: Vec::new() }
    }
}

/// How `POST /api/v3/order` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RespType {
    Ack,
    Result,
    Full,
}

impl BinanceSpot {
    /// Adds `weight` to `ip`'s current minute; returns the weight used and, if over the limit,
    /// the error to answer with.
    pub(super) fn charge_weight(&self, ip: IpAddr, weight: u32, now_ms: i64) -> (u32, Option<BinanceError>) {
        let (used, over) = self.weights.charge(ip, weight, now_ms);
        let limit = self.weights.limit();
        (used, over.map(|retry_after_s| BinanceError::TooMuchWeight { limit, retry_after_s }))
    }

    /// Counts one new order of `account`; the error if it exceeds an ORDERS limit, else the
    /// `X-MBX-ORDER-COUNT-*` headers.
    pub(super) fn count_order(&self, account: AccountId, now_ms: i64) -> Result<Vec<(String, String)>, BinanceError> {
        self.orders.count(account, now_ms)
    }

    /// The `symbol` parameter: legal, and a spot instrument of the market.
    pub(super) fn symbol<'m>(&self, market: &'m Market, text: &str) -> Result<(usize, &'m Instrument), BinanceError> {
        if text.is_empty()
            || text.len() > 20
            || !text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            return Err(BinanceError::IllegalParam { param: "symbol", range: SYMBOL_RANGE });
        }
        let idx = market.symbol_index(text).ok_or(BinanceError::InvalidSymbol)?;
        let inst = market.instruments().get(idx).ok_or(BinanceError::InvalidSymbol)?;
        if inst.kind() != InstrumentKind::Spot {
            return Err(BinanceError::InvalidSymbol);
        }
        Ok((idx, inst))
    }

    pub(super) fn weight(endpoint: Endpoint, p: Option<&Params>) -> u32 {
        match endpoint {
            Endpoint::Ping | Endpoint::Time => 1,
            Endpoint::ExchangeInfo | Endpoint::Account => 20,
            Endpoint::Depth => {
                let limit = p
                    .and_then(|p| p.get("limit"))
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(DEPTH_DEFAULT_LIMIT)
                    .min(DEPTH_MAX_LIMIT);
                match limit {
                    0..=100 => 5,
                    101..=500 => 25,
                    501..=1000 => 50,
                    _ => 250,
                }
            }
            Endpoint::NewOrder | Endpoint::CancelOrder | Endpoint::CancelOpenOrders => 1,
            Endpoint::QueryOrder => 4,
            Endpoint::MyTrades => {
                if p.is_some_and(|p| p.get("orderId").is_some()) {
                    5
                } else {
                    20
                }
            }
            Endpoint::OpenOrders => {
                if p.is_some_and(|p| p.get("symbol").is_some()) {
                    6
                } else {
                    80
                }
            }
            Endpoint::ListenKeyStart | Endpoint::ListenKeyKeepalive | Endpoint::ListenKeyClose => 2,
        }
    }

    pub(super) fn dispatch(
        &self,
        ctx: &Ctx,
        req: &HttpRequest,
        endpoint: Endpoint,
        p: &Params,
    ) -> Result<Reply, BinanceError> {
        match endpoint {
            Endpoint::Ping => {
                p.only(&[])?;
                Ok(json!({}).into())
            }
            Endpoint::Time => {
                p.only(&[])?;
                Ok(json!({ "serverTime": ctx.market.now_ms() }).into())
            }
            Endpoint::ExchangeInfo => self.exchange_info(ctx, p).map(Reply::from),
            Endpoint::Depth => self.depth(ctx, p).map(Reply::from),
            Endpoint::NewOrder => self.new_order(ctx, req, p),
            Endpoint::CancelOrder => self.cancel_order(ctx, req, p).map(Reply::from),
            Endpoint::QueryOrder => self.query_order(ctx, req, p).map(Reply::from),
            Endpoint::CancelOpenOrders => self.cancel_open_orders(ctx, req, p).map(Reply::from),
            Endpoint::OpenOrders => self.open_orders(ctx, req, p).map(Reply::from),
            Endpoint::Account => self.account(ctx, req, p).map(Reply::from),
            Endpoint::MyTrades => self.my_trades(ctx, req, p).map(Reply::from),
            Endpoint::ListenKeyStart => self.listen_key_start(ctx, req, p).map(Reply::from),
            Endpoint::ListenKeyKeepalive => self.listen_key_keepalive(ctx, req, p).map(Reply::from),
            Endpoint::ListenKeyClose => self.listen_key_close(ctx, req, p).map(Reply::from),
        }
    }

    pub(super) fn exchange_info(&self, ctx: &Ctx, p: &Params) -> Result<Value, BinanceError> {
        p.only(&["symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"])?;
        let market = &ctx.market;
        let chosen: Vec<usize> = match (p.get("symbol"), p.get("symbols")) {
            (Some(_), Some(_)) => return Err(BinanceError::BadParamCombination),
            (Some(s), None) => vec![self.symbol(market, s)?.0],
            (None, Some(list)) => {
                let names: Vec<String> =
                    serde_json::from_str(list).map_err(|_| BinanceError::InvalidParamData("symbols"))?;
                let mut out = Vec::new();
                for name in &names {
                    let idx = self.symbol(market, name)?.0;
                    if out.contains(&idx) {
                        return Err(BinanceError::InvalidParamData("symbols"));
                    }
                    out.push(idx);
                }
                out
            }
            (None, None) => (0..market.instruments().len())
                .filter(|i| market.instruments()[*i].kind() == InstrumentKind::Spot)
                .collect(),
        };
        if let Some(status) = p.get("symbolStatus")
            && !matches!(status, "TRADING" | "END_OF_DAY" | "HALT" | "BREAK")
        {
            return Err(BinanceError::InvalidParamData("symbolStatus"));
        }
        let wanted_status = p.get("symbolStatus").unwrap_or("TRADING");
        let symbols: Vec<Value> = if wanted_status == "TRADING" {
            chosen.iter().map(|i| symbol_info(&market.instruments()[*i])).collect()
        } else {
            Vec::new()
        };
        Ok(json!({
            "timezone": "UTC",
            "serverTime": market.now_ms(),
            "rateLimits": [
                { "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                  "limit": self.limits.request_weight_per_minute },
                { "rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                  "limit": self.limits.orders_per_10s },
                { "rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                  "limit": self.limits.orders_per_day },
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }))
    }

    pub(super) fn depth(&self, ctx: &Ctx, p: &Params) -> Result<Value, BinanceError> {
        p.only(&["symbol", "limit", "symbolStatus"])?;
        let (idx, inst) = self.symbol(&ctx.market, p.required("symbol")?)?;
        let limit = match p.get("limit") {
            None => DEPTH_DEFAULT_LIMIT,
            Some(text) => {
                let n = integer_param("limit", text)?;
                if n < 1 {
                    return Err(BinanceError::InvalidParamData("limit"));
                }
                // "If limit > 5000, then the response will truncate to 5000."
                usize::try_from(n).unwrap_or(DEPTH_MAX_LIMIT).min(DEPTH_MAX_LIMIT)
            }
        };
        let snap = ctx.market.snapshot(idx, limit).ok_or(BinanceError::InvalidSymbol)?;
        Ok(json!({
            "lastUpdateId": snap.update_id,
            "bids": levels_json(inst, &snap.bids),
            "asks": levels_json(inst, &snap.asks),
        }))
    }
}
