//! Kraken's nonce ([`NonceSource`]): strictly increasing per API key, across restarts.
//!
//! Kraken refuses a request whose nonce is not above the last one it saw for the key
//! (`EAPI:Invalid nonce`, `NOTES-orders.md` §5). A nonce is the wall clock in microseconds,
//! bumped to one above the last nonce issued when the clock has not moved past it (several
//! requests in one microsecond, a clock stepped back).
//!
//! Why a restart cannot go backwards: the journal file holds a *ceiling* `C`, and every nonce
//! ever issued is below the ceiling that was on disk (written and synced) before it was issued —
//! when a nonce would reach `C`, a new ceiling `nonce + RESERVE` is written and synced first. A
//! restarted process reads `C` and issues nothing at or below it, so its first nonce is above
//! every nonce of the previous run even if the wall clock went back meanwhile. The journal is
//! written about once per [`RESERVE`] of clock time (every 10 s of steady use), not per request.
//! An unreadable journal is an error at start (never silently zero).
//!
//! Where the journal lives ([`NonceLane`]): one file per API key, `kraken-nonce-<fingerprint>`
//! in the engine's journal directory (`qt run`'s `[journal] dir`, which one engine holds at a
//! time: `GatewayConfig::state_dir`), so a run continuing a journal continues its nonces; the
//! fingerprint is a hash of the key, never the key. Every thread of the process that signs for
//! a key — the gateway thread, the private stream's token requests, `qt run`'s balance
//! queries — shares the key's one lane, and holds it from issuing a nonce until the request's
//! answer is in ([`NonceLane::with_next`]), so the venue receives the key's nonces in the order
//! they were issued. Two processes trading one key at once is outside this guarantee (Kraken's
//! advice: one key per process).
//!
//! Runs on the gateway thread; `next` allocates only when it writes the journal.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// How far ahead of the last nonce a written ceiling reaches, in nonce units (µs): 10 s.
pub const RESERVE: u64 = 10_000_000;

/// Why the nonce journal failed.
#[derive(Debug, thiserror::Error)]
pub enum NonceError {
    /// The journal could not be read or written.
    #[error("kraken nonce journal {path}: {source}")]
    Io {
        /// The journal's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The journal holds something that is not a nonce.
    #[error("kraken nonce journal {path}: not a nonce: {text:?}")]
    Corrupt {
        /// The journal's path.
        path: PathBuf,
        /// What it holds (a short excerpt).
        text: String,
    },
}

/// Issues strictly increasing nonces, journalled so they keep increasing across restarts.
#[derive(Debug)]
pub struct NonceSource {
    path: Option<PathBuf>,
    last: u64,
    ceiling: u64,
    clock_us: fn() -> u64,
}

/// The wall clock in µs since the Unix epoch.
pub fn wall_clock_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

impl NonceSource {
    /// A source journalled at `path` (created if absent), reading the wall clock.
    pub fn open(path: &Path) -> Result<Self, NonceError> {
        Self::open_with_clock(path, wall_clock_us)
    }

    /// [`Self::open`] with another clock (tests step it back).
    pub fn open_with_clock(path: &Path, clock_us: fn() -> u64) -> Result<Self, NonceError> {
        let io = |source| NonceError::Io { path: path.to_owned(), source };
        let ceiling = match std::fs::read_to_string(path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| NonceError::Corrupt { path: path.to_owned(), text: text.chars().take(40).collect() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(e)),
        };
        Ok(Self { path: Some(path.to_owned()), last: ceiling, ceiling, clock_us })
    }

    /// A source without a journal (nonces increase only within this process: tests, tools).
    pub fn unjournalled() -> Self {
        Self { path: None, last: 0, ceiling: u64::MAX, clock_us: wall_clock_us }
    }

    /// The last nonce issued (the ceiling read at start before any).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The next nonce: the clock in µs, or one above the last when the clock has not passed it;
    /// the journal's ceiling is raised (written and synced) before a nonce reaches it.
    pub fn issue(&mut self) -> Result<u64, NonceError> {
        let nonce = (self.clock_us)().max(self.last.saturating_add(1));
        if nonce >= self.ceiling {
            let ceiling = nonce.saturating_add(RESERVE);
            if let Some(path) = &self.path {
                write_synced(path, ceiling).map_err(|source| NonceError::Io { path: path.clone(), source })?;
            }
            self.ceiling = ceiling;
        }
        self.last = nonce;
        Ok(nonce)
    }
}

/// Writes `ceiling` to a temporary file, syncs it, and renames it over `path`.
fn write_synced(path: &Path, ceiling: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{ceiling}")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Where the nonce journal of `api_key` lives under `dir`: `kraken-nonce-<16 hex digits>`, the
/// key's FNV-1a hash (as [`crate::kraken::rest::venue_order_id`] hashes a txid; the key itself
/// never reaches the file system).
pub fn journal_path(dir: &Path, api_key: &str) -> PathBuf {
    dir.join(format!("kraken-nonce-{:016x}", crate::kraken::rest::venue_order_id(api_key)))
}

/// One API key's nonces, shared by every thread of the process that signs for the key.
#[derive(Debug, Clone)]
pub struct NonceLane(Arc<Mutex<NonceSource>>);

/// The process's lanes, by journal path (a weak entry dies with its last user).
static LANES: Mutex<Vec<(PathBuf, Weak<Mutex<NonceSource>>)>> = Mutex::new(Vec::new());

impl NonceLane {
    /// `api_key`'s lane, journalled under `dir` ([`journal_path`]): the one this process already
    /// holds, else opened from the journal (an unreadable journal is an error). `dir` `None`:
    /// nonces increase within this process only (tools, tests), shared by key all the same.
    pub fn open(dir: Option<&Path>, api_key: &str) -> Result<Self, NonceError> {
        let path = match dir {
            Some(d) => journal_path(d, api_key),
            None => journal_path(Path::new("<unjournalled>"), api_key),
        };
        let mut lanes = LANES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lanes.retain(|(_, w)| w.strong_count() > 0);
        if let Some(lane) = lanes.iter().find(|(p, _)| *p == path).and_then(|(_, w)| w.upgrade()) {
            return Ok(Self(lane));
        }
        let source = match dir {
            Some(_) => NonceSource::open(&path)?,
            None => NonceSource::unjournalled(),
        };
        let lane = Arc::new(Mutex::new(source));
        lanes.push((path, Arc::downgrade(&lane)));
        Ok(Self(lane))
    }

    /// Issues the next nonce and runs `send` with it, holding the lane until `send` returns (the
    /// request's answer is in), so no other thread's nonce overtakes it on the way to the venue.
    pub fn with_next<T>(&self, send: impl FnOnce(u64) -> T) -> Result<T, NonceError> {
        let mut source = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let nonce = source.issue()?;
        Ok(send(nonce))
    }

    /// The last nonce issued.
    pub fn last(&self) -> u64 {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_increase_even_when_the_clock_stands_still() {
        let mut n = NonceSource::unjournalled();
        n.clock_us = || 5;
        let (a, b, c) = (n.issue().unwrap(), n.issue().unwrap(), n.issue().unwrap());
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn one_key_has_one_lane_per_process_and_its_file_never_names_the_key() {
        let dir = std::env::temp_dir().join(format!("qt-kraken-lane-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = NonceLane::open(Some(&dir), "key-a").unwrap();
        let b = NonceLane::open(Some(&dir), "key-a").unwrap();
        let n1 = a.with_next(|n| n).unwrap();
        let n2 = b.with_next(|n| n).unwrap();
        assert!(n2 > n1, "the second opener shares the first's nonces");
        let other = NonceLane::open(Some(&dir), "key-b").unwrap();
        assert!(!Arc::ptr_eq(&a.0, &other.0));
        let path = journal_path(&dir, "key-a");
        assert!(path.exists() && !path.to_string_lossy().contains("key-a"), "{path:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Threads sharing a key take turns from issue to answer: the order in which their
    /// "requests" reach the venue (here, a shared log written inside `with_next`) is the order
    /// of the nonces — none overtakes another, as Kraken requires.
    #[test]
    fn a_lane_is_held_from_issue_to_answer() {
        let lane = NonceLane::open(None, "key-threads").unwrap();
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (lane, arrived) = (lane.clone(), arrived.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        lane.with_next(|n| {
                            std::thread::yield_now();
                            arrived.lock().unwrap().push(n);
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let arrived = arrived.lock().unwrap();
        assert_eq!(arrived.len(), 800);
        assert!(arrived.windows(2).all(|w| w[0] < w[1]), "a nonce overtook another");
    }
}
