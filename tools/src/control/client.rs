//! The client side of the control channel, as `qt ess` uses it: send one request line, read one
//! reply line, and tell apart "carried out", "not carried out" and "fate unknown".
//!
//! A request that could not be delivered whole (no connection, a failed write: the newline that
//! completes it is its last byte) was not carried out and is an error. Once the line is out, a
//! missing, cut or garbled reply means its fate is unknown — never "failed".

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Exit status of `qt ess` when a command was handed to the engine but not confirmed.
pub const EXIT_FATE_UNKNOWN: u8 = 3;

/// How long the client waits for the reply: the server's whole-request and reply deadlines,
/// plus slack for a loaded machine.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// What became of a request that reached the engine's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out; the engine's text.
    Done(String),
    /// Not carried out; why.
    Refused(String),
    /// Sent, but not confirmed either way; why.
    Unknown(String),
}

impl Outcome {
    /// Reads one reply line (`ok|refused|unknown <text>`).
    pub fn parse(reply: &str) -> Self {
        let reply = reply.trim_end();
        let (verb, text) = reply.split_once(' ').unwrap_or((reply, ""));
        match verb {
            "ok" => Self::Done(text.to_string()),
            "refused" => Self::Refused(text.to_string()),
            "unknown" => Self::Unknown(text.to_string()),
            _ => Self::Unknown(format!("unexpected reply from the engine: {reply:?}")),
        }
    }
}

/// A command that was sent to the engine but neither confirmed nor refused.
#[derive(Debug, thiserror::Error)]
#[error("the engine did not confirm the {verb} request ({why}): it may or may not have taken effect")]
pub struct FateUnknown {
    /// The request's verb (`trigger`, `reset`, `status`).
    pub verb: String,
    /// What happened instead of a reply.
    pub why: String,
}

/// Sends one request line to the engine at `path` and reads its answer. `Err` only when the
/// request was not delivered (so certainly not carried out).
pub fn request(path: &Path, line: &str) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let mut stream = UnixStream::connect(path)
        .with_context(|| format!("connecting to the engine's control socket {}", path.display()))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    // One buffer, newline last: if any write fails the newline was not delivered and the server
    // refuses the incomplete line.
    let mut message = line.replace(['\n', '\r'], " ");
    message.push('\n');
    stream
        .write_all(message.as_bytes())
        .with_context(|| format!("sending the request to {} (not delivered)", path.display()))?;
    let mut reply = String::new();
    Ok(match BufReader::new(&stream).read_line(&mut reply) {
        Ok(_) if reply.ends_with('\n') => Outcome::parse(&reply),
        Ok(_) => Outcome::Unknown("the connection closed before a reply".into()),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Outcome::Unknown(format!("no reply within {} s", CLIENT_TIMEOUT.as_secs()))
        }
        Err(e) => Outcome::Unknown(format!("reading the reply: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_and_anything_else_is_unknown() {
        assert_eq!(Outcome::parse("ok ess armed\n"), Outcome::Done("ess armed".into()));
        assert_eq!(Outcome::parse("ok\n"), Outcome::Done(String::new()));
        assert_eq!(
            Outcome::parse("refused trigger needs a reason\n"),
            Outcome::Refused("trigger needs a reason".into())
        );
        assert_eq!(Outcome::parse("unknown no reply\n"), Outcome::Unknown("no reply".into()));
        assert!(matches!(Outcome::parse("garbage"), Outcome::Unknown(why) if why.contains("garbage")));
    }

    #[test]
    fn a_connection_dropped_after_the_request_is_unknown_not_failed() {
        let dir = std::env::temp_dir().join(format!("qt-control-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("drop.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            line // dropped without a reply
        });
        let outcome = request(&path, "trigger test").unwrap();
        assert_eq!(server.join().unwrap(), "trigger test\n");
        assert!(matches!(outcome, Outcome::Unknown(ref why) if why.contains("closed")), "{outcome:?}");
        let _ = std::fs::remove_file(&path);
    }
}
