//! What Kraken's order entry keeps beside the shared market, behind one short lock ([`Desk`]):
//! the last nonce per API key, the WebSocket tokens handed out, `userref`s and the dead-man's
//! switch deadlines (`CancelAllOrdersAfter`), which a watchdog thread fires.
//!
//! Held only for bookkeeping; never calls into the market while held.

use crate::market::Market;
use qt_core::AccountId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often the watchdog looks at the deadlines.
const WATCHDOG_TICK: Duration = Duration::from_millis(20);
/// Tokens kept (the oldest are forgotten first).
const TOKENS_KEPT: usize = 10_000;

#[derive(Debug, Default)]
struct State {
    nonces: HashMap<String, u64>,
    tokens: Vec<(String, AccountId)>,
    userrefs: HashMap<(AccountId, u64), i64>,
    deadlines: HashMap<AccountId, Instant>,
    watchdog: bool,
}

/// The venue's own bookkeeping.
#[derive(Debug, Default)]
pub(super) struct Desk {
    state: Mutex<State>,
}

impl Desk {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accepts `nonce` for `key` when it is strictly above the last one (which it becomes).
    pub(super) fn take_nonce(&self, key: &str, nonce: u64) -> bool {
        let mut st = self.lock();
        match st.nonces.get(key) {
            Some(last) if nonce <= *last => false,
            _ => {
                st.nonces.insert(key.to_owned(), nonce);
                true
            }
        }
    }

    /// Records a token handed to `account`.
    pub(super) fn add_token(&self, token: String, account: AccountId) {
        let mut st = self.lock();
        if st.tokens.len() == TOKENS_KEPT {
            st.tokens.remove(0);
        }
        st.tokens.push((token, account));
    }

    /// The account a token was handed to.
    pub(super) fn token_account(&self, token: &str) -> Option<AccountId> {
        self.lock().tokens.iter().find(|(t, _)| t == token).map(|(_, a)| *a)
    }

    pub(super) fn set_userref(&self, account: AccountId, order: u64, userref: i64) {
        self.lock().userrefs.insert((account, order), userref);
    }

    pub(super) fn userref(&self, account: AccountId, order: u64) -> Option<i64> {
        self.lock().userrefs.get(&(account, order)).copied()
    }

    /// Arms (`Some`) or disarms (`None`) `account`'s dead-man's switch; starts the watchdog
    /// thread the first time one is armed.
    pub(super) fn arm(
        self: &Arc<Self>,
        account: AccountId,
        at: Option<Instant>,
        market: &Arc<Market>,
        stop: &Arc<AtomicBool>,
    ) {
        let start = {
            let mut st = self.lock();
            match at {
                Some(t) => st.deadlines.insert(account, t),
                None => st.deadlines.remove(&account),
            };
            !std::mem::replace(&mut st.watchdog, true)
        };
        if start {
            let (desk, market, stop) = (self.clone(), market.clone(), stop.clone());
            let spawned =
                std::thread::Builder::new().name("kraken-deadman".into()).spawn(move || desk.watch(&market, &stop));
            if spawned.is_err() {
                self.lock().watchdog = false;
            }
        }
    }

    /// The accounts whose deadline passed at `now` (disarmed).
    fn expired(&self, now: Instant) -> Vec<AccountId> {
        let mut st = self.lock();
        let due: Vec<AccountId> = st.deadlines.iter().filter(|(_, t)| **t <= now).map(|(a, _)| *a).collect();
        for a in &due {
            st.deadlines.remove(a);
        }
        due
    }

    /// Cancels every order of an account whose switch expired, until the simulator stops.
    fn watch(&self, market: &Market, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            for account in self.expired(Instant::now()) {
                market.cancel_all(account, None);
            }
            std::thread::sleep(WATCHDOG_TICK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_must_increase_per_key() {
        let d = Desk::default();
        assert!(d.take_nonce("a", 5));
        assert!(!d.take_nonce("a", 5));
        assert!(!d.take_nonce("a", 4));
        assert!(d.take_nonce("b", 1), "another key has its own nonce");
        assert!(d.take_nonce("a", 6));
    }
}
