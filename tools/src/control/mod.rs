//! The local control channel: `qt ess trigger|reset|status` and `qt strategy swap` reach the
//! running engine through a Unix domain socket.
//!
//! ```text
//!  qt ess ... ──unix socket──► qt-control (accepts) ──► qt-control-client (one per connection,
//!     ▲                                                  at most MAX_CLIENTS) ──crossbeam──► core
//!     │                                                        ▲                           (try_recv)
//!     └── "ok|refused|unknown <text>" ◄────────────────────────┤
//!                                      qt-control-replies ◄────┴──crossbeam── (try_send reply)
//!                                      (routes each reply to its request by id)
//! ```
//!
//! Protocol, one line each way. Requests: `status`, `trigger <reason>`,
//! `reset <operator> <timestamp_ms> <mac hex>`, `swap <strategy id> <version> <policy> [k=v ...]`
//! ([`swap`]), each ending in a newline (a line cut short by a
//! closed connection is refused, never carried out). Replies:
//! - `ok <text>` — carried out;
//! - `refused <text>` — not carried out (bad request, engine busy or stopped, refused by risk);
//! - `unknown <text>` — handed to the engine but no answer came in time: it may or may not have
//!   taken effect. `qt ess` then says so, shows the current `status` and exits with
//!   [`client::EXIT_FATE_UNKNOWN`]; it never reports a command that may have been applied as
//!   failed.
//!
//! The socket file is created with mode 0600 (only the engine's user can connect). Triggering
//! and status need no credential beyond that; a reset carries an HMAC-SHA256 token signed by the
//! client with the secret named in the config, which the core verifies (expiry, replay) — an
//! unauthenticated, expired or replayed reset is refused and the reply says why. The server
//! stamps each reset with the wall-clock time it was received.
//!
//! [`server`]: the threads above (blocking I/O with deadlines, never on the core; the core only
//! sees `ControlCommand`s on its bounded channel and answers with `try_send`). [`client`]: what
//! `qt ess` sends and how it reads the answer.

pub mod client;
pub mod server;
pub mod swap;

pub use client::{FateUnknown, Outcome, request};
pub use server::{ControlServer, serve};

use anyhow::anyhow;
use qt_core::{InlineText, RiskCommand};
use qt_risk::ess::ResetToken;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
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
        _ => Err(format!("unknown request {verb:?} (expected status, trigger, reset or swap)")),
    }
}

/// Parses one request line into the command for the core; `id` correlates its answer.
pub fn parse_command(line: &str, received_unix_ms: i64, id: u64) -> Result<qt_core::engine::ControlCommand, String> {
    let line = line.trim();
    match line.split_once(' ') {
        Some(("swap", rest)) => swap::parse(rest, id),
        _ if line == "swap" => swap::parse("", id),
        _ => parse_request(line, received_unix_ms).map(|command| qt_core::engine::ControlCommand::Risk { id, command }),
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
