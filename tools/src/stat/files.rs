//! Where stats files live: the default path, opening one for a run (with the fallback when a
//! live engine holds the default), and finding the one `qt stat` should read.
//!
//! Default directory: `$QT_STATS_DIR` if set, else `/dev/shm` (memory, so the engine's stores never wait on a disk) or, where
//! there is none, the temp dir. Default file: `qt-$USER.stats`; if a live engine holds it, a run
//! takes `qt-$USER-<pid>.stats` and says so. Files stay after the run (a reader then says
//! "stale since …"). Cold: start-up and `qt stat` only.

use crate::config::StatsPlan;
use anyhow::anyhow;
use qt_core::stats::{Capacity, Liveness, Snapshot, StatsError, StatsRegion, unix_now_ns};
use std::path::{Path, PathBuf};

/// The directory default stats files go in (`QT_STATS_DIR` overrides).
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("QT_STATS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() }
}

/// `$USER` as a file name part (`user` when unset or nothing of it is safe).
pub fn user() -> String {
    let u = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let clean: String = u.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    if clean.is_empty() { "user".into() } else { clean }
}

/// `qt-$USER.stats` in [`default_dir`].
pub fn default_path() -> PathBuf {
    default_dir().join(format!("qt-{}.stats", user()))
}

/// Opens the run's stats file as `plan` says (`None`: `--no-stats`), printing its path on
/// stderr. An explicit file a live engine holds is refused naming it; the default one falls
/// back to a per-process name.
pub fn open_for_run(plan: &StatsPlan) -> anyhow::Result<Option<StatsRegion>> {
    if !plan.enabled {
        return Ok(None);
    }
    let region = match &plan.file {
        Some(path) => StatsRegion::create(path, Capacity::default()).map_err(|e| match e {
            StatsError::Locked { path } => {
                anyhow!(
                    "stats file {} is in use by another running engine (pick another with --stats-file)",
                    path.display()
                )
            }
            other => anyhow!(other),
        })?,
        None => {
            let path = default_path();
            match StatsRegion::create(&path, Capacity::default()) {
                Ok(r) => r,
                Err(StatsError::Locked { .. }) => {
                    let alt = default_dir().join(format!("qt-{}-{}.stats", user(), std::process::id()));
                    log::warn!(
                        "stats: {} is in use by a running engine; this run writes {}",
                        path.display(),
                        alt.display()
                    );
                    StatsRegion::create(&alt, Capacity::default())?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if let Some(p) = region.path() {
        // Through the logger, so a JSON-lines run stays JSON lines.
        log::info!("stats file: {} (watch it with: qt stat --file {})", p.display(), p.display());
    }
    Ok(Some(region))
}

/// Whether process `pid` exists (`/proc`; true where there is no `/proc` to ask).
pub fn pid_alive(pid: u64) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Whether the writer of `snap` is alive now: heartbeat recent and its process there.
pub fn is_live(snap: &Snapshot) -> bool {
    snap.liveness(unix_now_ns()) == Liveness::Live && pid_alive(snap.header.pid)
}

/// The file `qt stat` reads: `explicit`, else the default file if its engine is live, else the
/// single live `qt-*.stats` in the default directory; otherwise an error listing candidates.
pub fn find(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let default = default_path();
    if Snapshot::read_file(&default).is_ok_and(|s| is_live(&s)) {
        return Ok(default);
    }
    let dir = default_dir();
    let mut candidates: Vec<(PathBuf, bool)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("qt-") && n.ends_with(".stats"))
                })
                .map(|p| {
                    let live = Snapshot::read_file(&p).is_ok_and(|s| is_live(&s));
                    (p, live)
                })
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    let live: Vec<&PathBuf> = candidates.iter().filter(|(_, l)| *l).map(|(p, _)| p).collect();
    if let [only] = live.as_slice() {
        return Ok((*only).clone());
    }
    if candidates.is_empty() {
        anyhow::bail!("no stats file in {} (is an engine running? give one with --file F)", dir.display());
    }
    let list: Vec<String> =
        candidates.iter().map(|(p, l)| format!("  {} ({})", p.display(), if *l { "live" } else { "stale" })).collect();
    anyhow::bail!("{} live stats files in {}; pick one with --file F:\n{}", live.len(), dir.display(), list.join("\n"))
}
