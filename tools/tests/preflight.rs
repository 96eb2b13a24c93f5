//! `qt preflight` as an operator runs it before going live: against `qt venue-sim` (spawned
//! like `qt_all_venues.rs` does) with the Binance example configuration, it passes; each of an
//! unwritable journal directory, a world-readable key file, an unreachable venue, a skewed clock
//! and a latched emergency stop in the journal makes it fail, naming the check and the reason.

mod util;

use qt_core::Nanos;
use qt_core::journal::{JournalEvent, JournalRecord};
use qt_core::risk_api::RiskState;
use qt_recorder::payload::core_record::CoreEncoder;
use qt_recorder::{JournalConfig, JournalWriter, RecordType};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use util::venue_sim::VenueSimProcess;

/// `qt venue-sim` serving Binance spot (and Bybit) on free ports with a slow flow, its CA file
/// in `dir`.
fn start_sim(dir: &Path) -> VenueSimProcess {
    let text = include_str!("../../examples/venue-sim.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", "ca_file = \"ca.pem\"")
        .replace("127.0.0.1:9443", "127.0.0.1:0")
        .replace("127.0.0.1:9444", "127.0.0.1:0")
        .replace("events_per_sec = 2000.0", "events_per_sec = 20.0")
        .replace("events_per_sec = 1000.0", "events_per_sec = 10.0");
    VenueSimProcess::start(dir, &text)
}

/// A scratch folder with the simulator running in it and a live configuration for it
/// (`live.toml`, mode 0600: it holds the simulator's keys inline) journaling into `journal/`.
struct Rig {
    dir: util::Scratch,
    sim: VenueSimProcess,
}

impl Rig {
    fn new(tag: &str) -> Self {
        let dir = util::Scratch(util::temp_dir(&format!("preflight-{tag}")));
        let sim = start_sim(&dir.0);
        let rig = Self { dir, sim };
        rig.write_config(&rig.binance().to_string(), "");
        rig
    }

    fn binance(&self) -> std::net::SocketAddr {
        self.sim.addrs["binance"]
    }

    /// Sets a fault on the simulator (`POST /_sim/faults`).
    fn fault(&self, body: &str) {
        let (status, reply) = self.sim.client("binance").post("/_sim/faults", body.as_bytes()).unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    }

    fn journal(&self) -> PathBuf {
        self.dir.0.join("journal")
    }

    fn config(&self) -> PathBuf {
        self.dir.0.join("live.toml")
    }

    /// The Binance example pointed at `addr`, with `extra` appended.
    fn write_config(&self, addr: &str, extra: &str) {
        let text = include_str!("../../examples/binance-venue-sim.toml")
            .replace("127.0.0.1:9443", addr)
            .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", self.sim.ca.display().to_string()));
        let journal = format!("\n[journal]\ndir = {:?}\n", self.journal().display().to_string());
        std::fs::write(self.config(), format!("{text}{journal}{extra}")).unwrap();
        std::fs::set_permissions(self.config(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// `qt preflight --json`: exit code and the checks by name.
    fn preflight(&self, extra: &[&str]) -> (i32, Vec<Value>, String) {
        let (mut cmd, _cwd) = util::qt_command();
        let out = cmd
            .args(["preflight", "--config", self.config().to_str().unwrap(), "--min-free", "1"])
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let checks: Vec<Value> = if extra.contains(&"--json") {
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not a JSON array ({e}): {stdout}"))
        } else {
            Vec::new()
        };
        (out.status.code().unwrap_or(-1), checks, stdout)
    }
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
}

fn assert_fails(checks: &[Value], name: &str, why: &str) {
    let c = check(checks, name);
    assert_eq!(c["status"], "FAIL", "{c}");
    assert!(c["why"].as_str().unwrap().contains(why), "{name}: want {why:?} in {c}");
}

#[test]
fn passes_against_the_venue_simulator() {
    let rig = Rig::new("pass");
    let (code, checks, _) = rig.preflight(&["--json", "--metrics", "127.0.0.1:0"]);
    for c in &checks {
        assert_ne!(c["status"], "FAIL", "{c}");
    }
    assert_eq!(code, 0, "{checks:#?}");
    for name in ["config", "keys", "journal-dir", "venue binance", "clock-skew binance", "instruments binance"] {
        assert_eq!(check(&checks, name)["status"], "PASS", "{name}: {checks:#?}");
    }
    assert!(check(&checks, "instruments binance")["why"].as_str().unwrap().contains("BTCUSDT"));
    // No journal yet: nothing latched can carry over.
    assert_eq!(check(&checks, "ess")["status"], "SKIP");
    assert_eq!(check(&checks, "metrics-port")["status"], "PASS");
    // The text form: one line per check.
    let (code, _, text) = rig.preflight(&[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.lines().any(|l| l.starts_with("PASS venue binance: ")), "{text}");
    assert!(text.lines().all(|l| l.starts_with("PASS ") || l.starts_with("SKIP ")), "{text}");
}

#[test]
fn an_unwritable_journal_dir_fails() {
    let rig = Rig::new("unwritable");
    // As root, mode bits do not stop a write: /proc refuses new files whoever asks.
    let root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let journal = if root {
        PathBuf::from("/proc/qt-preflight-journal")
    } else {
        let j = rig.journal();
        std::fs::create_dir_all(&j).unwrap();
        std::fs::set_permissions(&j, std::fs::Permissions::from_mode(0o555)).unwrap();
        j
    };
    let text = std::fs::read_to_string(rig.config()).unwrap().replace(
        &format!("dir = {:?}", rig.journal().display().to_string()),
        &format!("dir = {:?}", journal.display().to_string()),
    );
    std::fs::write(rig.config(), text).unwrap();
    let (code, checks, _) = rig.preflight(&["--json"]);
    assert_ne!(code, 0);
    assert_fails(&checks, "journal-dir", "is not writable");
    if !root {
        std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_world_readable_key_file_fails() {
    let rig = Rig::new("keyfile");
    let secret = rig.dir.0.join("reset.secret");
    std::fs::write(&secret, "a-reset-secret-of-enough-length\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let addr = rig.binance().to_string();
    rig.write_config(&addr, &format!("\n[ess]\nreset_secret_file = {:?}\n", secret.display().to_string()));
    let (code, checks, stdout) = rig.preflight(&["--json"]);
    assert_ne!(code, 0);
    assert_fails(&checks, "keys", "ess.reset_secret_file");
    assert_fails(&checks, "keys", "mode 0644");
    assert!(!stdout.contains("a-reset-secret"), "never the secret: {stdout}");
    // The same key file, private: the keys pass.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, checks, _) = rig.preflight(&["--json"]);
    assert_eq!(check(&checks, "keys")["status"], "PASS", "{checks:#?}");
}

#[test]
fn an_unreachable_venue_fails() {
    let rig = Rig::new("unreachable");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    rig.write_config(&closed.to_string(), "");
    let (code, checks, _) = rig.preflight(&["--json"]);
    assert_ne!(code, 0);
    assert_fails(&checks, "venue binance", &closed.to_string());
    assert_eq!(check(&checks, "clock-skew binance")["status"], "SKIP");
}

#[test]
fn a_skewed_clock_fails() {
    let rig = Rig::new("skew");
    rig.fault(r#"{"clock_skew_ms": 5000}"#);
    let (code, checks, _) = rig.preflight(&["--json"]);
    assert_ne!(code, 0);
    assert_fails(&checks, "clock-skew binance", "clock skew too large");
    assert_eq!(check(&checks, "venue binance")["status"], "PASS");
    // A wider limit accepts it.
    let (_, checks, _) = rig.preflight(&["--json", "--max-skew", "10s"]);
    assert_eq!(check(&checks, "clock-skew binance")["status"], "PASS", "{checks:#?}");
}

#[test]
fn a_latched_emergency_stop_in_the_journal_fails() {
    let rig = Rig::new("latched");
    // The journal a live run left: its configuration, then the stop tripped by hand and latched,
    // written as the journal thread writes the core's records.
    let mut writer = JournalWriter::open(rig.journal(), JournalConfig::default()).unwrap();
    let config = std::fs::read_to_string(rig.config()).unwrap();
    qt_tools::journal::append_text(&mut writer, &rig.journal(), RecordType::Config, Nanos(1), &config).unwrap();
    let mut encoder = CoreEncoder::new(RiskState::default());
    let mut buf = [0u8; qt_recorder::payload::MAX_LEN];
    let since = Nanos(1_700_000_000_000_000_000);
    for ess in [RiskState::TRIGGERED, RiskState::LATCHED] {
        let state =
            RiskState { ess, ess_source: qt_risk::ess::TriggerSource::Manual as u8, level: 0, ess_since: since };
        let record = JournalRecord { domain_ns: since, mono_ns: Nanos(2), event: JournalEvent::RiskState(state) };
        writer.append(encoder.encode(&record, None, &mut buf).unwrap()).unwrap();
    }
    writer.commit().unwrap();
    drop(writer);
    let (code, checks, _) = rig.preflight(&["--json"]);
    assert_ne!(code, 0);
    assert_fails(&checks, "ess", "LATCHED (manual, since 2023-11-14T22:13:20.000Z)");
    assert_eq!(check(&checks, "global-risk")["status"], "PASS");
}

#[test]
fn a_taken_metrics_address_and_a_stats_file_held_by_a_running_engine_fail() {
    let rig = Rig::new("stats");
    let stats = rig.dir.0.join("held.stats");
    let (mut cmd, _cwd) = util::qt_command();
    let mut engine = cmd
        .args([
            "run",
            "--duration",
            "60s",
            "--pace",
            "realtime",
            "--no-journal",
            "--stats-file",
            stats.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    util::wait_for_file(&stats, std::time::Duration::from_secs(30), "the engine never wrote its stats file");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let addr = rig.binance().to_string();
    rig.write_config(&addr, &format!("\n[stats]\nfile = {:?}\nlisten = {listen:?}\n", stats.display().to_string()));
    let (code, checks, _) = rig.preflight(&["--json"]);
    let _ = engine.kill();
    let _ = engine.wait();
    assert_ne!(code, 0, "{checks:#?}");
    assert_fails(&checks, "stats-file", "held by a running engine");
    assert_fails(&checks, "metrics-port", &listen);
    // Once the engine is gone the same file can be taken over.
    let (_, checks, _) = rig.preflight(&["--json"]);
    assert_eq!(check(&checks, "stats-file")["status"], "PASS", "{checks:#?}");
}
