//! The one session loop of the protocols whose WebSocket sessions queue messages and flush them
//! each turn (OKX, Kraken, Bybit's public and private streams): [`run_session`] drives a
//! [`QueuedSession`] under the venue's [`LoopRules`].
//!
//! Each turn, in this order: end the session if the simulator stops (close frame) or a fault drops
//! every session or starts an outage (socket dropped, [`session_over`]); wait up to one tick for
//! a client frame; take what the market produced (the market dropping the session's subscription
//! drops the socket); unless the stall fault holds, queue what is due and flush the queue through
//! the frame faults; drop a session whose queue outgrew the limit (a consumer that does not keep
//! up); close an idle session.
//!
//! Threads: runs on the session's connection thread until the session ends. Never panics on
//! client input.

use crate::protocol::{Ctx, WsIncoming, WsSession};
use crate::public_stream::Outbox;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// One venue session as the loop drives it.
pub(crate) trait QueuedSession {
    /// The messages waiting to go out.
    fn outbox(&mut self) -> &mut Outbox;
    /// Handles one text frame from the client (replies go to the outbox).
    fn on_client(&mut self, text: &str);
    /// Takes what the market produced since the last turn; `false` when the market dropped the
    /// session's subscription (it fell a whole backlog behind).
    fn pump(&mut self) -> bool;
    /// Queues what is due at `now` (timed pushes, heartbeats); not called while the stall fault
    /// holds.
    fn produce(&mut self, _now: Instant) {}
}

/// How a venue's sessions are run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopRules {
    /// How long one turn waits for a client frame.
    pub(crate) tick: Duration,
    /// Queued messages beyond which the session is dropped.
    pub(crate) outbox_limit: usize,
    /// Closed (with a close frame) after this long without traffic; `None`: never.
    pub(crate) idle: Option<Duration>,
    /// Whether what the session sends counts as traffic for `idle` (OKX), or only what the
    /// client sends (Bybit).
    pub(crate) idle_counts_sends: bool,
    /// Whether a binary frame is handed to the session as an empty text (Bybit answers it as
    /// invalid JSON) rather than ignored.
    pub(crate) binary_as_empty_text: bool,
}

/// What every session checks each turn: a dropped generation or an outage drops the socket
/// without a close frame; shutdown closes it properly.
pub(crate) fn session_over(ctx: &Ctx, generation: u64, ws: &mut dyn WsSession) -> bool {
    if ctx.faults.ws_generation() != generation || ctx.faults.in_outage() {
        ws.close(false);
        return true;
    }
    if ctx.stop.load(Ordering::Relaxed) {
        ws.close(true);
        return true;
    }
    false
}

/// Runs `session` on `ws` until the client leaves, a fault or the market drops it, it idles out,
/// or the simulator stops.
pub(crate) fn run_session(session: &mut impl QueuedSession, ctx: &Ctx, ws: &mut dyn WsSession, rules: &LoopRules) {
    let generation = ctx.faults.ws_generation();
    let mut last_traffic = Instant::now();
    loop {
        if session_over(ctx, generation, ws) {
            return;
        }
        match ws.recv(rules.tick) {
            Ok(Some(WsIncoming::Text(text))) => {
                last_traffic = Instant::now();
                session.on_client(&text);
            }
            Ok(Some(WsIncoming::Binary(_))) if rules.binary_as_empty_text => {
                last_traffic = Instant::now();
                session.on_client("");
            }
            Ok(Some(WsIncoming::Binary(_)) | None) => {}
            Ok(Some(WsIncoming::Closed)) | Err(_) => return,
        }
        if !session.pump() {
            ws.close(false);
            return;
        }
        if !ctx.faults.ws_stalled() {
            session.produce(Instant::now());
            match session.outbox().flush(ws, &ctx.faults) {
                Ok(true) if rules.idle_counts_sends => last_traffic = Instant::now(),
                Ok(_) => {}
                Err(_) => return,
            }
        }
        if session.outbox().len() > rules.outbox_limit {
            ws.close(false);
            return;
        }
        if rules.idle.is_some_and(|idle| last_traffic.elapsed() >= idle) {
            ws.close(true);
            return;
        }
    }
}

/// Everything waiting on a session's subscription (none when there is no subscription);
/// `None` when the market dropped it (it fell a whole backlog behind).
pub(crate) fn drain<T>(rx: Option<&crossbeam_channel::Receiver<T>>) -> Option<Vec<T>> {
    let mut out = Vec::new();
    let Some(rx) = rx else { return Some(out) };
    loop {
        match rx.try_recv() {
            Ok(v) => out.push(v),
            Err(crossbeam_channel::TryRecvError::Empty) => return Some(out),
            Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Faults;
    use crate::market::{Market, MarketConfig};
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// A socket that hands out `incoming` one per `recv` (sleeping a tick when it has nothing
    /// left, until `open_for` has passed, then reporting the client gone) and records sends
    /// and how it was closed.
    struct FakeWs {
        incoming: VecDeque<WsIncoming>,
        started: Instant,
        open_for: Duration,
        sent: Vec<String>,
        closed: Option<bool>,
    }

    impl FakeWs {
        fn new(incoming: Vec<WsIncoming>, open_for: Duration) -> Self {
            Self { incoming: incoming.into(), started: Instant::now(), open_for, sent: Vec::new(), closed: None }
        }
    }

    impl WsSession for FakeWs {
        fn send_text(&mut self, text: &str) -> std::io::Result<()> {
            self.sent.push(text.to_owned());
            Ok(())
        }
        fn send_raw_text(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.sent.push(String::from_utf8_lossy(bytes).into_owned());
            Ok(())
        }
        fn send_ping(&mut self, _payload: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<WsIncoming>> {
            if let Some(m) = self.incoming.pop_front() {
                return Ok(Some(m));
            }
            if self.started.elapsed() >= self.open_for {
                return Ok(Some(WsIncoming::Closed));
            }
            std::thread::sleep(timeout);
            Ok(None)
        }
        fn close(&mut self, graceful: bool) {
            self.closed = Some(graceful);
        }
    }

    /// Records what the client sent; pushes one data message per turn when `chatty`; reports
    /// the market dropping it after `drop_after` pumps.
    struct Probe {
        out: Outbox,
        heard: Vec<String>,
        chatty: bool,
        pumps: usize,
        drop_after: Option<usize>,
    }

    impl Probe {
        fn new(chatty: bool, drop_after: Option<usize>) -> Self {
            Self { out: Outbox::new(b"{"), heard: Vec::new(), chatty, pumps: 0, drop_after }
        }
    }

    impl QueuedSession for Probe {
        fn outbox(&mut self) -> &mut Outbox {
            &mut self.out
        }
        fn on_client(&mut self, text: &str) {
            self.heard.push(text.to_owned());
            self.out.control(format!("re:{text}"));
        }
        fn pump(&mut self) -> bool {
            self.pumps += 1;
            self.drop_after.is_none_or(|n| self.pumps <= n)
        }
        fn produce(&mut self, _now: Instant) {
            if self.chatty {
                self.out.data("tick".into());
            }
        }
    }

    fn ctx() -> Ctx {
        let market =
            Market::new(MarketConfig { symbols: Vec::new(), fees: Default::default(), accounts: Vec::new(), seed: 1 })
                .unwrap();
        Ctx { market, faults: Faults::new(), stop: Arc::new(AtomicBool::new(false)) }
    }

    fn rules(idle: Option<Duration>, idle_counts_sends: bool, binary_as_empty_text: bool) -> LoopRules {
        LoopRules { tick: Duration::from_millis(1), outbox_limit: 1000, idle, idle_counts_sends, binary_as_empty_text }
    }

    #[test]
    fn client_text_is_answered_and_binary_follows_the_rule() {
        let ctx = ctx();
        for (binary_as_text, heard) in [(false, vec!["a"]), (true, vec!["a", ""])] {
            let mut ws = FakeWs::new(
                vec![WsIncoming::Text("a".into()), WsIncoming::Binary(vec![1, 2])],
                Duration::from_millis(20),
            );
            let mut probe = Probe::new(false, None);
            run_session(&mut probe, &ctx, &mut ws, &rules(None, false, binary_as_text));
            assert_eq!(probe.heard, heard, "binary_as_empty_text = {binary_as_text}");
            assert_eq!(ws.sent.first().map(String::as_str), Some("re:a"));
            assert_eq!(ws.closed, None, "the client left; the loop closes nothing");
        }
    }

    #[test]
    fn idle_counts_sends_only_when_the_venue_says_so() {
        // A session that sends every turn but never hears from the client: with sends counted
        // (OKX) it lives until the client leaves; counted by the client alone (Bybit) it is
        // closed with a close frame once idle.
        let ctx = ctx();
        let idle = Some(Duration::from_millis(150));
        let open_for = Duration::from_secs(2);
        let mut ws = FakeWs::new(Vec::new(), open_for);
        run_session(&mut Probe::new(true, None), &ctx, &mut ws, &rules(idle, true, false));
        assert_eq!(ws.closed, None, "sending keeps the session alive");
        assert!(ws.started.elapsed() >= open_for);
        let mut ws = FakeWs::new(Vec::new(), open_for);
        run_session(&mut Probe::new(true, None), &ctx, &mut ws, &rules(idle, false, false));
        assert_eq!(ws.closed, Some(true), "idle without client traffic closes gracefully");
        assert!(ws.started.elapsed() < open_for);
    }

    #[test]
    fn market_drop_stall_and_outbox_limit_drop_the_socket() {
        let ctx = ctx();
        let mut ws = FakeWs::new(Vec::new(), Duration::from_secs(2));
        run_session(&mut Probe::new(true, Some(3)), &ctx, &mut ws, &rules(None, false, false));
        assert_eq!(ws.closed, Some(false), "the market dropped the subscription");
        assert_eq!(ws.sent.len(), 3, "one push per turn before the drop");

        // Stalled: replies to the client queue up unsent until the queue passes the limit.
        ctx.faults.stall_ws_for(Duration::from_secs(60));
        let texts = (0..8).map(|i| WsIncoming::Text(i.to_string())).collect();
        let mut ws = FakeWs::new(texts, Duration::from_secs(2));
        let mut r = rules(None, false, false);
        r.outbox_limit = 5;
        let mut probe = Probe::new(true, None);
        run_session(&mut probe, &ctx, &mut ws, &r);
        assert!(ws.sent.is_empty(), "nothing is flushed (or produced) while stalled");
        assert_eq!(probe.heard.len(), 6, "dropped on the turn the queue passed the limit");
        assert_eq!(ws.closed, Some(false), "a queue past the limit drops the socket");
    }
}
