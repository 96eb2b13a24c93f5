//! `[stats]`: the stats file and the exporter's settings ([`StatsPlan`]).
//!
//! ```toml
//! [stats]
//! enabled = true              # --no-stats turns the stats file off for one run
//! file = "/dev/shm/qt.stats"  # --stats-file F; default: qt-$USER.stats in /dev/shm (else the
//!                             # temp dir), qt-$USER-<pid>.stats if a live engine holds that one
//! listen = "127.0.0.1:9184"   # --metrics ADDR: GET /metrics, /health/live, /health/ready; off when absent
//! on_listen_error = "fail"    # "fail" | "warn" (metrics off, a warning) when the address is taken
//! textfile = "/var/lib/node_exporter/qt.prom"   # node_exporter textfile collector; off when absent
//! textfile_interval = "15s"   # how often the textfile is rewritten (temp + rename)
//! ```

use super::Problems;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The `[stats]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStats {
    /// Write the stats file.
    pub enabled: bool,
    /// Its path (default: see the module doc).
    pub file: Option<PathBuf>,
    /// Address of the metrics and health endpoints.
    pub listen: Option<String>,
    /// What a taken address does: "fail" or "warn".
    pub on_listen_error: String,
    /// node_exporter textfile path.
    pub textfile: Option<PathBuf>,
    /// Textfile rewrite interval.
    pub textfile_interval: String,
}

impl Default for RawStats {
    fn default() -> Self {
        Self {
            enabled: true,
            file: None,
            listen: None,
            on_listen_error: "fail".into(),
            textfile: None,
            textfile_interval: "15s".into(),
        }
    }
}

/// What a metrics address that cannot be bound does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnListenError {
    /// The run does not start (the error names the address).
    Fail,
    /// Metrics off, a warning.
    Warn,
}

/// How the run publishes its numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsPlan {
    /// Write the stats file (`--no-stats`: no).
    pub enabled: bool,
    /// The file; `None`: the default ([`crate::stat::files::default_path`]).
    pub file: Option<PathBuf>,
    /// Metrics and health endpoints' address (`None`: off).
    pub listen: Option<SocketAddr>,
    /// A taken address: fail or warn.
    pub on_listen_error: OnListenError,
    /// node_exporter textfile (`None`: off).
    pub textfile: Option<PathBuf>,
    /// Textfile rewrite interval.
    pub textfile_interval: Duration,
    /// Print a status line this often on stderr (`None`: not; `qt run` turns it on when stderr is
    /// a terminal, `--quiet` off, `--progress EVERY` forces it).
    pub progress: Option<Duration>,
}

impl Default for StatsPlan {
    fn default() -> Self {
        Self {
            enabled: true,
            file: None,
            listen: None,
            on_listen_error: OnListenError::Fail,
            textfile: None,
            textfile_interval: Duration::from_secs(15),
            progress: None,
        }
    }
}

/// Parses a metrics address (`HOST:PORT`, an IP address; loopback is the safe choice).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| format!("{text:?} is not an address like \"127.0.0.1:9184\""))
}

/// Validates `[stats]`.
pub(super) fn validate(p: &mut Problems, s: &RawStats) -> StatsPlan {
    let listen = s.listen.as_deref().and_then(|t| match parse_listen(t) {
        Ok(a) => Some(a),
        Err(m) => {
            p.add("stats.listen", m);
            None
        }
    });
    let on_listen_error = match s.on_listen_error.as_str() {
        "fail" => OnListenError::Fail,
        "warn" => OnListenError::Warn,
        other => {
            p.add("stats.on_listen_error", format!("{other:?} is not one of \"fail\", \"warn\""));
            OnListenError::Fail
        }
    };
    let textfile_interval = match super::parse_duration(&s.textfile_interval) {
        Ok(d) if d.0 >= 1_000_000_000 => Duration::from_nanos(d.0 as u64),
        Ok(_) => {
            p.add("stats.textfile_interval", format!("{:?} must be at least 1s", s.textfile_interval));
            Duration::from_secs(15)
        }
        Err(m) => {
            p.add("stats.textfile_interval", m);
            Duration::from_secs(15)
        }
    };
    if let Some(f) = &s.file
        && f.as_os_str().is_empty()
    {
        p.add("stats.file", "must not be empty (leave it out for the default)");
    }
    if let Some(f) = &s.textfile
        && f.as_os_str().is_empty()
    {
        p.add("stats.textfile", "must not be empty (leave it out to turn the textfile off)");
    }
    StatsPlan {
        enabled: s.enabled,
        file: s.file.clone(),
        listen,
        on_listen_error,
        textfile: s.textfile.clone(),
        textfile_interval,
        progress: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(toml_text: &str) -> Vec<String> {
        let raw: RawStats = toml::from_str(toml_text).unwrap();
        let mut p = Problems(Vec::new());
        validate(&mut p, &raw);
        p.0.iter().map(|x| format!("{}: {}", x.path, x.message)).collect()
    }

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        assert!(problems("").is_empty());
        assert!(
            problems("listen = \"127.0.0.1:9184\"\non_listen_error = \"warn\"\ntextfile_interval = \"2s\"").is_empty()
        );
        let bad =
            problems("listen = \"localhost\"\non_listen_error = \"maybe\"\ntextfile_interval = \"10ms\"\nfile = \"\"");
        assert_eq!(bad.len(), 4, "{bad:?}");
        for field in ["stats.listen", "stats.on_listen_error", "stats.textfile_interval", "stats.file"] {
            assert!(bad.iter().any(|b| b.starts_with(field)), "{field} in {bad:?}");
        }
    }
}
