//! `[[venues]]` and where strategies trade: each venue checked against its registry entry
//! ([`crate::venues`]) — market data on every venue, orders only where a gateway exists. A
//! configuration that would place orders on a venue without one (a strategy's instrument, an
//! account's venue chain or API keys) is refused here, naming the field.

use super::{Problems, RawConfig, RawStrategy, StrategyPlan, VenuePlan};
use qt_core::routing::Siblings;
use qt_core::{AccountId, Instrument, InstrumentId, InstrumentRegistry, Venue, VenueId};

/// Where orders may be routed: the canonical instruments and each account's chain.
pub(super) struct Routes<'a> {
    pub(super) siblings: &'a Siblings,
    pub(super) chains: &'a [Vec<VenueId>],
}

/// Whether orders can be placed on `venue` in this build (the built-in simulated venue, or a
/// venue whose registry entry has a gateway).
pub(super) fn can_trade(venue: Venue) -> bool {
    venue == Venue::Sim || crate::venues::entry(venue).is_some_and(|e| e.gateway.is_some())
}

/// Why `venue` cannot take orders.
pub(super) fn no_gateway(venue: Venue) -> String {
    format!(
        "{venue} has no order gateway in this build (orders: {}); it can serve market data, e.g. as a strategy's signal_venue",
        crate::venues::names(|e| e.gateway.is_some())
    )
}

/// The instrument `strategies[i]` trades: its symbol (on its `venue`, if given), listed once —
/// or listed at several venues as one canonical instrument, where the first listing stands for
/// it (the router picks the venue per order) — on a venue that takes orders.
pub(super) fn strategy_instrument<'a>(
    p: &mut Problems,
    path: &str,
    rs: &RawStrategy,
    instruments: &'a InstrumentRegistry,
    siblings: &Siblings,
) -> Option<&'a Instrument> {
    let found: Vec<&Instrument> =
        instruments.iter().filter(|x| x.symbol() == rs.instrument && rs.venue.is_none_or(|v| x.venue() == v)).collect();
    let one_canonical = |several: &[&Instrument]| {
        let group = siblings.of(several[0].id());
        several.iter().all(|x| group.contains(&x.id()))
    };
    let inst = match found.as_slice() {
        [one] => *one,
        several if several.len() > 1 && one_canonical(several) => several[0],
        [] => {
            let on = rs.venue.map_or(String::new(), |v| format!(" on {v}"));
            p.add(format!("{path}.instrument"), format!("{:?} is not a configured instrument{on}", rs.instrument));
            return None;
        }
        several => {
            let venues: Vec<&str> = several.iter().map(|x| x.venue().name()).collect();
            p.add(
                format!("{path}.venue"),
                format!("{:?} is listed on {}: say which one this strategy trades", rs.instrument, venues.join(", ")),
            );
            return None;
        }
    };
    if !can_trade(inst.venue()) {
        let field = if rs.venue.is_some() { "venue" } else { "instrument" };
        p.add(
            format!("{path}.{field}"),
            format!("{:?} trades on {}: {}", rs.instrument, inst.venue(), no_gateway(inst.venue())),
        );
        return None;
    }
    Some(inst)
}

/// The instrument whose book `strategies[i]` reads when `signal_venue` is set: the one on that
/// venue with the traded instrument's base and quote.
pub(super) fn signal_instrument(
    p: &mut Problems,
    path: &str,
    rs: &RawStrategy,
    traded: &Instrument,
    instruments: &InstrumentRegistry,
) -> Option<InstrumentId> {
    let venue = rs.signal_venue?;
    let same_pair = |x: &&Instrument| x.venue() == venue && x.base() == traded.base() && x.quote() == traded.quote();
    match instruments.iter().find(same_pair) {
        Some(x) => Some(x.id()),
        None => {
            p.add(
                format!("{path}.signal_venue"),
                format!(
                    "no instrument on {venue} has base {:?} and quote {:?} like {:?}",
                    traded.base(),
                    traded.quote(),
                    rs.instrument
                ),
            );
            None
        }
    }
}

/// `[[venues]]`: each venue once, known to the registry, with the endpoints its feed (and
/// gateway) use; API keys only where orders can go.
pub(super) fn validate(
    p: &mut Problems,
    raw: &RawConfig,
    instruments: &InstrumentRegistry,
    strategies: &[StrategyPlan],
    routes: &Routes<'_>,
) -> Vec<VenuePlan> {
    let mut venues = Vec::new();
    for (i, rv) in raw.venues.iter().enumerate() {
        let path = format!("venues[{i}]");
        let Some(entry) = crate::venues::entry(rv.venue) else {
            p.add(
                format!("{path}.venue"),
                format!("{} is not a live venue (live venues: {})", rv.venue, crate::venues::names(|_| true)),
            );
            continue;
        };
        if raw.venues[..i].iter().any(|v| v.venue == rv.venue) {
            p.add(format!("{path}.venue"), format!("{} is listed twice", rv.venue));
        }
        let trades = entry.gateway.is_some();
        // A venue the configuration trades on (an account has keys there) needs both endpoints;
        // one read for market data only needs what its feed uses.
        let trading = trades && raw.accounts.iter().any(|a| a.keys.contains_key(rv.venue.name()));
        if (entry.endpoints.rest || trading) && !rv.rest_url.starts_with("https://") {
            p.add(format!("{path}.rest_url"), format!("{:?} must start with https://", rv.rest_url));
        }
        // Firi has no WebSocket at all: its gateway polls over REST.
        let private_ws = trading && rv.venue != Venue::Firi;
        if (entry.endpoints.ws || private_ws) && !rv.ws_url.starts_with("wss://") {
            p.add(format!("{path}.ws_url"), format!("{:?} must start with wss://", rv.ws_url));
        }
        if let Some(ca) = &rv.ca_file
            && !ca.is_file()
        {
            p.add(format!("{path}.ca_file"), format!("{} is not a readable file", ca.display()));
        }
        if rv.recv_window_ms == 0 || rv.recv_window_ms > 60_000 {
            p.add(format!("{path}.recv_window_ms"), format!("{} must be in 1..=60000", rv.recv_window_ms));
        }
        if rv.venue != Venue::Binance && rv.user_data.is_some() {
            p.add(format!("{path}.user_data"), "only binance (spot) has a choice of user data stream");
        }
        // Binance spot's WebSocket API; Kraken's private stream on its own host.
        if rv.ws_api_url.is_some() && !matches!(rv.venue, Venue::Binance | Venue::Kraken) {
            p.add(
                format!("{path}.ws_api_url"),
                "only binance (spot, its WebSocket API) and kraken (its private stream) use it",
            );
        }
        if let Some(u) = &rv.ws_api_url
            && !u.starts_with("wss://")
        {
            p.add(format!("{path}.ws_api_url"), format!("{u:?} must start with wss://"));
        }
        let listed: Vec<InstrumentId> = instruments.iter().filter(|x| x.venue() == rv.venue).map(|x| x.id()).collect();
        let here = Here { venue: rv.venue, id: VenueId(i as u16), listed: &listed };
        let keys = if trades { account_keys(p, raw, &here, strategies, routes) } else { Vec::new() };
        let passphrases = if trades { account_passphrases(p, raw, rv.venue, &keys) } else { Vec::new() };
        if !trades {
            for (a, ra) in raw.accounts.iter().enumerate() {
                if ra.keys.contains_key(rv.venue.name()) {
                    p.add(format!("accounts[{a}].keys.{}", rv.venue), no_gateway(rv.venue));
                }
            }
        }
        venues.push(VenuePlan {
            venue: rv.venue,
            rest_url: rv.rest_url.clone(),
            ws_url: rv.ws_url.clone(),
            ca_file: rv.ca_file.clone(),
            server_name: rv.server_name.clone(),
            recv_window_ms: rv.recv_window_ms,
            listen_key_only: rv.user_data == Some(super::raw::RawUserData::ListenKey),
            ws_api_url: rv.ws_api_url.clone(),
            keys,
            passphrases,
            instruments: listed,
        });
    }
    venues
}

/// One `[[venues]]` entry: which venue, its venue id, the instruments listed there.
pub(super) struct Here<'a> {
    pub(super) venue: Venue,
    pub(super) id: VenueId,
    pub(super) listed: &'a [InstrumentId],
}

/// The credentials of every account at `here` (a venue that takes orders): required of each
/// account with a strategy trading one of its instruments, or a sibling of one when the venue
/// is in the account's chain (the router may send its orders there).
pub(super) fn account_keys(
    p: &mut Problems,
    raw: &RawConfig,
    here: &Here<'_>,
    strategies: &[StrategyPlan],
    routes: &Routes<'_>,
) -> Vec<(AccountId, String, String)> {
    let (venue, listed) = (here.venue, here.listed);
    let mut keys = Vec::new();
    for (a, ra) in raw.accounts.iter().enumerate() {
        let in_chain = routes.chains.get(a).is_some_and(|c| c.contains(&here.id));
        let trades_here = strategies.iter().any(|s| {
            s.account.index() == a
                && (listed.contains(&s.instrument)
                    || (in_chain && routes.siblings.of(s.instrument).iter().any(|x| listed.contains(x))))
        });
        let Some(k) = ra.keys.get(venue.name()) else {
            if trades_here {
                p.add(format!("accounts[{a}].keys.{venue}"), "this account trades there but has no API key");
            }
            continue;
        };
        let kpath = format!("accounts[{a}].keys.{venue}");
        let mut resolve = |inline: &Option<String>, env: &Option<String>, field: &str| match (inline, env) {
            (Some(v), None) if !v.is_empty() => Some(v.clone()),
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Some(v),
                _ => {
                    p.add(format!("{kpath}.{field}_env"), format!("environment variable {var} is not set"));
                    None
                }
            },
            _ => {
                p.add(format!("{kpath}.{field}"), format!("give exactly one of {field} and {field}_env"));
                None
            }
        };
        let key = resolve(&k.api_key, &k.api_key_env, "api_key");
        let secret = resolve(&k.secret, &k.secret_env, "secret");
        if let (Some(key), Some(secret)) = (key, secret) {
            keys.push((AccountId(a as u16), key, secret));
        }
    }
    keys
}

/// The passphrases of the keys in `keys` at `venue`: `passphrase` or `passphrase_env`, at most
/// one; required where the venue's keys have one (OKX, KuCoin), refused where they do not.
pub(super) fn account_passphrases(
    p: &mut Problems,
    raw: &RawConfig,
    venue: Venue,
    keys: &[(AccountId, String, String)],
) -> Vec<(AccountId, String)> {
    let needed = matches!(venue, Venue::Okx | Venue::Kucoin);
    let mut out = Vec::new();
    for (account, _, _) in keys {
        let a = account.index();
        let Some(k) = raw.accounts.get(a).and_then(|ra| ra.keys.get(venue.name())) else { continue };
        let path = format!("accounts[{a}].keys.{venue}");
        let given = match (&k.passphrase, &k.passphrase_env) {
            (Some(v), None) if !v.is_empty() => Some(v.clone()),
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Some(v),
                _ => {
                    p.add(format!("{path}.passphrase_env"), format!("environment variable {var} is not set"));
                    continue;
                }
            },
            (None, None) => None,
            _ => {
                p.add(format!("{path}.passphrase"), "give at most one of passphrase and passphrase_env");
                continue;
            }
        };
        match (given, needed) {
            (Some(v), true) => out.push((*account, v)),
            (None, true) => p.add(format!("{path}.passphrase"), format!("{venue} keys need their passphrase")),
            (Some(_), false) => p.add(format!("{path}.passphrase"), format!("{venue} keys have no passphrase")),
            (None, false) => {}
        }
    }
    out
}
