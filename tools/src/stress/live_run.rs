//! Live stress runs, shared by the venue scenarios (`exchange_outage`, `stale_feed`,
//! `ack_latency_spike`): the venue simulator started in this process on loopback TLS with a
//! fresh CA ([`crate::venue_sim::start`]), a `qt run` plan pointed at it and run live
//! ([`crate::run::run_live`]) on its own thread, what the simulator's accounts saw of our orders
//! ([`VenueOrders`]), and the moments a scenario injects its faults at.
//!
//! A scenario's simulator configuration is a `qt venue-sim` TOML whose listeners are on
//! `127.0.0.1:0`; its run configuration names each venue's address as `@<protocol>@` (e.g.
//! `rest_url = "https://@binance@"`) and the CA file as `@ca_file@`, filled in by
//! [`run_config`] once the simulator is bound.

use super::StressCtx;
use crate::config::Plan;
use crate::run::RunOutcome;
use anyhow::Context;
use qt_core::{AccountId, Clock as _, WallClock};
use qt_venue_sim::market::{AccountEvent, ExecKind, OrderStatus};
use qt_venue_sim::server::RunningServer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Starts the simulator of `text` (a `qt venue-sim` configuration; `name` names it in errors)
/// with the scenario's seed and its CA file in the scenario's scratch directory.
pub fn start_sim(ctx: &StressCtx, text: &str, name: &str) -> anyhow::Result<RunningServer> {
    let mut plan = crate::venue_sim::load(text, name)?;
    plan.market.seed = ctx.seed;
    plan.ca_file = ctx.work_dir.join("venue-sim-ca.pem");
    crate::venue_sim::start(&plan).with_context(|| format!("{name}: starting the venue simulator"))
}

/// The run configuration `text` with each `@<protocol>@` replaced by that listener's address
/// and `@ca_file@` by the simulator's CA file.
pub fn run_config(text: &str, server: &RunningServer) -> String {
    let mut out = text.replace("@ca_file@", &server.ca_file.display().to_string());
    for (name, addr) in &server.addrs {
        out = out.replace(&format!("@{name}@"), &addr.to_string());
    }
    out
}

/// Unix time now, ns: the engine's [`WallClock`] (a live run's domain time is the wall clock).
pub fn unix_now() -> i64 {
    WallClock.now().0
}

/// Waits up to `limit` for `cond` (checked every 20 ms); whether it held.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// One order event at a simulated venue, as the scenario saw it.
#[derive(Debug, Clone)]
pub struct VenueEvent {
    /// When it was seen (Unix ns).
    pub at: i64,
    /// The venue (the name the scenario gave the simulator account).
    pub venue: &'static str,
    /// Whether this event is the venue accepting the order.
    pub accepted: bool,
    /// The client order id.
    pub client_order_id: String,
    /// Whether the order is final after it (filled, cancelled, expired, rejected).
    pub done: bool,
}

/// Every order event of the simulator accounts behind the run's keys, in the order seen.
#[derive(Debug, Clone, Default)]
pub struct VenueOrders {
    events: Arc<Mutex<Vec<VenueEvent>>>,
}

impl VenueOrders {
    /// Records the order events of each `(venue, simulator account)` from now on.
    pub fn record(server: &RunningServer, accounts: &[(&'static str, AccountId)]) -> anyhow::Result<Self> {
        let orders = Self::default();
        for &(venue, account) in accounts {
            let rx = server
                .market
                .subscribe_account(account)
                .with_context(|| format!("the simulator has no account {} ({venue})", account.0))?;
            let sink = orders.events.clone();
            std::thread::Builder::new().name(format!("qt-stress-{venue}")).spawn(move || {
                for e in rx {
                    if let AccountEvent::Order { exec, order } = &*e {
                        let done = matches!(
                            order.status,
                            OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected
                        );
                        let event = VenueEvent {
                            at: unix_now(),
                            venue,
                            accepted: matches!(exec, ExecKind::New),
                            client_order_id: order.client_order_id.clone(),
                            done,
                        };
                        sink.lock().unwrap_or_else(|p| p.into_inner()).push(event);
                    }
                }
            })?;
        }
        Ok(orders)
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<VenueEvent> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Orders accepted at `venue` after `since` (Unix ns).
    pub fn accepted_at(&self, venue: &str, since: i64) -> usize {
        self.events().iter().filter(|e| e.accepted && e.venue == venue && e.at > since).count()
    }

    /// Waits (up to `limit`) for a moment between orders at `venue`: its last order event is
    /// final and `quiet` old. The strategies keep one order in flight; a fault injected while
    /// one is on its way holds that strategy until the venue answers, so scenarios inject
    /// between orders. Whether such a moment came.
    pub fn between_orders(&self, venue: &str, quiet: Duration, limit: Duration) -> bool {
        let quiet = i64::try_from(quiet.as_nanos()).unwrap_or(i64::MAX);
        wait_for(limit, || {
            let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
            events.iter().rev().find(|e| e.venue == venue).is_some_and(|e| e.done && unix_now() - e.at >= quiet)
        })
    }
}

/// A live run on its own thread.
#[derive(Debug)]
pub struct LiveRun {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<anyhow::Result<RunOutcome>>,
}

impl LiveRun {
    /// Starts `plan` live (it ends after its duration, or when stopped).
    pub fn start(plan: Plan) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("qt-stress-run".into())
            .spawn(move || crate::run::run_live(plan, Some(flag)))?;
        Ok(Self { stop, handle })
    }

    /// Whether the run has ended (an error at start, or its duration is over).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Stops the run and waits for its outcome.
    pub fn finish(self) -> anyhow::Result<RunOutcome> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().map_err(|_| anyhow::anyhow!("the live run's thread panicked"))?
    }
}

/// Waits up to `limit` for `cond` while `run` is going; an ended run stops the wait with its
/// error (a run that could not start says why instead of a scenario timing out).
pub fn wait_while_running(run: &LiveRun, limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    wait_for(limit, || cond() || run.is_finished())
}

/// Nanoseconds of `d`.
pub fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `ns` for a detail line: `3.2 s`, or under a second `12 ms`.
pub fn secs(ns: i64) -> String {
    if ns.abs() < 1_000_000_000 { format!("{} ms", ns / 1_000_000) } else { format!("{:.1} s", ns as f64 / 1e9) }
}
