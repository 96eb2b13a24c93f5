//! Firi account balances: signed `GET /v2/balances` (`currency`, `hold`, `available` — the
//! legacy SDK's fields, [`crate::firi::wire::parse_balances`]) in the shapes every venue's
//! helper answers with, so `qt run` reconciles Firi like the others. Firi is spot only: no
//! positions.
//!
//! Thread: a cold helper on its own connection, never the gateway's loop. Blocks for up to the
//! request timeout per request; allocates. A refusal of the account's credentials is
//! [`GatewayError::AuthRejected`] naming the account; signed headers are never logged.

pub use crate::bybit::account::{AccountBalances, Balance};
use crate::firi::errors::{GatewayError, is_auth_refusal};
use crate::firi::gateway::validate;
use crate::firi::rest::{FiriKey, refusal, server_time};
use crate::firi::wire::parse_balances;
use crate::firi::{FiriGatewayConfig, VENUE_NAME};
use crate::kit::http::{HttpsClient, server_name, tls_config};
use crate::kit::rest_link::send_signed;
use crate::kit::shell::AccountKey;
use crate::kit::time_sync::TimeSync;
use std::time::Instant;

/// The balance endpoint.
pub const BALANCES_PATH: &str = "/v2/balances";

/// Every account's balances now, in `cfg.kit.accounts` order.
pub fn query_balances(cfg: &FiriGatewayConfig) -> Result<Vec<AccountBalances>, GatewayError> {
    let (rest, _) = validate(cfg)?;
    let kit = &cfg.kit;
    let tls = tls_config(kit.ca_file.as_deref())?;
    let name = server_name(&rest, kit.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
    let url = format!("{}{BALANCES_PATH}", rest.url);
    let mut http = HttpsClient::new(rest, name, tls, kit.request_timeout);
    let mut time = TimeSync::new(kit.clock.clone(), kit.time_sync_every);
    if let Err(e) = time.sync(Instant::now(), || server_time(&mut http)) {
        log::warn!("firi: venue clock not synced, signing with the local clock: {e}");
    }
    let mut out = Vec::with_capacity(kit.accounts.len());
    for (account, client_id, secret) in &kit.accounts {
        let key = FiriKey::new(client_id, secret);
        let resp = send_signed(&mut http, key.signer(), "GET", BALANCES_PATH, "", "", time.venue_ms())
            .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
        if resp.status != 200 {
            let r = refusal(&resp);
            let refused = is_auth_refusal(resp.status, &r);
            let msg = format!("{} {}", r.name, r.message);
            let err = GatewayError::Venue { method: "GET", url: url.clone(), status: resp.status, code: 0, msg };
            return Err(if refused { err.for_account(*account, |_, _| true) } else { err });
        }
        let body: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|_| GatewayError::BadAnswer {
            method: "GET",
            url: url.clone(),
            body: resp.body_excerpt(),
        })?;
        let balances = parse_balances(&body).map_err(|e| GatewayError::BadAnswer {
            method: "GET",
            url: url.clone(),
            body: format!("{e}: {}", resp.body_excerpt()),
        })?;
        out.push(AccountBalances { account: *account, update_time_ms: 0, balances });
    }
    Ok(out)
}
