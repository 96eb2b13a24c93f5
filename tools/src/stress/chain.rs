//! The live run both chain scenarios (`exchange_outage`, `ack_latency_spike`) fault: one account
//! whose chain is [binance, bybit] trading BTC/USDT listed at both, its strategy reading OKX's
//! book (testdata/stress/venue-chain-run.toml), against the in-process simulator serving all
//! three over one market (testdata/stress/venue-sim-chain.toml; its account 0 is the Binance key,
//! account 1 the Bybit key).

use super::live_journal::{RunJournal, SentOrder};
use super::live_run::{LiveRun, VenueEvent, VenueOrders, nanos, run_config, secs, start_sim, unix_now};
use super::{StressCtx, Verdict};
use crate::run::RunOutcome;
use qt_core::AccountId;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::Duration;

const SIM: &str = include_str!("../../../testdata/stress/venue-sim-chain.toml");
const RUN: &str = include_str!("../../../testdata/stress/venue-chain-run.toml");

/// The chain's run, going.
#[derive(Debug)]
pub struct ChainRun {
    server: RunningServer,
    /// What the two venues saw of our orders.
    pub orders: VenueOrders,
    run: LiveRun,
    /// `[failover] return_after` under test.
    pub return_after: Duration,
}

/// What the run left: its outcome, its journal, the orders it sent and what the venues saw.
#[derive(Debug)]
pub struct ChainEnd {
    /// The run's outcome.
    pub outcome: RunOutcome,
    /// Its journal.
    pub journal: RunJournal,
    /// Every new order it sent.
    pub sent: Vec<SentOrder>,
    /// Every order event at the two venues.
    pub seen: Vec<VenueEvent>,
}

impl ChainRun {
    /// Starts the simulator and the run under `ctx`'s risk configuration.
    pub fn start(ctx: &StressCtx) -> anyhow::Result<Self> {
        let server = start_sim(ctx, SIM, "venue-sim-chain.toml")?;
        let orders = VenueOrders::record(&server, &[("binance", AccountId(0)), ("bybit", AccountId(1))])?;
        let mut plan = ctx.plan(&run_config(RUN, &server), "venue-chain-run.toml")?;
        // Ended by the scenario; the duration only bounds a run the scenario lost track of.
        plan.sim.duration = qt_core::Nanos(nanos(Duration::from_secs(600)));
        let return_after = Duration::from_nanos(plan.routing.router.return_after.0.max(0) as u64);
        let run = LiveRun::start(plan)?;
        Ok(Self { server, orders, run, return_after })
    }

    /// Waits for orders on the primary (start-up may pass through Bybit while Binance's book is
    /// not yet valid; the router returns `return_after` later), then for a moment between
    /// orders there; whether they came.
    pub fn on_primary(&self) -> bool {
        let start = unix_now();
        let reached = super::live_run::wait_while_running(&self.run, self.primary_wait(), || {
            self.orders.accepted_at("binance", start) > 0
        });
        let going = reached && !self.run.is_finished();
        if going {
            self.orders.between_orders("binance", Duration::from_millis(100), Duration::from_secs(10));
        }
        going
    }

    fn primary_wait(&self) -> Duration {
        self.return_after + Duration::from_secs(30)
    }

    /// The faults of the simulator's `venue` listener.
    pub fn faults(&self, venue: &str) -> anyhow::Result<Arc<Faults>> {
        self.server.faults_of(venue).cloned().ok_or_else(|| anyhow::anyhow!("the simulator serves no {venue} listener"))
    }

    /// Stops the run and the simulator and reads the evidence; the facts every chain scenario
    /// shows go into `v`.
    pub fn finish(self, v: &mut Verdict) -> anyhow::Result<ChainEnd> {
        let Self { mut server, orders, run, .. } = self;
        let outcome = run.finish()?;
        server.shutdown();
        let journal = RunJournal::of(&outcome)?;
        let sent = journal.new_orders(&outcome.plan);
        let seen = orders.events();
        v.fact("orders sent", sent.len());
        for venue in ["binance", "bybit"] {
            v.fact(
                format!("orders accepted at {venue}"),
                seen.iter().filter(|e| e.accepted && e.venue == venue).count(),
            );
        }
        Ok(ChainEnd { outcome, journal, sent, seen })
    }

    /// The check a run records when orders never reached the primary.
    pub fn never_on_primary(&self, v: &mut Verdict) {
        v.check(
            "orders reach the primary",
            false,
            format!("no order was accepted at binance within {} of the start", secs(nanos(self.primary_wait()))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::RiskUnderTest;

    /// `[failover]` is risk behaviour: the configuration under test's thresholds, not the
    /// scenario's, judge the chain (before, a scenario kept its own and a broken threshold
    /// could not fail it).
    #[test]
    fn the_configuration_under_test_sets_the_chains_failover_thresholds() {
        let broken = include_str!("../../../testdata/stress/broken-ack-health.toml");
        let tested = crate::config::load(broken, "broken-ack-health.toml").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let risk = RiskUnderTest::of(&tested, "broken");
        let ctx = StressCtx { seed: 1, short: true, work_dir: dir.path().to_path_buf(), risk };
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not read here").unwrap();
        let text = RUN
            .replace("@binance@", "127.0.0.1:1")
            .replace("@bybit@", "127.0.0.1:2")
            .replace("@okx@", "127.0.0.1:3")
            .replace("@ca_file@", &ca.display().to_string());
        let own = crate::config::load(&text, "venue-chain-run.toml").unwrap();
        let plan = ctx.plan(&text, "venue-chain-run.toml").unwrap();
        let hour = qt_core::Nanos(3600 * qt_core::Nanos::SECOND.0);
        assert_eq!((plan.routing.health.max_ack_p99, plan.routing.health.ack_timeout), (hour, hour));
        assert_eq!(plan.routing.router.return_after, tested.routing.router.return_after);
        assert_ne!(plan.routing.health.max_ack_p99, own.routing.health.max_ack_p99);
        // The chain itself stays the scenario's.
        assert_eq!(plan.routing.chains, own.routing.chains);
        assert_eq!(plan.journal.unwrap().dir, dir.path().join("journal"));
    }
}
