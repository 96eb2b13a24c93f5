//! Settling, at a restart, an order the previous run left open: `GET /api/v3/order` by its
//! client order id; if it is still working, `DELETE /api/v3/order` (a restarted engine does not
//! adopt old orders: it cancels them and starts clean) and query it again; then, if it filled at
//! all, its trades with their real commission from `GET /api/v3/myTrades`. USD-M's settling is
//! the same in its dialect (`/fapi/v1/order`, `/fapi/v1/userTrades`, `/fapi/v1/openOrders`;
//! [`crate::binance_usdm::settler`]).
//!
//! Thread: a cold helper for the `qt run` main thread before the core and the gateways start
//! (like [`crate::binance::account`]): its own connection, blocking for up to the request
//! timeout per request, allocating freely. The signed query string is never logged.

use crate::binance::BinanceGatewayConfig;
use crate::binance::dialect::{Dialect, SPOT};
use crate::binance::errors::{CODE_NO_SUCH_ORDER, GatewayError, is_auth_refusal};
use crate::binance::gateway::{now_ms, validate};
use crate::binance::server_time::synced_clock;
use crate::binance::signer::{Signer, signed_query};
use crate::binance::trades::{parse_trades, to_fill};
use crate::binance::user_stream::api_error;
use crate::kit::http::{HttpsClient, Response, server_name, tls_config};
use crate::kit::time_sync::TimeSync;
use qt_core::{AccountId, Instrument, Nanos, Qty};
use serde::Deserialize;

/// What the venue says of an order, after any cancel this settling sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledOrder {
    /// The venue's order id.
    pub venue_order_id: u64,
    /// Binance's status text (`FILLED`, `CANCELED`, `EXPIRED`, `REJECTED`, or still `NEW` /
    /// `PARTIALLY_FILLED` when the cancel did not take).
    pub status: String,
    /// Filled quantity in all.
    pub executed: Qty,
    /// Whether this settling cancelled it.
    pub canceled_here: bool,
    /// Every trade of the order, oldest first (`Err`: why they are not known).
    pub trades: Result<Vec<VenueTrade>, String>,
    /// The venue's last update time of the order.
    pub update_ns: Nanos,
}

impl SettledOrder {
    /// Whether the order is done at the venue (no longer working).
    pub fn is_closed(&self) -> bool {
        !matches!(self.status.as_str(), "NEW" | "PARTIALLY_FILLED" | "PENDING_NEW")
    }
}

pub use crate::binance::trades::TradeFill as VenueTrade;

/// The trades after the first `reported` quantity of an order's trades (oldest first): what we
/// have not booked yet. An error if the reported quantity does not end on a trade boundary.
pub fn unreported(trades: &[VenueTrade], reported: Qty) -> Result<&[VenueTrade], String> {
    let mut sum = Qty::ZERO;
    for (i, t) in trades.iter().enumerate() {
        if sum == reported {
            return Ok(&trades[i..]);
        }
        sum = sum.checked_add(t.qty).map_err(|e| e.to_string())?;
        if sum > reported {
            return Err(format!("a trade straddles the {} units already booked", reported.units()));
        }
    }
    if sum == reported {
        Ok(&[])
    } else {
        Err(format!("the trades add up to less than the {} units booked", reported.units()))
    }
}

#[derive(Debug, Deserialize)]
struct OpenOrder {
    #[serde(rename = "clientOrderId")]
    client_order_id: String,
}

#[derive(Debug, Deserialize)]
struct OrderAnswer {
    #[serde(rename = "orderId")]
    order_id: u64,
    status: String,
    #[serde(rename = "executedQty")]
    executed_qty: String,
    #[serde(rename = "updateTime", default)]
    update_time: Option<i64>,
}

/// Settles orders of the accounts of one gateway configuration, on one connection.
pub struct Settler {
    http: HttpsClient,
    url: String,
    recv_window: String,
    accounts: Vec<(AccountId, String, Signer)>,
    /// The venue's clock, estimated before the first signed request.
    time: Option<TimeSync>,
    cfg: BinanceGatewayConfig,
    /// Which Binance API: its paths.
    dialect: &'static Dialect,
}

impl std::fmt::Debug for Settler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settler").field("url", &self.url).field("accounts", &self.accounts.len()).finish()
    }
}

impl Settler {
    /// A settler for `cfg`'s venue and accounts (connects on first use), on Binance spot.
    pub fn new(cfg: &BinanceGatewayConfig) -> Result<Self, GatewayError> {
        Self::with_dialect(cfg, &SPOT)
    }

    /// [`Settler::new`] in `dialect`.
    pub(crate) fn with_dialect(cfg: &BinanceGatewayConfig, dialect: &'static Dialect) -> Result<Self, GatewayError> {
        let (rest, _, _) = validate(cfg)?;
        let tls = tls_config(cfg.ca_file.as_deref())?;
        let name = server_name(&rest, cfg.server_name.as_deref()).map_err(|m| GatewayError::Config {
            venue: dialect.venue_name,
            problems: vec![format!("server_name: {m}")],
        })?;
        let url = rest.url.clone();
        let http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
        let accounts = cfg.accounts.iter().map(|(a, k, s)| (*a, k.clone(), Signer::new(s))).collect();
        let recv_window = cfg.recv_window_ms.to_string();
        Ok(Self { http, url, recv_window, accounts, time: None, cfg: cfg.clone(), dialect })
    }

    fn signed(
        &mut self,
        account: AccountId,
        method: &'static str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Response, GatewayError> {
        let url = format!("{}{path}", self.url);
        let Some((_, key, signer)) = self.accounts.iter().find(|(a, _, _)| *a == account) else {
            return Err(GatewayError::Config {
                venue: self.dialect.venue_name,
                problems: vec![format!("account {} has no key here", account.0)],
            });
        };
        let (key, signer) = (key.clone(), signer.clone());
        let time = match self.time.take() {
            Some(t) => t,
            None => synced_clock(&self.cfg, &mut self.http, self.dialect.time_path),
        };
        let query = signed_query(&signer, params, &self.recv_window, time.venue_ms());
        self.time = Some(time);
        self.http
            .request(method, path, &query, &[("X-MBX-APIKEY", &key)])
            .map_err(|e| GatewayError::Connect { url, reason: e.to_string() })
    }

    fn query(
        &mut self,
        account: AccountId,
        symbol: &str,
        client_id: &str,
    ) -> Result<Option<OrderAnswer>, GatewayError> {
        let path = self.dialect.order_path;
        let resp = self.signed(account, "GET", path, &[("symbol", symbol), ("origClientOrderId", client_id)])?;
        if resp.status != 200 {
            let (code, msg) = api_error(&resp.body);
            if code == CODE_NO_SUCH_ORDER {
                return Ok(None);
            }
            let url = format!("{}{path}", self.url);
            return Err(GatewayError::Venue { method: "GET", url, status: resp.status, code, msg }
                .for_account(account, is_auth_refusal));
        }
        serde_json::from_slice(&resp.body).map(Some).map_err(|e| GatewayError::BadAnswer {
            method: "GET",
            url: format!("{}{path}", self.url),
            body: format!("{e}: {}", resp.body_excerpt()),
        })
    }

    /// Settles order `client_id` of `account` on `inst`: `Ok(None)` if the venue does not know
    /// it (it never arrived); otherwise its state after cancelling it if it was still working.
    pub fn settle(
        &mut self,
        account: AccountId,
        inst: &Instrument,
        client_id: &str,
    ) -> Result<Option<SettledOrder>, GatewayError> {
        let symbol = inst.symbol().to_string();
        let Some(mut answer) = self.query(account, &symbol, client_id)? else { return Ok(None) };
        let mut canceled_here = false;
        if matches!(answer.status.as_str(), "NEW" | "PARTIALLY_FILLED" | "PENDING_NEW") {
            let path = self.dialect.order_path;
            let resp =
                self.signed(account, "DELETE", path, &[("symbol", &symbol), ("origClientOrderId", client_id)])?;
            canceled_here = resp.status == 200;
            if !canceled_here {
                let (code, msg) = api_error(&resp.body);
                log::warn!("restore: cancel of order {client_id}: HTTP {}, code {code}, {msg:?}", resp.status);
            }
            // The final state (a fill may have come first) is the query's.
            answer = self.query(account, &symbol, client_id)?.unwrap_or(answer);
        }
        let bad = |what: &str, e: String| GatewayError::BadAnswer {
            method: "GET",
            url: format!("{}{}", self.url, self.dialect.order_path),
            body: format!("{what}: {e}"),
        };
        let executed = inst.parse_qty(&answer.executed_qty).map_err(|e| bad("executedQty", e.to_string()))?;
        let trades = if executed.is_positive() { self.trades(account, inst, answer.order_id) } else { Ok(Vec::new()) };
        Ok(Some(SettledOrder {
            venue_order_id: answer.order_id,
            status: answer.status,
            executed,
            canceled_here,
            trades,
            update_ns: Nanos(answer.update_time.unwrap_or_else(now_ms).saturating_mul(1_000_000)),
        }))
    }

    /// The client order ids of `account`'s orders working on `inst` (`GET /api/v3/openOrders`).
    pub fn open_client_ids(&mut self, account: AccountId, inst: &Instrument) -> Result<Vec<String>, GatewayError> {
        let path = self.dialect.open_orders_path;
        let resp = self.signed(account, "GET", path, &[("symbol", inst.symbol())])?;
        let url = format!("{}{path}", self.url);
        if resp.status != 200 {
            let (code, msg) = api_error(&resp.body);
            return Err(GatewayError::Venue { method: "GET", url, status: resp.status, code, msg }
                .for_account(account, is_auth_refusal));
        }
        let list: Vec<OpenOrder> = serde_json::from_slice(&resp.body).map_err(|e| GatewayError::BadAnswer {
            method: "GET",
            url,
            body: format!("{e}: {}", resp.body_excerpt()),
        })?;
        Ok(list.into_iter().map(|o| o.client_order_id).collect())
    }

    /// Every trade of venue order `order_id`, oldest first.
    fn trades(&mut self, account: AccountId, inst: &Instrument, order_id: u64) -> Result<Vec<VenueTrade>, String> {
        let id = order_id.to_string();
        let path = self.dialect.trades_path;
        let resp = self
            .signed(account, "GET", path, &[("symbol", inst.symbol()), ("orderId", &id)])
            .map_err(|e| e.to_string())?;
        if resp.status != 200 {
            let (code, msg) = api_error(&resp.body);
            return Err(format!("{path}: HTTP {}, code {code}, {msg:?}", resp.status));
        }
        let mut list = parse_trades(&resp.body)?;
        list.retain(|t| t.order_id == order_id);
        list.sort_by_key(|t| t.id);
        list.iter().map(|t| to_fill(inst, t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{Notional, Price};

    fn t(id: i64, qty: i64) -> VenueTrade {
        VenueTrade {
            trade_id: id,
            price: Price::from_units(1),
            qty: Qty::from_units(qty),
            fee: Notional::ZERO,
            fee_in_other_asset: false,
            maker: false,
            ts: Nanos(0),
        }
    }

    #[test]
    fn the_unreported_trades_are_those_after_the_booked_quantity() {
        let trades = [t(1, 10), t(2, 20), t(3, 5)];
        assert_eq!(unreported(&trades, Qty::ZERO).unwrap().len(), 3);
        assert_eq!(unreported(&trades, Qty::from_units(10)).unwrap()[0].trade_id, 2);
        assert!(unreported(&trades, Qty::from_units(35)).unwrap().is_empty());
        assert!(unreported(&trades, Qty::from_units(15)).unwrap_err().contains("straddles"));
        assert!(unreported(&trades, Qty::from_units(40)).unwrap_err().contains("less than"));
    }
}
