//! The KuCoin gateway thread `qt-gw-kucoin`: [`spawn`], and KuCoin's side of the kit's
//! gateway loop ([`crate::kit::thread`]) — [`OrderCommand`]s become signed HF REST requests,
//! and the private stream's `orderChange` pushes become [`ExecutionReport`]s.
//!
//! The start-up, the loop, the per-order record with its fill de-duplication, the reports and
//! the reconciliation schedule are the kit's shell ([`crate::kit::shell`]); the stream threads
//! are the kit's too, driven by [`PrivateStream`]. Each REST request blocks the thread for at most the configured timeout.
//! Allocates per request and per frame (JSON). Never panics on venue input.
//!
//! Split by role: this file holds start-up, requests and commands; `gateway/stream_events.rs`
//! the `orderChange` pushes and the fills (with their fees) they fetch; `gateway/reconcile.rs`
//! the order queries.

mod reconcile;
mod stream_events;

use crate::kit::http::{HttpsClient, Response, TransportError, server_name, tls_config};
use crate::kit::order_state::{QueryReason, ReportsClosed};
use crate::kit::rate_limit::Cost;
use crate::kit::rest_link::{Req, signed_resyncing};
use crate::kit::shell::{self, GatewayCore, LinkSpec, SessionArgs, ShellGateway, Startup};
use crate::kucoin::account::{passphrase, validate};
use crate::kucoin::errors::{
    CODE_RATE_LIMIT, CODE_TIMESTAMP, GatewayError, is_auth_refusal, is_unknown_order, reject_reason,
};
use crate::kucoin::limits;
use crate::kucoin::orders::{parse_ack, write_order_body};
use crate::kucoin::private_stream::{BULLET_PATH, PrivateStream};
use crate::kucoin::rest::{KucoinKey, envelope, venue_order_id};
use crate::kucoin::server_time::server_time;
use crate::kucoin::{GatewayStats, KucoinGatewayConfig, VENUE_NAME};
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, Clock as _, ExecutionReport, Instrument, InstrumentId, OrderCommand, OrderId, OrderRequest,
    RejectReason, ReportKind, TimeInForce, WallClock,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const ORDERS_PATH: &str = "/api/v1/hf/orders";
/// One order by `clientOid`: `GET` (query) or `DELETE` (cancel) `<this><clientOid>?symbol=`.
pub(crate) const BY_CLIENT_OID: &str = "/api/v1/hf/orders/client-order/";
pub(crate) const FILLS_PATH: &str = "/api/v1/hf/fills";
/// After an ack of a post-only or FOK order (whose `Accepted` waits for the stream), when the
/// order is queried if the stream has not said what became of it.
const ACK_QUERY_DELAY: Duration = Duration::from_secs(2);

/// Starts the KuCoin gateway thread ([`crate::kit::shell::start`]). Before it returns:
/// validates `cfg` (all problems at once), estimates the venue's clock, opens each account's
/// private stream (token, connection, subscription acknowledged) and starts one stream thread
/// per account. The returned thread runs until `stop` is set, the order ring is abandoned (and
/// drained) or the report ring's consumer is gone.
pub fn spawn(
    cfg: KucoinGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let endpoints = validate(&cfg)?;
    // Each stream session asks its tokens over its own REST connection.
    let rest = endpoints.0.clone();
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let rest_name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
    let rest_url = rest.url.clone();
    let up = Startup { cfg: &cfg, venue_name: VENUE_NAME, endpoints };
    let session = |g: &Gateway, a: SessionArgs<'_>| {
        let key = kucoin_key(&cfg, a.account, a.index)?;
        let http = HttpsClient::new(rest.clone(), rest_name.clone(), tls.clone(), cfg.request_timeout);
        let offset = g.core.link.offset.clone();
        Ok(Some(PrivateStream::new(a.account, key, http, a.target.clone(), cfg.clock.clone(), offset)))
    };
    let stream_error = |account, _ws_url: &str, reason| stream_error(account, &rest_url, reason);
    shell::start(up, |http| Gateway::new(&cfg, http, reports), session, stream_error, orders, stop)
}

/// Account `index`'s KuCoin key (its key, secret and passphrase).
fn kucoin_key(cfg: &KucoinGatewayConfig, account: AccountId, index: usize) -> Result<KucoinKey, GatewayError> {
    let (_, api_key, secret) = &cfg.accounts[index];
    KucoinKey::new(api_key, secret, passphrase(cfg, account))
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })
}

/// The KuCoin code in a stream's opening failure (`… code 400004 …`), if it names one.
fn code_in(reason: &str) -> Option<i64> {
    let at = reason.find(" code ")? + " code ".len();
    let digits: String = reason[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A private stream that would not open: a token refused for the credentials is the
/// account's; anything else a connection failure.
fn stream_error(account: AccountId, rest_url: &str, reason: String) -> GatewayError {
    let url = format!("{rest_url}{BULLET_PATH}");
    match code_in(&reason) {
        Some(code) if is_auth_refusal(0, code) => {
            GatewayError::Venue { method: "POST", url, status: 401, code, msg: reason }
                .for_account(account, is_auth_refusal)
        }
        _ => GatewayError::Connect { url, reason },
    }
}

/// The gateway thread's state.
pub(crate) struct Gateway {
    instruments: Vec<Instrument>,
    by_id: HashMap<InstrumentId, usize>,
    by_symbol: HashMap<String, usize>,
    /// KuCoin's order id (96 bits, text) of each live order, once known (an ack, a push, a
    /// query): what `hf/fills` is asked by.
    kucoin_ids: HashMap<OrderId, String>,
    /// The order body buffer, reused.
    body: String,
    /// Accounts, orders, the REST link (the kit's shell).
    pub(crate) core: GatewayCore<KucoinKey>,
}

impl ShellGateway for Gateway {
    type Key = KucoinKey;
    const VENUE: &'static str = "kucoin";

    fn core(&mut self) -> &mut GatewayCore<KucoinKey> {
        &mut self.core
    }

    fn core_ref(&self) -> &GatewayCore<KucoinKey> {
        &self.core
    }

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        Gateway::on_new(self, order_id, request)
    }

    fn on_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
    ) -> Result<(), ReportsClosed> {
        Gateway::on_cancel(self, order_id, account, instrument)
    }

    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        Gateway::on_cancel_all(self, account, instrument);
    }

    fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        Gateway::on_frame(self, acct, text)
    }

    fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        Gateway::run_due_reconciles(self, now)
    }

    /// KuCoin's 429000 (HTTP 429, or 200 from some gateways) backs off as a 429; 400002 is a
    /// refused timestamp.
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, _req: Req<'_>) {
        let code = envelope(resp).map_or(0, |e| e.code_num());
        let status = if code == CODE_RATE_LIMIT { 429 } else { resp.status };
        let header = |name: &str| resp.header(name).map(str::to_string);
        self.core.link.note(
            acct,
            venue_ms,
            resp,
            status,
            header,
            (code, code == CODE_TIMESTAMP),
            limits::ORDER_RULE,
            &mut self.core.state.stats,
        );
    }

    fn is_timestamp_reject(resp: &Response) -> bool {
        envelope(resp).is_some_and(|e| e.code_num() == CODE_TIMESTAMP)
    }
}

/// A refusal's `(code, msg)` (code -1 when the body is not KuCoin's envelope).
pub(crate) fn api_error(resp: &Response) -> (i64, String) {
    envelope(resp).map_or_else(|| (-1, resp.body_excerpt()), |e| (e.code_num(), e.msg))
}

/// Whether an answer is KuCoin's success.
pub(crate) fn is_ok(resp: &Response) -> bool {
    resp.status == 200 && envelope(resp).is_some_and(|e| e.is_ok())
}

impl Gateway {
    fn new(
        cfg: &KucoinGatewayConfig,
        http: HttpsClient,
        reports: Producer<ExecutionReport>,
    ) -> Result<Self, GatewayError> {
        let instruments = cfg.instruments.clone();
        let by_id = instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect();
        let by_symbol = instruments.iter().enumerate().map(|(i, inst)| (inst.symbol().to_string(), i)).collect();
        let mut accounts = Vec::new();
        for (i, (id, _, _)) in cfg.accounts.iter().enumerate() {
            accounts.push((*id, kucoin_key(cfg, *id, i)?));
        }
        let spec = LinkSpec { venue: "kucoin", rules: limits::RULES, server_time };
        let core = GatewayCore::new(cfg, accounts, http, reports, spec);
        Ok(Self { instruments, by_id, by_symbol, kucoin_ids: HashMap::new(), body: String::with_capacity(256), core })
    }

    // ---- requests ------------------------------------------------------------------------

    /// Whether a request of `cost` for account `acct` may be sent now.
    fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.core.link.admit(acct, cost)
    }

    fn signed_resyncing(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        signed_resyncing(self, acct, req)
    }

    /// Forgets what is kept of `order_id` beside the kit's record once that is gone.
    pub(crate) fn tidy(&mut self, order_id: OrderId) {
        if !self.core.state.contains(&order_id) {
            self.kucoin_ids.remove(&order_id);
        }
    }

    /// The path naming `order_id` by its `clientOid`.
    fn client_oid_path(&self, order_id: OrderId) -> String {
        format!("{BY_CLIENT_OID}{}", self.core.client_order_id(order_id).as_str())
    }

    // ---- commands ------------------------------------------------------------------------

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        let account = self.core.account(request.account);
        let inst = self.by_id.get(&request.instrument).copied();
        let local_reject = match (account, inst) {
            (_, None) => Some(RejectReason::UnknownInstrument),
            (None, _) => Some(RejectReason::Other),
            (Some(_), _) if !self.core.state.may_send(request.account) => Some(RejectReason::PrivateStreamDown),
            (Some(acct), _) if !self.admit(acct, limits::NEW_ORDER) => Some(RejectReason::RateLimited),
            _ => None,
        };
        let (Some(acct), Some(idx), None) = (account, inst, local_reject) else {
            let reason = local_reject.unwrap_or(RejectReason::Other);
            log::warn!("kucoin gateway: order {order_id} refused before sending: {reason:?}");
            return self.core.state.reject_unsent(order_id, &request, reason);
        };
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        write_order_body(&mut body, &self.instruments[idx], self.core.client_order_id(order_id).as_str(), &request);
        // A post-only or FOK order may still be cancelled by the matcher after the ack (the
        // ack only says "received"): `Accepted` waits for the stream to show it working.
        let deferred_accept = matches!(request.tif, TimeInForce::PostOnly | TimeInForce::Fok);
        self.core.state.insert(order_id, request);
        self.core.state.stats.orders_sent += 1;
        let req = Req { method: "POST", path: ORDERS_PATH, query: "", body: &body, cost: limits::NEW_ORDER };
        let sent = self.signed_resyncing(acct, req);
        self.body = body;
        let result = match sent {
            Ok(resp) if resp.status == 200 => match envelope(&resp) {
                Some(env) if env.is_ok() => match parse_ack(&env.data) {
                    Some((kucoin_id, _)) => {
                        let id = venue_order_id(&kucoin_id);
                        self.kucoin_ids.insert(order_id, kucoin_id);
                        if deferred_accept {
                            if let Some(o) = self.core.state.get_mut(&order_id) {
                                o.venue_order_id = id;
                            }
                            self.core.state.schedule(order_id, QueryReason::Gap, ACK_QUERY_DELAY);
                            Ok(())
                        } else {
                            self.core.state.ensure_accepted(order_id, id, WallClock.now())
                        }
                    }
                    None => self.unknown_fate(order_id, &resp),
                },
                Some(env) => {
                    let reason = reject_reason(resp.status, env.code_num(), &env.msg);
                    log::info!("kucoin gateway: order {order_id} rejected: code {}, {:?}", env.code, env.msg);
                    self.core.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
                }
                None => self.unknown_fate(order_id, &resp),
            },
            Ok(resp) if resp.status >= 500 => {
                self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp);
                let reason = reject_reason(resp.status, code, &msg);
                log::info!("kucoin gateway: order {order_id} rejected: HTTP {}, code {code}, {msg:?}", resp.status);
                self.core.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
            }
            Err(e) if !e.sent => {
                self.core.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            // Sent, unanswered (a timeout, a dropped connection): queried, never resent.
            Err(_) => {
                self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
        };
        self.tidy(order_id);
        result
    }

    /// An answer to a new order that cannot be read: counted, the order queried.
    #[cold]
    fn unknown_fate(&mut self, order_id: OrderId, resp: &Response) -> Result<(), ReportsClosed> {
        self.core.state.stats.malformed += 1;
        log::warn!("kucoin gateway: order {order_id}: unreadable answer: {}", resp.body_excerpt());
        self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
        Ok(())
    }

    /// Cancel by `clientOid` (`DELETE /api/v1/hf/orders/client-order/{clientOid}?symbol=`):
    /// the answer only says the request was taken; the `canceled` push reports the cancel.
    fn on_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
    ) -> Result<(), ReportsClosed> {
        let reject = |g: &mut Self, reason| g.core.state.reject_cancel(order_id, account, instrument, reason);
        let (Some(acct), Some(&idx)) = (self.core.account(account), self.by_id.get(&instrument)) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if !self.admit(acct, limits::CANCEL) {
            return reject(self, RejectReason::RateLimited);
        }
        let path = self.client_oid_path(order_id);
        let query = format!("symbol={}", self.instruments[idx].symbol());
        self.core.state.stats.cancel_requests += 1;
        let req = Req { method: "DELETE", path: &path, query: &query, body: "", cost: limits::CANCEL };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if is_ok(&resp) => Ok(()),
            Ok(resp) if resp.status >= 500 || (resp.status == 200 && envelope(&resp).is_none()) => {
                self.cancel_unknown(order_id, reject)
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp);
                log::info!("kucoin gateway: cancel of {order_id} refused: HTTP {}, code {code}, {msg:?}", resp.status);
                let reason = if is_unknown_order(code, &msg) {
                    RejectReason::UnknownOrder
                } else {
                    reject_reason(resp.status, code, &msg)
                };
                reject(self, reason)
            }
            Err(e) if e.sent => self.cancel_unknown(order_id, reject),
            Err(_) => reject(self, RejectReason::Other),
        }
    }

    /// A cancel whose fate is unknown: the order is queried (a cancel-rejected if it is still
    /// working then); an order not live here is refused at once.
    fn cancel_unknown(
        &mut self,
        order_id: OrderId,
        reject: impl FnOnce(&mut Self, RejectReason) -> Result<(), ReportsClosed>,
    ) -> Result<(), ReportsClosed> {
        if self.core.state.contains(&order_id) {
            self.core.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
            Ok(())
        } else {
            reject(self, RejectReason::Other)
        }
    }

    /// Cancel-all: `DELETE /api/v1/hf/orders?symbol=` for the instrument, or for each one the
    /// gateway trades. Their `canceled` pushes report the orders.
    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(acct) = self.core.account(account) else {
            log::warn!("kucoin gateway: cancel-all for unknown account {account}");
            return;
        };
        let targets: Vec<usize> = match instrument {
            Some(id) => self.by_id.get(&id).copied().into_iter().collect(),
            None => (0..self.instruments.len()).collect(),
        };
        for idx in targets {
            let query = format!("symbol={}", self.instruments[idx].symbol());
            if !self.admit(acct, limits::CANCEL_ALL) {
                log::warn!("kucoin gateway: cancel-all ({query}) skipped: rate limited");
                continue;
            }
            self.core.state.stats.cancel_requests += 1;
            let req = Req { method: "DELETE", path: ORDERS_PATH, query: &query, body: "", cost: limits::CANCEL_ALL };
            if let Ok(resp) = self.signed_resyncing(acct, req)
                && !is_ok(&resp)
            {
                let (code, msg) = api_error(&resp);
                log::warn!("kucoin gateway: cancel-all ({query}): HTTP {}, code {code}, {msg:?}", resp.status);
            }
        }
    }
}

#[cfg(test)]
mod tests;
