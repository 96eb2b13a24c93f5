//! The REST side every signed-REST gateway on the kit shares ([`RestLink`]): the keep-alive
//! client, the rate limiter, the venue's clock (estimated, re-estimated, shared with the stream
//! threads) and the sending of one signed request ([`Req`]) paced by the limiter; and
//! [`signed_resyncing`], which sends a request once more after a re-estimate of the venue's
//! clock when the venue refused its timestamp. A venue's gateway keeps what is its own: how it
//! signs, what its answers say about limits and timestamps.
//!
//! A venue that signs a strictly increasing nonce carried in the body instead of a timestamp
//! (Kraken) gives its link a [`NonceHook`] ([`RestLink::set_nonces`]): each request is then
//! signed with the account's next nonce, issued after the limiter's pacing, and its form body
//! goes out as `nonce=<n>&<body>` ([`nonce_first`]); pacing, health and the answer's lessons
//! are the same as for every venue.
//!
//! Runs on the gateway thread; each request blocks it for at most the request timeout.
//! Allocates per request.

use crate::kit::config::GatewayConfig;
use crate::kit::http::{HttpsClient, Response, TransportError};
use crate::kit::rate_limit::{Cost, Decision, LimitRule, RateLimiter};
use crate::kit::stats::GatewayStats;
use crate::kit::time_sync::TimeSync;
use crate::sign::{RequestSigner, RestRequest};
use qt_core::stats::StatsHandle;
use qt_core::stats::blocks::GatewayClockStats;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

/// One signed request: a GET's `query`, a POST's `body`, and what it costs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Req<'a> {
    pub(crate) method: &'static str,
    /// The path (Firi's carry order ids and markets).
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a str,
    pub(crate) cost: Cost,
}

/// A venue's REST connection, limits and clock.
pub(crate) struct RestLink {
    pub(crate) http: HttpsClient,
    pub(crate) limits: RateLimiter,
    pub(crate) time: TimeSync,
    /// The venue's clock minus ours, shared with the stream threads (their logins).
    pub(crate) offset: Arc<AtomicI64>,
    clock_stats: Option<StatsHandle<GatewayClockStats>>,
    /// The venue's name in logs (`bybit`, `okx`).
    venue: &'static str,
    server_time: fn(&mut HttpsClient) -> Result<i64, String>,
    /// Where each account's next nonce comes from, for a venue that signs nonces; `None`:
    /// requests are signed with the venue time.
    nonces: Option<Box<dyn NonceHook>>,
}

/// A nonce-signing venue's source of nonces ([`RestLink::set_nonces`]).
pub(crate) trait NonceHook: Send {
    /// Runs `send` with account `acct`'s next nonce, keeping the key's nonces in order (no
    /// other nonce of the key may reach the venue first) until it returns. An error: no nonce
    /// could be issued (its journal failed); nothing was sent.
    fn with_nonce(
        &self,
        acct: usize,
        send: &mut dyn FnMut(u64) -> Result<Response, TransportError>,
    ) -> Result<Response, TransportError>;
}

/// A nonce venue's form body: `nonce=<n>`, then `&body` unless it is empty.
pub(crate) fn nonce_first(nonce: i64, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 28);
    out.push_str("nonce=");
    out.push_str(&nonce.to_string());
    if !body.is_empty() {
        out.push('&');
        out.push_str(body);
    }
    out
}

impl RestLink {
    /// What the client's requests came to (the health reporter reads it).
    pub(crate) fn outcomes(&self) -> &crate::kit::health::RequestOutcomes {
        &self.http.outcomes
    }

    /// One unsigned request to the venue's time endpoint, unless the limiter is backing off:
    /// the health probe ([`crate::kit::thread::VenueGateway::probe`]).
    pub(crate) fn probe(&mut self) {
        if self.limits.backing_off(Instant::now()) {
            return;
        }
        if let Err(e) = (self.server_time)(&mut self.http) {
            log::debug!("{} gateway: health probe: {e}", self.venue);
        }
    }

    /// `http` to the venue of `cfg`, limited by `rules`; `server_time` asks the venue's clock.
    pub(crate) fn new(
        cfg: &GatewayConfig,
        http: HttpsClient,
        rules: &'static [LimitRule],
        venue: &'static str,
        server_time: fn(&mut HttpsClient) -> Result<i64, String>,
    ) -> Self {
        Self {
            http,
            limits: RateLimiter::new(rules, cfg.accounts.len()),
            time: TimeSync::new(cfg.clock.clone(), cfg.time_sync_every),
            offset: Arc::new(AtomicI64::new(0)),
            clock_stats: cfg.clock_stats.clone(),
            venue,
            server_time,
            nonces: None,
        }
    }

    /// Signs every request with a nonce from `hook` instead of the venue time.
    pub(crate) fn set_nonces(&mut self, hook: Box<dyn NonceHook>) {
        self.nonces = Some(hook);
    }

    /// Whether requests are signed with nonces ([`Self::set_nonces`]).
    pub(crate) fn signs_nonces(&self) -> bool {
        self.nonces.is_some()
    }

    /// Estimates the venue's clock (best of several samples); on failure the last estimate
    /// stays. False when the rate limiter is backing off: the estimate stays due.
    #[cold]
    pub(crate) fn sync_time(&mut self, now: Instant, stats: &mut GatewayStats) -> bool {
        if self.limits.backing_off(now) {
            return false;
        }
        let (http, server_time) = (&mut self.http, self.server_time);
        match self.time.sync(now, || server_time(http)) {
            Ok(e) => {
                self.offset.store(e.offset_ms, Ordering::Relaxed);
                stats.note_clock(e.offset_ms, self.clock_stats.as_ref());
                log::debug!(
                    "{} gateway: venue clock offset {} ms (round trip {} ms)",
                    self.venue,
                    e.offset_ms,
                    e.rtt_ms
                );
            }
            Err(e) => log::warn!("{} gateway: venue clock not re-estimated: {e}", self.venue),
        }
        true
    }

    /// Whether a request of `cost` for account `acct` may be sent now.
    pub(crate) fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.limits.check(Instant::now(), acct, self.time.venue_ms(), cost) != Decision::Refuse
    }

    /// Sends `req` for account `acct` through `send` (given the client and what to sign with:
    /// the venue time, or with a [`NonceHook`] the account's next nonce, issued after the
    /// pacing), paced near a limit; counts and logs a transport error. Returns the answer
    /// and the venue time it was sent at.
    pub(crate) fn send(
        &mut self,
        acct: usize,
        req: Req<'_>,
        stats: &mut GatewayStats,
        send: impl FnOnce(&mut HttpsClient, i64) -> Result<Response, TransportError>,
    ) -> (Result<Response, TransportError>, i64) {
        if let Decision::Pace(wait) = self.limits.check(Instant::now(), acct, self.time.venue_ms(), req.cost) {
            std::thread::sleep(wait);
        }
        let venue_ms = self.time.venue_ms();
        self.limits.spend(acct, venue_ms, req.cost);
        let result = match &self.nonces {
            None => send(&mut self.http, venue_ms),
            Some(hook) => {
                let (http, mut send) = (&mut self.http, Some(send));
                let mut with = |nonce: u64| match send.take() {
                    Some(f) => f(http, i64::try_from(nonce).unwrap_or(i64::MAX)),
                    None => Err(TransportError { sent: false, timed_out: false, reason: "sent already".into() }),
                };
                hook.with_nonce(acct, &mut with)
            }
        };
        if let Err(e) = &result {
            stats.transport_errors += 1;
            log::warn!("{} gateway: {} {}{}: {e}", self.venue, req.method, self.http.endpoint().url, req.path);
        }
        (result, venue_ms)
    }

    /// What every answer teaches: the limiter learns from `header` (a rate-limit refusal is
    /// `status` 429: a back-off), a 5xx is counted, the order rule's peak noted, and a
    /// refused timestamp (`timestamp_reject`) counted and the clock estimate expired.
    #[allow(clippy::too_many_arguments, reason = "what one answer says")]
    pub(crate) fn note(
        &mut self,
        acct: usize,
        venue_ms: i64,
        resp: &Response,
        status: u16,
        header: impl Fn(&str) -> Option<String>,
        (code, timestamp_reject): (i64, bool),
        order_rule: usize,
        stats: &mut GatewayStats,
    ) {
        if let Some(wait) = self.limits.on_response(Instant::now(), acct, venue_ms, status, header) {
            stats.rate_limited += 1;
            log::warn!(
                "{} gateway: rate limited (HTTP {}, code {code}); not sending for {wait:?}",
                self.venue,
                resp.status
            );
        } else if resp.status >= 500 {
            stats.transport_errors += 1;
            log::warn!("{} gateway: HTTP {} from the venue: {}", self.venue, resp.status, resp.body_excerpt());
        }
        stats.max_used_weight = self.limits.max_used(order_rule);
        if timestamp_reject {
            stats.note_timestamp_reject(self.clock_stats.as_ref());
            self.time.expire();
        }
    }
}

/// Sends `method` `path` signed by `signer` at venue time `venue_ms` (the timestamp each venue's
/// signer turns into its own form): a GET with `query`, a POST with the JSON `body`. A signing
/// failure (never expected: the credentials were validated) is a transport error that was not
/// sent.
pub(crate) fn send_signed(
    http: &mut HttpsClient,
    signer: &dyn RequestSigner,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    venue_ms: i64,
) -> Result<Response, TransportError> {
    let ts = venue_ms.max(0).to_string();
    let req = RestRequest { timestamp: &ts, method, path, query, body };
    let signed = signer.sign_rest(&req).map_err(|e| TransportError {
        sent: false,
        timed_out: false,
        reason: format!("signing: {e}"),
    })?;
    let headers: Vec<(&str, &str)> = signed.headers.iter().map(|(k, v)| (*k, v.expose())).collect();
    // The signer's query: the one given, or with what the venue wants beside the signature
    // (Firi's `timestamp` and `validity`).
    http.request_with_body(method, path, &signed.query, &headers, body.as_bytes())
}

/// A gateway that sends signed requests over a [`RestLink`]: it gives its parts and reads its
/// venue's answers; sending, pacing and the resend after a timestamp refusal are the kit's.
pub(crate) trait SignedRest {
    /// The venue's name in logs.
    const VENUE: &'static str;
    /// The link, the stats, and account `acct`'s signer (`None`: no such account).
    fn parts(&mut self, acct: usize) -> Option<(&mut RestLink, &mut GatewayStats, &dyn RequestSigner)>;
    /// The link and the stats.
    fn link_stats(&mut self) -> (&mut RestLink, &mut GatewayStats);
    /// Learns from the answer to `req` (signed at `venue_ms`): its limits, a refused timestamp
    /// ([`RestLink::note`]).
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, req: Req<'_>);
    /// Whether the venue refused the request's timestamp (checked before anything is done).
    fn is_timestamp_reject(resp: &Response) -> bool;

    /// Sends a signed request for account `acct` (paced near a limit) and notes the answer.
    fn signed(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        let Some((link, stats, signer)) = self.parts(acct) else {
            return Err(TransportError { sent: false, timed_out: false, reason: "no such account".into() });
        };
        let nonces = link.signs_nonces();
        let (result, venue_ms) = link.send(acct, req, stats, |http, stamp| {
            if nonces {
                let body = nonce_first(stamp, req.body);
                return send_signed(http, signer, req.method, req.path, req.query, &body, stamp);
            }
            send_signed(http, signer, req.method, req.path, req.query, req.body, stamp)
        });
        if let Ok(resp) = &result {
            self.note_answer(acct, venue_ms, resp, req);
        }
        result
    }

    /// Re-estimates the venue's clock ([`RestLink::sync_time`]).
    fn sync_time(&mut self, now: Instant) -> bool {
        let (link, stats) = self.link_stats();
        link.sync_time(now, stats)
    }
}

/// [`SignedRest::signed`], sent once more after a re-estimate of the venue's clock if the venue
/// refused its timestamp (the second try carries the same client order id).
pub(crate) fn signed_resyncing<G: SignedRest>(
    g: &mut G,
    acct: usize,
    req: Req<'_>,
) -> Result<Response, TransportError> {
    let first = g.signed(acct, req);
    match &first {
        Ok(resp) if G::is_timestamp_reject(resp) => {
            g.sync_time(Instant::now());
            let second = g.signed(acct, req);
            if let Ok(resp) = &second
                && G::is_timestamp_reject(resp)
            {
                let offset = g.link_stats().0.time.offset_ms();
                log::error!(
                    "{} gateway: {} {}: the venue refused the timestamp again after a re-sync (offset {offset} \
                     ms): {}",
                    G::VENUE,
                    req.method,
                    req.path,
                    resp.body_excerpt()
                );
            }
            second
        }
        _ => first,
    }
}
