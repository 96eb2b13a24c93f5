//! The engine's side of the control channel: binds the socket and serves `qt ess` clients.
//!
//! Threads (none of them the core's):
//! - `qt-control` accepts connections and gives each its own `qt-control-client` thread, at most
//!   [`MAX_CLIENTS`] at once (one more is answered `refused` straight away), so a slow or stuck
//!   client never delays another — an emergency stop gets through while one is connected;
//! - `qt-control-client` reads one request line within [`REQUEST_DEADLINE`] in total (not per
//!   read: a client trickling a byte at a time is cut off), hands the command to the core, waits
//!   up to [`REPLY_TIMEOUT`] for the answer and writes one reply line;
//! - `qt-control-replies` takes the core's replies off the one reply channel and routes each to
//!   the client thread waiting for its id, so concurrent requests each get their own answer.
//!
//! A command the core never answered in time is reported `unknown` (it may still be applied),
//! never `refused`.
//!
//! The socket path: an existing *socket* there is removed only when nothing answers on it (a
//! stale one from a crashed engine); a live one means another engine serves it, and anything
//! else (a regular file, a directory, a link) is refused with what is there — never deleted.
//! On stop the socket is removed only if it is still the one this server bound.

use super::{parse_command, unix_ms};
use anyhow::{Context, bail};
use qt_core::RiskReply;
use qt_core::engine::ControlCommand;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest request line accepted, newline excluded.
const MAX_LINE: usize = 1024;
/// Clients served at once; one more is refused at once.
pub const MAX_CLIENTS: usize = 8;
/// The whole request line must arrive within this, however it is split.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// How long a client thread waits for the core's reply before answering `unknown`.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Writing a reply (or a refusal) to a client that does not read gives up after this.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often waiting threads look at the stop flag.
const TICK: Duration = Duration::from_millis(20);

/// The deadlines a server runs with (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// See [`REQUEST_DEADLINE`].
    pub request: Duration,
    /// See [`REPLY_TIMEOUT`].
    pub reply: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self { request: REQUEST_DEADLINE, reply: REPLY_TIMEOUT }
    }
}

/// Client threads waiting for a reply, by request id.
type Pending = Arc<Mutex<HashMap<u64, crossbeam_channel::Sender<RiskReply>>>>;

fn lock(pending: &Pending) -> std::sync::MutexGuard<'_, HashMap<u64, crossbeam_channel::Sender<RiskReply>>> {
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every client thread shares.
#[derive(Debug, Clone)]
struct Link {
    commands: crossbeam_channel::Sender<ControlCommand>,
    pending: Pending,
    stop: Arc<AtomicBool>,
    deadlines: Deadlines,
}

/// The running control threads; stops them and removes the socket on drop.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    /// Device and inode of the socket this server bound.
    bound: (u64, u64),
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
        // Client threads notice the stop within a tick and answer; they hold nothing to clean.
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_socket() && (m.dev(), m.ino()) == self.bound => {
                let _ = std::fs::remove_file(&self.path);
            }
            Ok(_) => log::warn!("control: {} is no longer our socket; left in place", self.path.display()),
            Err(_) => {}
        }
    }
}

/// What sits at a control socket path when it is not a socket ("a regular file", ...), for
/// messages; `None` for a socket. Shared with the configuration check.
pub(crate) fn not_a_socket(kind: std::fs::FileType) -> Option<&'static str> {
    match () {
        _ if kind.is_socket() => None,
        _ if kind.is_file() => Some("a regular file"),
        _ if kind.is_dir() => Some("a directory"),
        _ if kind.is_symlink() => Some("a symbolic link"),
        _ => Some("a special file"),
    }
}

/// Makes `path` free for a new socket: nothing there, or a stale socket nobody answers on
/// (removed). Refuses a live socket and anything that is not a socket.
fn claim_path(path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("inspecting the control socket path {}", path.display())),
    };
    if let Some(what) = not_a_socket(meta.file_type()) {
        bail!(
            "control socket path {} holds {what}, not a socket: refusing to start (it is left untouched; \
             set ess.control_socket to a path of its own)",
            path.display()
        );
    }
    match UnixStream::connect(path) {
        Ok(_) => bail!("control socket {} is served by another running engine", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            log::info!("control: removing the stale socket {}", path.display());
            std::fs::remove_file(path).with_context(|| format!("removing stale control socket {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| {
            format!("control socket {} exists and could not be probed; refusing to replace it", path.display())
        }),
    }
}

/// Binds `path` (mode 0600) and serves it, forwarding commands to the core on `commands` and
/// routing its answers from `replies`. Refuses to take over a socket another engine is serving
/// or a path that holds anything but a socket; removes a stale socket.
pub fn serve(
    path: &Path,
    commands: crossbeam_channel::Sender<ControlCommand>,
    replies: crossbeam_channel::Receiver<(u64, RiskReply)>,
) -> anyhow::Result<ControlServer> {
    serve_with(path, commands, replies, Deadlines::default())
}

/// [`serve`] with the given deadlines.
pub fn serve_with(
    path: &Path,
    commands: crossbeam_channel::Sender<ControlCommand>,
    replies: crossbeam_channel::Receiver<(u64, RiskReply)>,
    deadlines: Deadlines,
) -> anyhow::Result<ControlServer> {
    claim_path(path)?;
    let listener = UnixListener::bind(path).with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 0600 {}", path.display()))?;
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("inspecting {}", path.display()))?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let link = Link { commands, pending: Pending::default(), stop: stop.clone(), deadlines };
    let mut server =
        ControlServer { path: path.to_path_buf(), bound: (meta.dev(), meta.ino()), stop, threads: Vec::new() };
    let (pending, flag) = (link.pending.clone(), link.stop.clone());
    server.threads.push(
        std::thread::Builder::new()
            .name("qt-control-replies".into())
            .spawn(move || route_replies(&replies, &pending, &flag))?,
    );
    server.threads.push(std::thread::Builder::new().name("qt-control".into()).spawn(move || accept(&listener, link))?);
    log::info!("control channel listening on {} (mode 0600)", path.display());
    Ok(server)
}

/// `qt-control-replies`: hands each reply to the client thread waiting for its id.
fn route_replies(replies: &crossbeam_channel::Receiver<(u64, RiskReply)>, pending: &Pending, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match replies.recv_timeout(TICK) {
            Ok((id, reply)) => match lock(pending).remove(&id) {
                Some(waiter) => {
                    let _ = waiter.try_send(reply);
                }
                None => log::warn!("control: the engine answered request {id} after its client gave up"),
            },
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Waiting clients see their channel close and answer `unknown` at once.
    lock(pending).clear();
}

/// `qt-control`: accepts until stopped; each client on its own thread, up to [`MAX_CLIENTS`].
fn accept(listener: &UnixListener, link: Link) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut next_id = 1u64;
    while !link.stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => {
                log::warn!("control: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if active.load(Ordering::Acquire) >= MAX_CLIENTS {
            write_reply(&stream, &format!("refused {MAX_CLIENTS} control clients are connected already; try again"));
            continue;
        }
        let id = next_id;
        next_id += 1;
        let guard = ActiveClient::new(&active);
        let link = link.clone();
        let spawned = std::thread::Builder::new().name("qt-control-client".into()).spawn(move || {
            let _guard = guard;
            let reply = answer(&stream, id, &link);
            write_reply(&stream, &reply);
        });
        if let Err(e) = spawned {
            log::warn!("control: could not start a client thread: {e}");
        }
    }
}

/// Counts a client thread while it lives.
#[derive(Debug)]
struct ActiveClient(Arc<AtomicUsize>);

impl ActiveClient {
    fn new(active: &Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::AcqRel);
        Self(active.clone())
    }
}

impl Drop for ActiveClient {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn write_reply(mut stream: &UnixStream, reply: &str) {
    let line = format!("{}\n", reply.replace(['\n', '\r'], " "));
    let written = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
        .and_then(|()| stream.write_all(line.as_bytes()));
    if let Err(e) = written {
        log::warn!("control: could not send the reply {reply:?}: {e}");
    }
}

/// Reads one request, has the core carry it out, and says how that went (`ok|refused|unknown`).
fn answer(stream: &UnixStream, id: u64, link: &Link) -> String {
    let line = match read_request(stream, link) {
        Ok(line) => line,
        Err(why) => return format!("refused {why}"),
    };
    let command = match parse_command(&line, unix_ms(), id) {
        Ok(c) => c,
        Err(why) => return format!("refused {why}"),
    };
    let (waiter, reply) = crossbeam_channel::bounded(1);
    lock(&link.pending).insert(id, waiter);
    if link.commands.try_send(command).is_err() {
        lock(&link.pending).remove(&id);
        return "refused the engine is not taking commands (stopped or busy)".into();
    }
    // From here on the command may be carried out: no answer means "unknown", never "refused".
    let deadline = Instant::now() + link.deadlines.reply;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            lock(&link.pending).remove(&id);
            // A reply routed between the timeout and the removal is still the answer.
            if let Ok(r) = reply.try_recv() {
                return render(&r);
            }
            return format!(
                "unknown no reply from the engine within {:.1} s: the command was handed to it and may still \
                 take effect; check `qt ess status`",
                link.deadlines.reply.as_secs_f64()
            );
        }
        match reply.recv_timeout(left.min(TICK)) {
            Ok(r) => return render(&r),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return "unknown the engine stopped before answering: the command may or may not have taken \
                        effect"
                    .into();
            }
        }
    }
}

fn render(reply: &RiskReply) -> String {
    format!("{} {}", if reply.ok { "ok" } else { "refused" }, reply.text)
}

/// One request line, newline-terminated, within the whole-request deadline.
fn read_request(mut stream: &UnixStream, link: &Link) -> Result<String, String> {
    let deadline = Instant::now() + link.deadlines.request;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 256];
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| "the request is not UTF-8".to_string());
        }
        if buf.len() > MAX_LINE {
            return Err(format!("the request is longer than {MAX_LINE} bytes"));
        }
        if link.stop.load(Ordering::Relaxed) {
            return Err("the engine is stopping".into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no complete request line within {:.1} s (a request is one line ending in a newline)",
                link.deadlines.request.as_secs_f64()
            ));
        }
        stream.set_read_timeout(Some(left.min(TICK))).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err("the connection closed before a complete request line".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::client::{Outcome, request};
    use qt_core::RiskCommand;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qt-control-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A stand-in core: answers each command with its verb and id, after `hold` commands have
    /// queued up it answers them newest first; `answer: false` swallows them.
    fn fake_core(
        hold: usize,
        answer: bool,
    ) -> (crossbeam_channel::Sender<ControlCommand>, crossbeam_channel::Receiver<(u64, RiskReply)>) {
        let (cmd_tx, cmd_rx) = crossbeam_channel::bounded::<ControlCommand>(16);
        let (reply_tx, reply_rx) = crossbeam_channel::bounded(16);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok(cmd) = cmd_rx.recv() {
                let ControlCommand::Risk { id, command } = cmd else { continue };
                held.push((id, command));
                if !answer || held.len() < hold {
                    continue;
                }
                for (id, command) in held.drain(..).rev() {
                    let verb = match command {
                        RiskCommand::Status => "status",
                        RiskCommand::EssTrigger { .. } => "TRIGGERED",
                        _ => "other",
                    };
                    let _ = reply_tx.send((id, RiskReply::new(true, format_args!("{verb} #{id}"))));
                }
            }
        });
        (cmd_tx, reply_rx)
    }

    #[test]
    fn a_trigger_gets_through_while_a_slow_client_trickles_bytes() {
        let path = dir("slow").join("qt.sock");
        let (cmd, replies) = fake_core(1, true);
        let _server = serve(&path, cmd, replies).unwrap();
        // A byte every 300 ms, never a newline.
        let slow_path = path.clone();
        let slow = std::thread::spawn(move || {
            let mut s = UnixStream::connect(&slow_path).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let mut got = String::new();
            for _ in 0..30 {
                if s.write_all(b"s").is_err() {
                    break;
                }
                let mut buf = [0u8; 256];
                match s.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        got.push_str(&String::from_utf8_lossy(&buf[..n]));
                        break;
                    }
                    _ => {}
                }
            }
            got
        });
        std::thread::sleep(Duration::from_millis(700));
        let asked = Instant::now();
        let outcome = request(&path, "trigger fat finger").unwrap();
        let took = asked.elapsed();
        assert!(matches!(&outcome, Outcome::Done(t) if t.starts_with("TRIGGERED")), "{outcome:?}");
        assert!(took < Duration::from_secs(1), "the trigger took {took:?} beside a slow client");
        // The slow client is cut off by the whole-request deadline, not served forever.
        let got = slow.join().unwrap();
        assert!(got.starts_with("refused no complete request line within 2.0 s"), "{got:?}");
    }

    #[test]
    fn concurrent_requests_each_get_their_own_reply() {
        let path = dir("ids").join("qt.sock");
        // The fake core answers only once both are in, newest first.
        let (cmd, replies) = fake_core(2, true);
        let _server = serve(&path, cmd, replies).unwrap();
        let p = path.clone();
        let status = std::thread::spawn(move || request(&p, "status").unwrap());
        let trigger = request(&path, "trigger why").unwrap();
        let status = status.join().unwrap();
        assert!(matches!(&status, Outcome::Done(t) if t.starts_with("status #")), "{status:?}");
        assert!(matches!(&trigger, Outcome::Done(t) if t.starts_with("TRIGGERED #")), "{trigger:?}");
    }

    #[test]
    fn an_unanswered_command_is_unknown_not_refused() {
        let path = dir("unanswered").join("qt.sock");
        let (cmd, replies) = fake_core(1, false);
        let deadlines = Deadlines { request: REQUEST_DEADLINE, reply: Duration::from_millis(200) };
        let _server = serve_with(&path, cmd, replies, deadlines).unwrap();
        let outcome = request(&path, "trigger no answer").unwrap();
        assert!(matches!(&outcome, Outcome::Unknown(t) if t.contains("may still take effect")), "{outcome:?}");
        // A bad request is refused without reaching the core.
        assert!(matches!(request(&path, "launch").unwrap(), Outcome::Refused(t) if t.contains("unknown request")));
    }

    #[test]
    fn clients_beyond_the_cap_are_refused_at_once() {
        let path = dir("cap").join("qt.sock");
        let (cmd, replies) = fake_core(1, true);
        let _server = serve(&path, cmd, replies).unwrap();
        let idle: Vec<UnixStream> = (0..MAX_CLIENTS).map(|_| UnixStream::connect(&path).unwrap()).collect();
        let outcome = request(&path, "status").unwrap();
        assert!(matches!(&outcome, Outcome::Refused(t) if t.contains("connected already")), "{outcome:?}");
        drop(idle);
        // Their threads end with their connections; a request is served again.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match request(&path, "status").unwrap() {
                Outcome::Done(t) => break assert!(t.starts_with("status #"), "{t}"),
                other => assert!(Instant::now() < deadline, "{other:?}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn only_a_stale_socket_is_replaced() {
        let d = dir("path");
        // A regular file (say, the reset secret) is refused, named, and left as it was.
        let file = d.join("secret");
        std::fs::write(&file, "do-not-delete-me").unwrap();
        let (cmd, replies) = fake_core(1, true);
        let err = serve(&file, cmd.clone(), replies.clone()).unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()) && err.contains("a regular file"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "do-not-delete-me");
        // A directory too.
        let sub = d.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        let err = serve(&sub, cmd.clone(), replies.clone()).unwrap_err().to_string();
        assert!(err.contains("a directory"), "{err}");
        assert!(sub.is_dir());
        // A stale socket (its listener gone) is replaced; a live one is refused.
        let sock = d.join("qt.sock");
        let _ = std::fs::remove_file(&sock);
        drop(UnixListener::bind(&sock).unwrap());
        let server = serve(&sock, cmd.clone(), replies.clone()).unwrap();
        let err = serve(&sock, cmd.clone(), replies.clone()).unwrap_err().to_string();
        assert!(err.contains("served by another running engine"), "{err}");
        // On stop the server removes its own socket, but not a file put in its place.
        std::fs::remove_file(&sock).unwrap();
        std::fs::write(&sock, "someone else's").unwrap();
        drop(server);
        assert_eq!(std::fs::read_to_string(&sock).unwrap(), "someone else's");
        std::fs::remove_file(&sock).unwrap();
        let server = serve(&sock, cmd, replies).unwrap();
        drop(server);
        assert!(std::fs::symlink_metadata(&sock).is_err(), "its own socket is removed");
    }
}
