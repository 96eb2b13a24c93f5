//! The listen keys of the Binance protocols' user data streams ([`ListenKeys`]): one live key per
//! account, valid for a fixed time after its start or last keepalive, then gone.
//!
//! Facts: spot `POST /api/v3/userDataStream` and USD-M `POST /fapi/v1/listenKey` both answer
//! the account's live key, extended, if there is one ("If the account has an active listenKey,
//! that listenKey will be returned and its validity will be extended for 60 minutes."), and a
//! key is 60 minutes long without a keepalive; keys here are 60 hex characters.
//!
//! Shared by connection threads behind one short lock; allocates the key text.

use crate::signing;
use qt_core::{AccountId, Clock as _, WallClock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Entry {
    account: AccountId,
    expires_ms: i64,
}

/// Live listen keys by key text.
#[derive(Debug)]
pub(crate) struct ListenKeys {
    keys: Mutex<HashMap<String, Entry>>,
    validity_ms: i64,
    sequence: AtomicU64,
}

impl ListenKeys {
    /// Keys valid for `validity` after their start or last keepalive.
    pub(crate) fn new(validity: Duration) -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            validity_ms: i64::try_from(validity.as_millis()).unwrap_or(i64::MAX),
            sequence: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account's live key, extended, or a new one (derived from `secret`, never equal to it).
    pub(crate) fn start(&self, account: AccountId, secret: &str, now_ms: i64) -> String {
        let expires_ms = now_ms.saturating_add(self.validity_ms);
        let mut keys = self.lock();
        if let Some((key, e)) = keys.iter_mut().find(|(_, e)| e.account == account && e.expires_ms > now_ms) {
            e.expires_ms = expires_ms;
            return key.clone();
        }
        keys.retain(|_, e| e.expires_ms > now_ms);
        let seed = format!("{}:{}:{}", account.0, WallClock.now().0, self.sequence.fetch_add(1, Ordering::Relaxed));
        let key: String = signing::hmac_sha256_hex(secret, seed.as_bytes()).chars().take(60).collect();
        keys.insert(key.clone(), Entry { account, expires_ms });
        key
    }

    /// Extends `key` if it is live and `account`'s; whether it was.
    pub(crate) fn keepalive(&self, key: &str, account: AccountId, now_ms: i64) -> bool {
        match self.lock().get_mut(key) {
            Some(e) if e.account == account && e.expires_ms > now_ms => {
                e.expires_ms = now_ms.saturating_add(self.validity_ms);
                true
            }
            _ => false,
        }
    }

    /// The live key of `account`, if any.
    pub(crate) fn key_of(&self, account: AccountId, now_ms: i64) -> Option<String> {
        self.lock().iter().find(|(_, e)| e.account == account && e.expires_ms > now_ms).map(|(k, _)| k.clone())
    }

    /// Closes `key` if it is live and `account`'s; whether it was.
    pub(crate) fn close(&self, key: &str, account: AccountId, now_ms: i64) -> bool {
        let mut keys = self.lock();
        match keys.get(key) {
            Some(e) if e.account == account && e.expires_ms > now_ms => keys.remove(key).is_some(),
            _ => false,
        }
    }

    /// The account of a live key.
    pub(crate) fn account_of(&self, key: &str, now_ms: i64) -> Option<AccountId> {
        self.lock().get(key).filter(|e| e.expires_ms > now_ms).map(|e| e.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One live key per account, extended by start and keepalive, gone after its validity or a
    /// close, and only its own account may touch it.
    #[test]
    fn a_key_lives_until_it_expires_or_closes() {
        let keys = ListenKeys::new(Duration::from_secs(60));
        let (a, b) = (AccountId(0), AccountId(1));
        let k = keys.start(a, "secret", 1000);
        assert_eq!(k.len(), 60);
        assert_eq!(keys.start(a, "secret", 2000), k, "the live key again");
        assert_ne!(keys.start(b, "secret", 2000), k);
        assert_eq!(keys.account_of(&k, 61_999), Some(a));
        assert_eq!(keys.account_of(&k, 62_000), None, "expired");
        assert!(!keys.keepalive(&k, b, 3000), "not b's key");
        assert!(keys.keepalive(&k, a, 30_000));
        assert_eq!(keys.account_of(&k, 89_999), Some(a));
        assert_eq!(keys.key_of(a, 30_000).as_deref(), Some(k.as_str()));
        assert!(!keys.close(&k, b, 30_000));
        assert!(keys.close(&k, a, 30_000));
        assert_eq!(keys.account_of(&k, 30_000), None);
    }
}
