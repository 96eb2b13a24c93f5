//! `qt-stats`'s loop: one `mio::Poll` over the listener and every open connection, plus the
//! textfile schedule.
//!
//! Each connection is a small state machine on a non-blocking socket — reading its head,
//! writing its answer, then draining what the client still sends until it closes (so closing
//! never resets the connection before the client has read the answer, a 431 included) — and
//! every state has a deadline ([`Limits`], [`LINGER`]). Nothing on this thread blocks on a
//! client: a slow one holds a slot and no more, so `/health/live` answers others at once. When
//! all [`Limits::max_connections`] slots are taken, the oldest connection is closed to make room.
//!
//! Stop: the run's stop flag is looked at every [`TICK`] at least; the handle's own stop wakes
//! the poll at once. Bind errors surface from [`Server::bind`], before the thread starts.

use super::routes;
use super::textfile::TextfileWriter;
use super::{ExporterCounters, ExporterError, ExporterOptions, Limits, StatsSource};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest the loop sleeps before looking at the run's stop flag again.
pub const TICK: Duration = Duration::from_millis(100);
/// After the answer is written, how long a client may keep sending before it is closed.
const LINGER: Duration = Duration::from_millis(500);
/// Bytes discarded after the answer before the connection is closed regardless.
const DRAIN_CAP: usize = 64 * 1024;

const LISTENER: Token = Token(0);
const WAKE: Token = Token(1);
/// Connection `i` is `Token(FIRST_CONN + i)`.
const FIRST_CONN: usize = 2;

/// Stops the thread at once from the handle.
#[derive(Debug)]
pub(super) struct StopWaker {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl StopWaker {
    pub(super) fn stop(&self) {
        self.flag.store(true, Ordering::Relaxed);
        if let Err(e) = self.waker.wake() {
            log::debug!("stats: waking qt-stats failed ({e}); it stops within {TICK:?}");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the whole request head.
    Reading,
    /// Writing the answer.
    Writing,
    /// Answer written and the write side shut; discarding input until the client closes.
    Draining,
}

/// How a step on a connection left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Still open, waiting for readiness.
    Open,
    /// Finished (answered, or closed by the client before sending anything).
    Done,
    /// Given up without delivering an answer; counted.
    Failed,
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    phase: Phase,
    opened: Instant,
    deadline: Instant,
    head: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    drained: usize,
}

/// What a step on a connection may use besides the connection.
struct Ctx<'a> {
    source: &'a mut dyn StatsSource,
    counters: &'a ExporterCounters,
    limits: &'a Limits,
}

impl Conn {
    /// Makes every bit of progress the socket allows now.
    fn step(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let mut chunk = [0u8; 4096];
        loop {
            match self.phase {
                Phase::Reading => match self.stream.read(&mut chunk) {
                    Ok(0) if self.head.is_empty() => return Step::Done,
                    Ok(0) => return Step::Failed,
                    Ok(n) => {
                        self.head.extend_from_slice(&chunk[..n]);
                        let scan = &self.head[..self.head.len().min(ctx.limits.max_head)];
                        if let Some(pos) = scan.windows(4).position(|w| w == b"\r\n\r\n") {
                            self.out = routes::answer(&self.head[..pos + 4], ctx.source, ctx.counters);
                        } else if self.head.len() >= ctx.limits.max_head {
                            self.out = routes::head_too_large(ctx.limits.max_head, ctx.counters);
                        } else {
                            continue;
                        }
                        self.head = Vec::new();
                        self.phase = Phase::Writing;
                        self.deadline = Instant::now() + ctx.limits.write_deadline;
                    }
                    Err(e) => match would_block_or_retry(&e) {
                        Some(true) => return Step::Open,
                        Some(false) => {}
                        None => return Step::Failed,
                    },
                },
                Phase::Writing => {
                    if self.sent == self.out.len() {
                        let _ = self.stream.shutdown(Shutdown::Write);
                        self.phase = Phase::Draining;
                        self.deadline = Instant::now() + LINGER;
                        continue;
                    }
                    match self.stream.write(&self.out[self.sent..]) {
                        Ok(0) => return Step::Failed,
                        Ok(n) => self.sent += n,
                        Err(e) => match would_block_or_retry(&e) {
                            Some(true) => return Step::Open,
                            Some(false) => {}
                            None => return Step::Failed,
                        },
                    }
                }
                Phase::Draining => match self.stream.read(&mut chunk) {
                    Ok(0) => return Step::Done,
                    Ok(n) => {
                        self.drained += n;
                        if self.drained > DRAIN_CAP {
                            return Step::Done;
                        }
                    }
                    Err(e) => match would_block_or_retry(&e) {
                        Some(true) => return Step::Open,
                        Some(false) => {}
                        // The answer was written; a reset now is the client's business.
                        None => return Step::Done,
                    },
                },
            }
        }
    }

    /// What passing the deadline means in the current phase.
    fn expired(&self) -> Step {
        if self.phase == Phase::Draining { Step::Done } else { Step::Failed }
    }
}

/// `Some(true)`: try later; `Some(false)`: retry now; `None`: the connection failed.
fn would_block_or_retry(e: &io::Error) -> Option<bool> {
    match e.kind() {
        io::ErrorKind::WouldBlock => Some(true),
        io::ErrorKind::Interrupted => Some(false),
        _ => None,
    }
}

/// The stats thread's state; built (and bound) on the caller's thread, run on `qt-stats`.
pub(super) struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    local_addr: Option<SocketAddr>,
    /// Retry accepting on every pass (an accept failed, e.g. out of descriptors, and the
    /// listener may not signal readiness again for connections already queued).
    accept_again: bool,
    conns: Vec<Option<Conn>>,
    source: Box<dyn StatsSource>,
    counters: Arc<ExporterCounters>,
    textfile: Option<TextfileWriter>,
    limits: Limits,
    run_stop: Arc<AtomicBool>,
    own_stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Server {
    /// Binds the listen address (if any) and prepares the poller.
    pub(super) fn bind(
        options: &ExporterOptions,
        source: Box<dyn StatsSource>,
        run_stop: Arc<AtomicBool>,
        counters: Arc<ExporterCounters>,
    ) -> Result<Self, ExporterError> {
        let setup = |what: &'static str| move |error: io::Error| ExporterError::Setup { what, error };
        let poll = Poll::new().map_err(setup("creating the poller"))?;
        let (listener, local_addr) = match options.listen {
            Some(addr) => {
                let std_listener =
                    std::net::TcpListener::bind(addr).map_err(|error| ExporterError::Bind { addr, error })?;
                std_listener.set_nonblocking(true).map_err(setup("making the listener non-blocking"))?;
                let local = std_listener.local_addr().map_err(setup("reading the bound address"))?;
                let mut listener = TcpListener::from_std(std_listener);
                poll.registry()
                    .register(&mut listener, LISTENER, Interest::READABLE)
                    .map_err(setup("registering the listener"))?;
                (Some(listener), Some(local))
            }
            None => (None, None),
        };
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(setup("creating the waker"))?);
        let limits = Limits { max_connections: options.limits.max_connections.max(1), ..options.limits };
        Ok(Self {
            poll,
            listener,
            local_addr,
            accept_again: false,
            conns: Vec::with_capacity(limits.max_connections),
            source,
            counters,
            textfile: options.textfile.as_ref().map(|t| TextfileWriter::new(t.path.clone(), t.interval)),
            limits,
            run_stop,
            own_stop: Arc::new(AtomicBool::new(false)),
            waker,
        })
    }

    pub(super) fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    pub(super) fn waker(&self) -> StopWaker {
        StopWaker { flag: self.own_stop.clone(), waker: self.waker.clone() }
    }

    fn stopping(&self) -> bool {
        self.run_stop.load(Ordering::Relaxed) || self.own_stop.load(Ordering::Relaxed)
    }

    /// The loop of `qt-stats`, until a stop.
    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        while !self.stopping() {
            self.write_textfile_if_due();
            let timeout = self.timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::warn!("stats: poll failed: {e}");
                    std::thread::sleep(TICK);
                }
                continue;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKE => {}
                    Token(t) => self.step(t - FIRST_CONN),
                }
            }
            if self.accept_again {
                self.accept();
            }
            self.expire(Instant::now());
            self.source.publish_counts(&self.counters.snapshot());
        }
        log::debug!("stats: qt-stats stopped");
    }

    fn write_textfile_if_due(&mut self) {
        let Some(writer) = self.textfile.as_mut() else { return };
        let source = &mut self.source;
        match writer.tick(Instant::now(), |out| source.render_metrics(out)) {
            Some(Ok(())) => ExporterCounters::bump(&self.counters.textfile_writes),
            Some(Err(_)) => ExporterCounters::bump(&self.counters.textfile_errors),
            None => {}
        }
    }

    /// How long the poll may sleep: until the next deadline, textfile write or [`TICK`].
    fn timeout(&self, now: Instant) -> Duration {
        let deadlines = self.conns.iter().flatten().map(|c| c.deadline);
        let textfile = self.textfile.as_ref().map(|t| t.next_due().unwrap_or(now));
        deadlines.chain(textfile).map(|at| at.saturating_duration_since(now)).fold(TICK, Duration::min)
    }

    fn accept(&mut self) {
        self.accept_again = false;
        loop {
            let Some(listener) = &self.listener else { return };
            match listener.accept() {
                Ok((stream, _peer)) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("stats: accept failed: {e}");
                    ExporterCounters::bump(&self.counters.connection_errors);
                    self.accept_again = true;
                    return;
                }
            }
        }
    }

    /// Gives `stream` a slot: a free one, a new one, or the oldest connection's.
    fn admit(&mut self, mut stream: TcpStream) {
        let slot = match self.conns.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.conns.len() < self.limits.max_connections => {
                self.conns.push(None);
                self.conns.len() - 1
            }
            None => {
                let oldest = self
                    .conns
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| c.as_ref().map(|c| (c.opened, i)))
                    .min()
                    .map_or(0, |(_, i)| i);
                self.close(oldest, Step::Failed);
                oldest
            }
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.poll.registry().register(&mut stream, Token(FIRST_CONN + slot), interest) {
            log::warn!("stats: cannot watch a new connection: {e}");
            ExporterCounters::bump(&self.counters.connection_errors);
            return;
        }
        let now = Instant::now();
        self.conns[slot] = Some(Conn {
            stream,
            phase: Phase::Reading,
            opened: now,
            deadline: now + self.limits.request_deadline,
            head: Vec::new(),
            out: Vec::new(),
            sent: 0,
            drained: 0,
        });
    }

    fn step(&mut self, slot: usize) {
        let Some(Some(conn)) = self.conns.get_mut(slot) else { return };
        let mut ctx = Ctx { source: self.source.as_mut(), counters: &self.counters, limits: &self.limits };
        let step = conn.step(&mut ctx);
        if step != Step::Open {
            self.close(slot, step);
        }
    }

    fn expire(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            if let Some(conn) = &self.conns[slot]
                && conn.deadline <= now
            {
                let how = conn.expired();
                self.close(slot, how);
            }
        }
    }

    fn close(&mut self, slot: usize, how: Step) {
        if let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            if how == Step::Failed {
                ExporterCounters::bump(&self.counters.connection_errors);
            }
        }
    }
}
