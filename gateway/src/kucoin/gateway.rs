//! The KuCoin gateway thread `qt-gw-kucoin`: [`spawn`], and KuCoin's side of the kit's
//! gateway loop ([`crate::kit::thread`]) — [`OrderCommand`]s become signed HF REST requests,
//! and the private stream's `orderChange` pushes become [`ExecutionReport`]s.
//!
//! The loop, the per-order record with its fill de-duplication, the reports and the
//! reconciliation schedule are the kit's; the stream threads are the kit's too, driven by
//! [`PrivateStream`]. Each REST request blocks the thread for at most the configured timeout.
//! Allocates per request and per frame (JSON). Never panics on venue input.
//!
//! Split by role: this file holds start-up, requests and commands; `gateway/stream_events.rs`
//! the `orderChange` pushes and the fills (with their fees) they fetch; `gateway/reconcile.rs`
//! the order queries.

mod reconcile;
mod stream_events;

use crate::kit::http::{HttpsClient, Response, TransportError, server_name, tls_config};
use crate::kit::order_state::{OrderState, QueryReason, ReportsClosed};
use crate::kit::private_stream::{self, StreamMsg, StreamThreads, WsTarget};
use crate::kit::rate_limit::Cost;
use crate::kit::rest_link::{Req, RestLink, SignedRest, signed_resyncing};
use crate::kit::stats::GatewayStats;
use crate::kit::thread::{self, Inputs, VenueGateway};
use crate::kucoin::VENUE_NAME;
use crate::kucoin::account::{passphrase, validate};
use crate::kucoin::errors::reject_reason;
use crate::kucoin::errors::{CODE_RATE_LIMIT, CODE_TIMESTAMP, GatewayError, is_auth_refusal, is_unknown_order};
use crate::kucoin::limits;
use crate::kucoin::orders::{parse_ack, write_order_body};
use crate::kucoin::private_stream::{BULLET_PATH, PrivateStream};
use crate::kucoin::rest::{KucoinKey, envelope, venue_order_id};
use crate::kucoin::server_time::server_time;
use crate::sign::RequestSigner;
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, ClientOrderId, Clock as _, ExecutionReport, Instrument, InstrumentId, OrderCommand, OrderId,
    OrderRequest, RejectReason, ReportKind, TimeInForce, WallClock,
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

/// Starts the KuCoin gateway thread. Before it returns: validates `cfg` (all problems at
/// once), estimates the venue's clock, opens each account's private stream (token, connection,
/// subscription acknowledged) and starts one stream thread per account. The returned thread
/// runs until `stop` is set, the order ring is abandoned (and drained) or the report ring's
/// consumer is gone.
pub fn spawn(
    cfg: crate::kit::config::GatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let (rest, ws) = validate(&cfg)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let config_error =
        |m: String| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] };
    let rest_name = server_name(&rest, cfg.server_name.as_deref()).map_err(config_error)?;
    let ws_name = server_name(&ws, cfg.server_name.as_deref()).map_err(config_error)?;
    let rest_url = rest.url.clone();
    let target = WsTarget { endpoint: ws, name: ws_name, tls: tls.clone(), timeout: cfg.request_timeout };
    let http = HttpsClient::new(rest.clone(), rest_name.clone(), tls.clone(), cfg.request_timeout);

    // The venue's clock first: the token request and every signature use it.
    let mut gateway = Gateway::new(&cfg, http, reports)?;
    gateway.sync_time(Instant::now());

    let (tx, rx) = private_stream::channel();
    let mut streams = StreamThreads::new();
    for (i, (account, api_key, secret)) in cfg.accounts.iter().enumerate() {
        let key = KucoinKey::new(api_key, secret, passphrase(&cfg, *account))
            .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })?;
        let token_http = HttpsClient::new(rest.clone(), rest_name.clone(), tls.clone(), cfg.request_timeout);
        let mut session = PrivateStream::new(
            *account,
            key,
            token_http,
            target.clone(),
            cfg.clock.clone(),
            gateway.link.offset.clone(),
        );
        let ws = match crate::kit::private_stream::StreamSession::open(&mut session) {
            Ok(ws) => ws,
            Err(reason) => {
                streams.stop(VENUE_NAME);
                return Err(stream_error(*account, &rest_url, reason));
            }
        };
        log::info!("kucoin gateway: account {account} private stream open");
        let name = format!("qt-gw-kucoin-ps{i}");
        if let Err(source) = streams.spawn(name.clone(), session, i, ws, tx.clone()) {
            streams.stop(VENUE_NAME);
            return Err(GatewayError::Spawn { name, source });
        }
    }
    drop(tx);

    let health = crate::kit::health::HealthReporter::new(cfg.venue, VENUE_NAME, cfg.control.clone());
    let mut inputs = Inputs { orders, stream: rx, health };
    let spawned = std::thread::Builder::new().name("qt-gw-kucoin".into()).spawn(move || {
        thread::run(&mut gateway, &mut inputs, &stop, VENUE_NAME);
        streams.stop(VENUE_NAME);
        log::info!("kucoin gateway: stopped; {:?}", gateway.state.stats);
        gateway.state.stats
    });
    spawned.map_err(|source| GatewayError::Spawn { name: "qt-gw-kucoin".into(), source })
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

/// One account of the gateway.
struct Account {
    id: AccountId,
    key: KucoinKey,
}

/// The gateway thread's state.
pub(crate) struct Gateway {
    run_id: u32,
    instruments: Vec<Instrument>,
    by_id: HashMap<InstrumentId, usize>,
    by_symbol: HashMap<String, usize>,
    accounts: Vec<Account>,
    account_index: HashMap<AccountId, usize>,
    /// KuCoin's order id (96 bits, text) of each live order, once known (an ack, a push, a
    /// query): what `hf/fills` is asked by.
    kucoin_ids: HashMap<OrderId, String>,
    pub(crate) state: OrderState,
    /// The REST client, limits and the venue's clock.
    pub(crate) link: RestLink,
    /// The order body buffer, reused.
    body: String,
}

impl VenueGateway for Gateway {
    fn on_command(&mut self, cmd: OrderCommand) -> Result<(), ReportsClosed> {
        match cmd {
            OrderCommand::New { order_id, request, .. } => self.on_new(order_id, request),
            OrderCommand::Cancel { order_id, account, instrument } => self.on_cancel(order_id, account, instrument),
            OrderCommand::CancelAll { account, instrument } => {
                self.on_cancel_all(account, instrument);
                Ok(())
            }
        }
    }

    fn on_stream(&mut self, msg: StreamMsg) -> Result<(), ReportsClosed> {
        Gateway::on_stream(self, msg)
    }

    fn on_timers(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let synced = self.link.time.due(now) && self.sync_time(now);
        Ok(usize::from(synced) + self.run_due_reconciles(now)?)
    }

    fn finish(&mut self) {
        self.state.log_unreconciled("kucoin");
    }

    fn requests(&self) -> &crate::kit::health::RequestOutcomes {
        self.link.outcomes()
    }

    /// One `GET /api/v1/timestamp` (unsigned), unless the limiter is backing off.
    fn probe(&mut self) {
        self.link.probe();
    }

    fn stats(&mut self) -> &mut GatewayStats {
        &mut self.state.stats
    }
}

impl SignedRest for Gateway {
    const VENUE: &'static str = "kucoin";

    fn parts(&mut self, acct: usize) -> Option<(&mut RestLink, &mut GatewayStats, &dyn RequestSigner)> {
        let signer = self.accounts.get(acct)?.key.signer();
        Some((&mut self.link, &mut self.state.stats, signer))
    }

    fn link_stats(&mut self) -> (&mut RestLink, &mut GatewayStats) {
        (&mut self.link, &mut self.state.stats)
    }

    /// KuCoin's 429000 (HTTP 429, or 200 from some gateways) backs off as a 429; 400002 is a
    /// refused timestamp.
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, _req: Req<'_>) {
        let code = envelope(resp).map_or(0, |e| e.code_num());
        let status = if code == CODE_RATE_LIMIT { 429 } else { resp.status };
        let header = |name: &str| resp.header(name).map(str::to_string);
        self.link.note(
            acct,
            venue_ms,
            resp,
            status,
            header,
            (code, code == CODE_TIMESTAMP),
            limits::ORDER_RULE,
            &mut self.state.stats,
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
        cfg: &crate::kit::config::GatewayConfig,
        http: HttpsClient,
        reports: Producer<ExecutionReport>,
    ) -> Result<Self, GatewayError> {
        let instruments = cfg.instruments.clone();
        let by_id = instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect();
        let by_symbol = instruments.iter().enumerate().map(|(i, inst)| (inst.symbol().to_string(), i)).collect();
        let mut accounts = Vec::new();
        for (id, key, secret) in &cfg.accounts {
            let key = KucoinKey::new(key, secret, passphrase(cfg, *id))
                .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })?;
            accounts.push(Account { id: *id, key });
        }
        let account_index = accounts.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        Ok(Self {
            run_id: cfg.run_id,
            instruments,
            by_id,
            by_symbol,
            accounts,
            account_index,
            kucoin_ids: HashMap::new(),
            state: OrderState::new(cfg.venue, reports),
            link: RestLink::new(cfg, http, limits::RULES, "kucoin", server_time),
            body: String::with_capacity(256),
        })
    }

    // ---- requests ------------------------------------------------------------------------

    /// Whether a request of `cost` for account `acct` may be sent now.
    fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.link.admit(acct, cost)
    }

    fn signed_resyncing(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        signed_resyncing(self, acct, req)
    }

    /// Forgets what is kept of `order_id` beside the kit's record once that is gone.
    pub(crate) fn tidy(&mut self, order_id: OrderId) {
        if !self.state.contains(&order_id) {
            self.kucoin_ids.remove(&order_id);
        }
    }

    /// The path naming `order_id` by its `clientOid`.
    fn client_oid_path(&self, order_id: OrderId) -> String {
        format!("{BY_CLIENT_OID}{}", ClientOrderId::new(self.run_id, order_id).as_str())
    }

    // ---- commands ------------------------------------------------------------------------

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        let account = self.account_index.get(&request.account).copied();
        let inst = self.by_id.get(&request.instrument).copied();
        let local_reject = match (account, inst) {
            (_, None) => Some(RejectReason::UnknownInstrument),
            (None, _) => Some(RejectReason::Other),
            (Some(_), _) if !self.state.may_send(request.account) => Some(RejectReason::PrivateStreamDown),
            (Some(acct), _) if !self.admit(acct, limits::NEW_ORDER) => Some(RejectReason::RateLimited),
            _ => None,
        };
        let (Some(acct), Some(idx), None) = (account, inst, local_reject) else {
            let reason = local_reject.unwrap_or(RejectReason::Other);
            log::warn!("kucoin gateway: order {order_id} refused before sending: {reason:?}");
            return self.state.reject_unsent(order_id, &request, reason);
        };
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        write_order_body(&mut body, &self.instruments[idx], order_id, self.run_id, &request);
        // A post-only or FOK order may still be cancelled by the matcher after the ack (the
        // ack only says "received"): `Accepted` waits for the stream to show it working.
        let deferred_accept = matches!(request.tif, TimeInForce::PostOnly | TimeInForce::Fok);
        self.state.insert(order_id, request);
        self.state.stats.orders_sent += 1;
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
                            if let Some(o) = self.state.get_mut(&order_id) {
                                o.venue_order_id = id;
                            }
                            self.state.schedule(order_id, QueryReason::Gap, ACK_QUERY_DELAY);
                            Ok(())
                        } else {
                            self.state.ensure_accepted(order_id, id, WallClock.now())
                        }
                    }
                    None => self.unknown_fate(order_id, &resp),
                },
                Some(env) => {
                    let reason = reject_reason(resp.status, env.code_num(), &env.msg);
                    log::info!("kucoin gateway: order {order_id} rejected: code {}, {:?}", env.code, env.msg);
                    self.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
                }
                None => self.unknown_fate(order_id, &resp),
            },
            Ok(resp) if resp.status >= 500 => {
                self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp);
                let reason = reject_reason(resp.status, code, &msg);
                log::info!("kucoin gateway: order {order_id} rejected: HTTP {}, code {code}, {msg:?}", resp.status);
                self.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
            }
            Err(e) if !e.sent => {
                self.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            // Sent, unanswered (a timeout, a dropped connection): queried, never resent.
            Err(_) => {
                self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
        };
        self.tidy(order_id);
        result
    }

    /// An answer to a new order that cannot be read: counted, the order queried.
    #[cold]
    fn unknown_fate(&mut self, order_id: OrderId, resp: &Response) -> Result<(), ReportsClosed> {
        self.state.stats.malformed += 1;
        log::warn!("kucoin gateway: order {order_id}: unreadable answer: {}", resp.body_excerpt());
        self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
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
        let reject = |g: &mut Self, reason| g.state.reject_cancel(order_id, account, instrument, reason);
        let (Some(&acct), Some(&idx)) = (self.account_index.get(&account), self.by_id.get(&instrument)) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if !self.admit(acct, limits::CANCEL) {
            return reject(self, RejectReason::RateLimited);
        }
        let path = self.client_oid_path(order_id);
        let query = format!("symbol={}", self.instruments[idx].symbol());
        self.state.stats.cancel_requests += 1;
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
        if self.state.contains(&order_id) {
            self.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
            Ok(())
        } else {
            reject(self, RejectReason::Other)
        }
    }

    /// Cancel-all: `DELETE /api/v1/hf/orders?symbol=` for the instrument, or for each one the
    /// gateway trades. Their `canceled` pushes report the orders.
    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(&acct) = self.account_index.get(&account) else {
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
            self.state.stats.cancel_requests += 1;
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
