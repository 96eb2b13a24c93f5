//! The stats thread: exports the engine's numbers to Prometheus and to orchestrators.
//!
//! One thread, `qt-stats`, never the core's. It owns a [`StatsSource`] (which reads the stats
//! file; the core never waits for it) and serves, on a configured address:
//!
//! - `GET /metrics`: the Prometheus text exposition format (`text/plain; version=0.0.4`);
//! - `GET /health/live`: 200 while the process and its core loop are alive (heartbeat recent);
//! - `GET /health/ready`: 200 when every readiness check passes, else 503; both health bodies are
//!   `{"status":"ok"|"fail","checks":[{"name":…,"ok":…,"detail":…}]}`, so a failing probe says
//!   which check failed;
//!
//! `HEAD` on the same paths (headers only), 404 elsewhere, 405 (`Allow: GET, HEAD`) for other
//! methods, 400 for a malformed head and 431 for a head over [`Limits::max_head`]. Every answer
//! closes its connection.
//!
//! Connections are non-blocking and multiplexed on the one thread ([`server`]): a slow or idle
//! client costs a slot, never the thread, and is cut off at its deadline; when every slot is
//! taken the oldest connection makes room. Beside the HTTP side, the same thread writes the
//! node_exporter textfile-collector file every interval ([`textfile`]), atomically.
//!
//! Start-up binds first, so a port in use is [`ExporterError::Bind`] naming the address, before
//! any thread exists. The thread stops when the run's stop flag is raised (within
//! [`server::TICK`]) or when the [`ExporterHandle`] is stopped or dropped (at once).
//! The thread allocates per request and per textfile write; it holds no lock the core takes.

mod routes;
mod server;
pub mod textfile;

pub use routes::{ALLOWED_METHODS, METRICS_CONTENT_TYPE};
pub use server::TICK;
pub use textfile::TextfileWriter;

use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the stats thread reads the numbers it exports. Called only on `qt-stats`.
pub trait StatsSource: Send + 'static {
    /// Appends every metric in the Prometheus text exposition format (version 0.0.4) to `out`.
    fn render_metrics(&mut self, out: &mut String);
    /// Whether the process and its core loop are alive (heartbeat recent).
    fn live(&mut self) -> Health;
    /// Every readiness check.
    fn ready(&mut self) -> Health;
    /// The stats thread's own counts, after each turn of its loop (for a source that keeps
    /// them, e.g. in the stats file). Default: ignored.
    fn publish_counts(&mut self, counts: &ExporterCounts) {
        let _ = counts;
    }
}

/// The outcome of a health probe: `ok` and the checks behind it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// Whether the probe passes (normally: every check passes).
    pub ok: bool,
    /// The checks, passing or not, in the order they are shown.
    pub checks: Vec<Check>,
}

/// One named health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What is checked (`heartbeat`, `book_valid{venue=…}`, `journal_writable`, …).
    pub name: String,
    /// Whether it passes.
    pub ok: bool,
    /// Why, in words ("heartbeat 0.2 s old", "ESS latched since …").
    pub detail: String,
}

impl Health {
    /// A health whose `ok` is the conjunction of `checks`.
    pub fn from_checks(checks: Vec<Check>) -> Self {
        Self { ok: checks.iter().all(|c| c.ok), checks }
    }
}

/// Why the stats thread could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// The listen address could not be bound (in use, not local, no permission).
    #[error(
        "cannot serve /metrics and /health on {addr}: {error} (another process may hold it; \
         choose a free address in stats.listen)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// Setting up the thread or its poller failed.
    #[error("starting the stats thread: {what}: {error}")]
    Setup {
        /// The step that failed.
        what: &'static str,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
}

/// Bounds on what one client may cost the stats thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line, headers, blank line); more is answered 431.
    pub max_head: usize,
    /// The whole head must arrive within this after the connection is accepted.
    pub request_deadline: Duration,
    /// The whole answer must be taken by the client within this.
    pub write_deadline: Duration,
    /// Connections held at once; one more closes the oldest.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            request_deadline: Duration::from_secs(2),
            write_deadline: Duration::from_secs(5),
            max_connections: 32,
        }
    }
}

/// The node_exporter textfile-collector file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextfileOptions {
    /// The file (node_exporter reads `*.prom` in its `--collector.textfile.directory`).
    pub path: PathBuf,
    /// How often it is rewritten.
    pub interval: Duration,
}

/// What the stats thread serves.
#[derive(Debug, Clone, Default)]
pub struct ExporterOptions {
    /// Address for `/metrics` and `/health/*`; `None`: no HTTP.
    pub listen: Option<SocketAddr>,
    /// Textfile-collector output; `None`: none.
    pub textfile: Option<TextfileOptions>,
    /// Per-client bounds.
    pub limits: Limits,
}

/// What the stats thread has done, for the stats file and the summary. Updated by `qt-stats`
/// only (relaxed stores), read by anyone.
#[derive(Debug, Default)]
pub struct ExporterCounters {
    scrapes: AtomicU64,
    health_probes: AtomicU64,
    bad_requests: AtomicU64,
    connection_errors: AtomicU64,
    textfile_writes: AtomicU64,
    textfile_errors: AtomicU64,
}

/// A copy of [`ExporterCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterCounts {
    /// `/metrics` answered (GET or HEAD).
    pub scrapes: u64,
    /// `/health/live` and `/health/ready` answered (200 or 503).
    pub health_probes: u64,
    /// Requests answered 400, 404, 405 or 431.
    pub bad_requests: u64,
    /// Connections closed without an answer delivered: socket errors, a deadline passed, closed
    /// to make room, or a client that left mid-request.
    pub connection_errors: u64,
    /// Textfile-collector files written.
    pub textfile_writes: u64,
    /// Textfile-collector writes that failed.
    pub textfile_errors: u64,
}

impl ExporterCounters {
    /// The current counts.
    pub fn snapshot(&self) -> ExporterCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExporterCounts {
            scrapes: get(&self.scrapes),
            health_probes: get(&self.health_probes),
            bad_requests: get(&self.bad_requests),
            connection_errors: get(&self.connection_errors),
            textfile_writes: get(&self.textfile_writes),
            textfile_errors: get(&self.textfile_errors),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the stats thread.
#[derive(Debug)]
pub struct Exporter;

impl Exporter {
    /// Binds `addr` and serves `/metrics` and `/health/*` from `source` on the `qt-stats`
    /// thread until `stop` is raised or the handle is stopped. A bind failure is
    /// [`ExporterError::Bind`] naming `addr`.
    pub fn start<S: StatsSource>(
        addr: SocketAddr,
        source: S,
        stop: Arc<AtomicBool>,
    ) -> Result<ExporterHandle, ExporterError> {
        Self::start_with(ExporterOptions { listen: Some(addr), ..ExporterOptions::default() }, source, stop)
    }

    /// [`Exporter::start`] with every option: HTTP, the textfile, or both, on one thread.
    /// With neither, no thread is started.
    pub fn start_with<S: StatsSource>(
        options: ExporterOptions,
        source: S,
        stop: Arc<AtomicBool>,
    ) -> Result<ExporterHandle, ExporterError> {
        let counters = Arc::new(ExporterCounters::default());
        if options.listen.is_none() && options.textfile.is_none() {
            return Ok(ExporterHandle { local_addr: None, counters, thread: None, waker: None });
        }
        let prepared = server::Server::bind(&options, Box::new(source), stop, counters.clone())?;
        let local_addr = prepared.local_addr();
        let waker = prepared.waker();
        let thread = std::thread::Builder::new()
            .name("qt-stats".into())
            .spawn(move || prepared.run())
            .map_err(|error| ExporterError::Setup { what: "spawning qt-stats", error })?;
        if let Some(addr) = local_addr {
            log::info!("stats: serving /metrics, /health/live and /health/ready on http://{addr}");
        }
        if let Some(t) = &options.textfile {
            log::info!("stats: writing {} every {:?}", t.path.display(), t.interval);
        }
        Ok(ExporterHandle { local_addr, counters, thread: Some(thread), waker: Some(waker) })
    }
}

/// The running stats thread; stopping or dropping it stops and joins the thread.
#[derive(Debug)]
pub struct ExporterHandle {
    local_addr: Option<SocketAddr>,
    counters: Arc<ExporterCounters>,
    thread: Option<JoinHandle<()>>,
    waker: Option<server::StopWaker>,
}

impl ExporterHandle {
    /// The address actually bound (the port chosen when asked for port 0); `None` without HTTP.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The thread's own counters.
    pub fn counters(&self) -> Arc<ExporterCounters> {
        self.counters.clone()
    }

    /// Whether the thread has ended (after the stop flag was raised, or it failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the thread now and waits for it.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(w) = self.waker.take() {
            w.stop();
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            log::error!("stats: the qt-stats thread panicked; /metrics and the textfile stopped with it");
        }
    }
}

impl Drop for ExporterHandle {
    fn drop(&mut self) {
        self.shut_down();
    }
}
