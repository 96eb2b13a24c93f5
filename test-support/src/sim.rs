//! The venue simulator in the test's process: a server on loopback (ephemeral ports, one
//! listener per protocol) over a market of the test's choosing, with the CA file it writes at a
//! fresh path. Starting panics on failure (the test cannot go on).

use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::Market;
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::{ConnectionLimits, RunningServer, ServerConfig, VenueSimServer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fresh path for a simulator's CA file, in one directory of the system temp dir shared by all
/// test runs (`qt-sim-tests`); files there older than a day are removed the first time a
/// process asks.
pub fn fresh_ca_path() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    static PRUNED: std::sync::Once = std::sync::Once::new();
    let dir = std::env::temp_dir().join("qt-sim-tests");
    std::fs::create_dir_all(&dir).expect("create the test CA directory");
    PRUNED.call_once(|| {
        let day = Duration::from_secs(86_400);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > day);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    });
    dir.join(format!("ca-{}-{}.pem", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// A server configuration: `market`, no faults, each of `protocols` on 127.0.0.1 (an ephemeral
/// port), the CA at a [`fresh_ca_path`].
pub fn sim_config(market: Arc<Market>, protocols: Vec<Arc<dyn Protocol>>) -> ServerConfig {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    ServerConfig {
        market,
        faults: Faults::new(),
        protocols: protocols.into_iter().map(|p| (p, loopback)).collect(),
        ca_file: fresh_ca_path(),
    }
}

/// The simulator serving `protocol` over `market` ([`sim_config`]).
pub fn start_sim(market: Arc<Market>, protocol: Arc<dyn Protocol>) -> RunningServer {
    start_sim_serving(market, vec![protocol])
}

/// The simulator serving each of `protocols` over `market`.
pub fn start_sim_serving(market: Arc<Market>, protocols: Vec<Arc<dyn Protocol>>) -> RunningServer {
    start_sim_config(sim_config(market, protocols))
}

/// The simulator of a configuration the test adjusted (faults of its own, say).
pub fn start_sim_config(config: ServerConfig) -> RunningServer {
    VenueSimServer::start(config).expect("simulator starts")
}

/// [`start_sim_serving`] with connection limits of the test's own.
pub fn start_sim_limited(
    market: Arc<Market>,
    protocols: Vec<Arc<dyn Protocol>>,
    limits: ConnectionLimits,
) -> RunningServer {
    VenueSimServer::start_with_limits(sim_config(market, protocols), limits).expect("simulator starts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_paths_are_fresh() {
        assert_ne!(fresh_ca_path(), fresh_ca_path());
    }
}
