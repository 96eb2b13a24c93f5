//! Settling, at a restart, a Bybit order the previous run left open: `GET /v5/order/realtime`
//! by `orderLinkId` (it answers for open and recently closed orders alike); if the order is
//! still working, `POST /v5/order/cancel` (a restarted engine does not adopt old orders) and
//! query it again. The answer is given in the terms of Binance's settling
//! ([`crate::binance::settle::SettledOrder`], one shape for every venue), its status in
//! Binance's words: `New`, `PartiallyFilled` and `Untriggered` are still working (`NEW`,
//! `PARTIALLY_FILLED`), `Filled` is `FILLED`, `Rejected` is `REJECTED`, and every other closed
//! state (`Cancelled`, `PartiallyFilledCanceled`, `Deactivated`) is `CANCELED`.
//!
//! Fills: Bybit's per-trade list (`GET /v5/execution/list`) is not queried — the simulator does
//! not serve it (README's venue notes). A linear order's fills are given as one trade of its
//! whole executed quantity at its `avgPrice` with its `cumExecFee` (in the settle coin): exact
//! when none of them was booked before the restart. A spot order's fee coin is not in the order
//! query (buys pay in the base coin), so its trades are reported unknown and the restore books
//! the missing quantity with no fee, saying so.
//!
//! Thread: a cold helper for the `qt run` main thread before the core and the gateways start
//! (like [`crate::bybit::account`]): its own connection, blocking for up to the request timeout
//! per request, allocating freely. The signed headers are never logged.

use crate::binance::settle::{SettledOrder, VenueTrade};
use crate::bybit::errors::{GatewayError, is_auth_refusal};
use crate::bybit::gateway::{Category, REALTIME_PATH, validate};
use crate::bybit::rest::{BybitKey, envelope, send_signed, venue_order_id};
use crate::bybit::server_time::synced_clock;
use crate::bybit::{BybitGatewayConfig, VENUE_NAME};
use crate::kit::http::{HttpsClient, server_name, tls_config};
use crate::kit::time_sync::TimeSync;
use qt_core::{AccountId, Instrument, InstrumentKind, Nanos, Notional};
use serde_json::Value;

const CANCEL_PATH: &str = "/v5/order/cancel";

/// Settles orders of the accounts of one gateway configuration, on one connection.
pub struct Settler {
    http: HttpsClient,
    base: String,
    keys: Vec<(AccountId, BybitKey)>,
    /// The venue's clock, estimated before the first signed request.
    time: Option<TimeSync>,
    cfg: BybitGatewayConfig,
}

impl std::fmt::Debug for Settler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settler").field("url", &self.base).field("accounts", &self.keys.len()).finish()
    }
}

/// `list[0]` of a realtime answer, if any.
fn first_order(result: &Value) -> Option<&Value> {
    result.get("list").and_then(Value::as_array).and_then(|l| l.first())
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

/// Bybit's order status in Binance's words (see the module doc).
fn status_words(bybit: &str) -> &'static str {
    match bybit {
        "New" | "Untriggered" | "Created" => "NEW",
        "PartiallyFilled" => "PARTIALLY_FILLED",
        "Filled" => "FILLED",
        "Rejected" => "REJECTED",
        _ => "CANCELED",
    }
}

impl Settler {
    /// A settler for `cfg`'s venue and accounts (connects on first use).
    pub fn new(cfg: &BybitGatewayConfig) -> Result<Self, GatewayError> {
        let (rest, _) = validate(cfg)?;
        let tls = tls_config(cfg.ca_file.as_deref())?;
        let name = server_name(&rest, cfg.server_name.as_deref())
            .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
        let base = rest.url.clone();
        let http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
        let keys = cfg.accounts.iter().map(|(a, k, s)| (*a, BybitKey::new(k, s, cfg.recv_window_ms))).collect();
        Ok(Self { http, base, keys, time: None, cfg: cfg.clone() })
    }

    /// `method path` signed with `account`'s key: the answer's `result`.
    fn signed(
        &mut self,
        account: AccountId,
        method: &'static str,
        path: &'static str,
        query: &str,
        body: &str,
    ) -> Result<Value, GatewayError> {
        let url = format!("{}{path}", self.base);
        let Some(i) = self.keys.iter().position(|(a, _)| *a == account) else {
            return Err(GatewayError::Config {
                venue: VENUE_NAME,
                problems: vec![format!("account {} has no key here", account.0)],
            });
        };
        let time = match self.time.take() {
            Some(t) => t,
            None => synced_clock(&self.cfg, &mut self.http),
        };
        let venue_ms = time.venue_ms();
        self.time = Some(time);
        let resp = send_signed(&mut self.http, &self.keys[i].1, method, path, query, body, venue_ms)
            .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
        match envelope(&resp) {
            Some(env) if resp.status == 200 && env.code == 0 => Ok(env.result),
            Some(env) => Err(GatewayError::Venue { method, url, status: resp.status, code: env.code, msg: env.msg }
                .for_account(account, is_auth_refusal)),
            None => Err(GatewayError::Venue { method, url, status: resp.status, code: 0, msg: resp.body_excerpt() }
                .for_account(account, is_auth_refusal)),
        }
    }

    /// `category=…&symbol=…` of `inst`.
    fn scope(inst: &Instrument) -> Result<String, GatewayError> {
        let cat = Category::of(inst.kind()).ok_or_else(|| GatewayError::Config {
            venue: VENUE_NAME,
            problems: vec![format!("{}: Bybit trades spot and linear only", inst.symbol())],
        })?;
        Ok(format!("category={}&symbol={}", cat.name(), inst.symbol()))
    }

    fn query(&mut self, account: AccountId, inst: &Instrument, link: &str) -> Result<Option<Value>, GatewayError> {
        let query = format!("{}&orderLinkId={link}", Self::scope(inst)?);
        let result = self.signed(account, "GET", REALTIME_PATH, &query, "")?;
        Ok(first_order(&result).cloned())
    }

    /// Settles order `link` (its `orderLinkId`) of `account` on `inst`: `Ok(None)` if the
    /// venue does not know it (it never arrived); otherwise its state after cancelling it if it
    /// was still working.
    pub fn settle(
        &mut self,
        account: AccountId,
        inst: &Instrument,
        link: &str,
    ) -> Result<Option<SettledOrder>, GatewayError> {
        let Some(mut order) = self.query(account, inst, link)? else { return Ok(None) };
        let mut canceled_here = false;
        if matches!(status_words(text(&order, "orderStatus")), "NEW" | "PARTIALLY_FILLED") {
            let cat = Category::of(inst.kind()).map_or("spot", Category::name);
            let body = serde_json::json!({ "category": cat, "symbol": inst.symbol(), "orderLinkId": link }).to_string();
            match self.signed(account, "POST", CANCEL_PATH, "", &body) {
                Ok(_) => canceled_here = true,
                Err(e) => log::warn!("restore: cancel of order {link}: {e}"),
            }
            // The final state (a fill may have come first) is the query's.
            order = self.query(account, inst, link)?.unwrap_or(order);
        }
        let bad = |field: &str, e: String| GatewayError::BadAnswer {
            method: "GET",
            url: format!("{}{REALTIME_PATH}", self.base),
            body: format!("{field}: {e}"),
        };
        let executed = inst.parse_qty(text(&order, "cumExecQty")).map_err(|e| bad("cumExecQty", e.to_string()))?;
        let update_ms: i64 = text(&order, "updatedTime").parse().unwrap_or(0);
        let ts = Nanos(update_ms.saturating_mul(1_000_000));
        let trades = if !executed.is_positive() {
            Ok(Vec::new())
        } else if inst.kind() != InstrumentKind::LinearPerpetual {
            Err("Bybit spot: the order query does not name the fee's coin".to_string())
        } else {
            let price = inst.parse_price(text(&order, "avgPrice")).map_err(|e| format!("avgPrice: {e}"));
            let fee = Notional::parse(text(&order, "cumExecFee")).map_err(|e| format!("cumExecFee: {e}"));
            price.and_then(|price| {
                let fee = fee?;
                Ok(vec![VenueTrade {
                    trade_id: 0,
                    price,
                    qty: executed,
                    fee,
                    fee_in_other_asset: false,
                    maker: false,
                    ts,
                }])
            })
        };
        Ok(Some(SettledOrder {
            venue_order_id: venue_order_id(text(&order, "orderId")),
            status: status_words(text(&order, "orderStatus")).to_string(),
            executed,
            canceled_here,
            trades,
            update_ns: ts,
        }))
    }

    /// The `orderLinkId`s of `account`'s orders working on `inst` (`GET /v5/order/realtime`,
    /// open orders, first page of 50).
    pub fn open_client_ids(&mut self, account: AccountId, inst: &Instrument) -> Result<Vec<String>, GatewayError> {
        let query = format!("{}&openOnly=0&limit=50", Self::scope(inst)?);
        let result = self.signed(account, "GET", REALTIME_PATH, &query, "")?;
        let list = result.get("list").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        Ok(list.iter().map(|o| text(o, "orderLinkId").to_string()).filter(|l| !l.is_empty()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bybit_statuses_in_binance_words() {
        assert_eq!(status_words("New"), "NEW");
        assert_eq!(status_words("PartiallyFilled"), "PARTIALLY_FILLED");
        assert_eq!(status_words("Filled"), "FILLED");
        assert_eq!(status_words("Rejected"), "REJECTED");
        for closed in ["Cancelled", "PartiallyFilledCanceled", "Deactivated"] {
            assert_eq!(status_words(closed), "CANCELED");
        }
    }
}
