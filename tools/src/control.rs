//! The local control channel: `qt ess trigger|reset|status` reach the running engine through a
//! Unix domain socket.
//!
//! ```text
//!  qt ess ... ──(unix socket, one line each way)──► qt-control thread ──crossbeam──► core (try_recv)
//!             ◄── "ok <text>" / "refused <text>" ───                  ◄──crossbeam── (try_send reply)
//! ```
//!
//! Requests, one line: `status`, `trigger <reason>`, `reset <operator> <timestamp_ms> <mac hex>`.
//! The socket file is created with mode 0600 (only the engine's user can connect). Triggering
//! and status need no credential beyond that; a reset carries an HMAC-SHA256 token signed by the
//! client with the secret named in the config, which the core verifies (expiry, replay) — an
//! unauthenticated, expired or replayed reset is refused and the reply says why. The control
//! thread stamps each reset with the wall-clock time it was received.
//!
//! Thread `qt-control`: blocking I/O with timeouts, never on the core; the core only sees
//! `ControlCommand`s on its bounded channel and answers with `try_send`.

use anyhow::{Context, anyhow, bail};
use qt_core::engine::ControlCommand;
use qt_core::{InlineText, RiskCommand, RiskReply};
use qt_risk::ess::ResetToken;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest request line accepted.
const MAX_LINE: u64 = 1024;
/// How long the control thread waits for the core's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The running control thread; stops it and removes the socket on drop.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Binds `path` (mode 0600) and serves it on the `qt-control` thread, forwarding commands to
/// the core on `commands` and waiting for its answers on `replies`. Refuses to take over a
/// socket another engine is serving; removes a stale one.
pub fn serve(
    path: &Path,
    commands: crossbeam_channel::Sender<ControlCommand>,
    replies: crossbeam_channel::Receiver<(u64, RiskReply)>,
) -> anyhow::Result<ControlServer> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!("control socket {} is served by another running engine", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale control socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 0600 {}", path.display()))?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::Builder::new().name("qt-control".into()).spawn(move || {
        let mut next_id = 1u64;
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = handle_client(stream, next_id, &commands, &replies) {
                        log::warn!("control: {e:#}");
                    }
                    next_id += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    log::warn!("control: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    })?;
    log::info!("control channel listening on {} (mode 0600)", path.display());
    Ok(ControlServer { path: path.to_path_buf(), stop, handle: Some(handle) })
}

/// Parses one request line into the core's command.
pub fn parse_request(line: &str, received_unix_ms: i64) -> Result<RiskCommand, String> {
    let line = line.trim();
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match verb {
        "status" if rest.is_empty() => Ok(RiskCommand::Status),
        "trigger" => {
            let reason = rest.trim();
            if reason.is_empty() {
                return Err("trigger needs a reason".into());
            }
            Ok(RiskCommand::EssTrigger { reason: InlineText::new(reason) })
        }
        "reset" => {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let [operator, ts, mac] = parts.as_slice() else {
                return Err("reset needs: reset <operator> <timestamp_ms> <mac hex>".into());
            };
            let timestamp_ms: i64 = ts.parse().map_err(|_| format!("timestamp {ts:?} is not an integer"))?;
            let token = ResetToken::from_hex(timestamp_ms, mac).map_err(|e| e.to_string())?;
            Ok(RiskCommand::EssReset {
                operator: InlineText::new(operator),
                timestamp_ms,
                mac: token.mac,
                received_unix_ms,
            })
        }
        _ => Err(format!("unknown request {verb:?} (expected status, trigger or reset)")),
    }
}

fn handle_client(
    stream: UnixStream,
    id: u64,
    commands: &crossbeam_channel::Sender<ControlCommand>,
    replies: &crossbeam_channel::Receiver<(u64, RiskReply)>,
) -> anyhow::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_LINE)).read_line(&mut line)?;
    let mut out = &stream;
    let command = match parse_request(&line, unix_ms()) {
        Ok(c) => c,
        Err(msg) => {
            writeln!(out, "refused {msg}")?;
            return Ok(());
        }
    };
    // Replies to earlier, timed-out requests are stale.
    while replies.try_recv().is_ok() {}
    if commands.try_send(ControlCommand::Risk { id, command }).is_err() {
        writeln!(out, "refused the engine is not taking commands (stopped or busy)")?;
        return Ok(());
    }
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match replies.recv_timeout(left) {
            Ok((got, reply)) if got == id => {
                writeln!(out, "{} {}", if reply.ok { "ok" } else { "refused" }, reply.text)?;
                return Ok(());
            }
            Ok(_) => continue,
            Err(_) => {
                writeln!(out, "refused no reply from the engine within {} s", REPLY_TIMEOUT.as_secs())?;
                return Ok(());
            }
        }
    }
}

/// Sends one request line to the engine at `path`; returns whether it was carried out and the
/// engine's text.
pub fn request(path: &Path, line: &str) -> anyhow::Result<(bool, String)> {
    let mut stream = UnixStream::connect(path)
        .with_context(|| format!("connecting to the engine's control socket {}", path.display()))?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT + Duration::from_secs(5)))?;
    writeln!(stream, "{line}")?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply)?;
    let reply = reply.trim_end();
    match reply.split_once(' ') {
        Some(("ok", text)) => Ok((true, text.to_string())),
        Some(("refused", text)) => Ok((false, text.to_string())),
        _ => Err(anyhow!("unexpected reply from the engine: {reply:?}")),
    }
}

/// The request line of a reset by `operator`, signed now with `secret`.
pub fn reset_line(secret: &[u8], operator: &str) -> anyhow::Result<String> {
    let ts = unix_ms();
    let token = ResetToken::sign(secret, operator, ts).map_err(|e| anyhow!("{e}"))?;
    Ok(format!("reset {operator} {ts} {}", token.mac_hex()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_say_why() {
        assert_eq!(parse_request("status\n", 0), Ok(RiskCommand::Status));
        assert!(
            matches!(parse_request("trigger fat finger", 0), Ok(RiskCommand::EssTrigger { reason }) if reason.as_str() == "fat finger")
        );
        assert!(parse_request("trigger", 0).unwrap_err().contains("reason"));
        let mac = "ab".repeat(32);
        match parse_request(&format!("reset alice 123 {mac}"), 456) {
            Ok(RiskCommand::EssReset { operator, timestamp_ms: 123, received_unix_ms: 456, mac }) => {
                assert_eq!(operator.as_str(), "alice");
                assert_eq!(mac, [0xab; 32]);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_request("reset alice 123 zz", 0).unwrap_err().contains("malformed"));
        assert!(parse_request("reset alice", 0).unwrap_err().contains("reset needs"));
        assert!(parse_request("launch", 0).unwrap_err().contains("unknown request"));
    }
}
