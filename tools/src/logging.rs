//! How `qt` writes its log: `env_logger` (so `RUST_LOG` filters as always) with one format
//! function that writes either text or JSON lines, and the `qt-log` thread that drains the core
//! thread's log ring ([`qt_core::log_ring`]) into that logger.
//!
//! **Format.** Text by default; JSON lines when `--log-format json` or `[log] format = "json"`
//! says so (either wins: [`choose`]). One JSON object per line:
//!
//! ```text
//! {"ts":"2026-12-07T05:12:12.123456Z","level":"WARN","target":"qt_risk::hooks",
//!  "service":"quantum-trader/main","msg":"risk.updated","correlation_id":17,
//!  "fields":{"from":"normal","to":"elevated"}}
//! ```
//!
//! `ts` is RFC 3339 UTC with microseconds — for a record from the core, the time the core made
//! it (its [`log_ring::TS_KEY`]), not the time it was written; `correlation_id` appears when the
//! record carries one (the engine's order id, from which the client order id is derived);
//! `fields` holds the record's other key values, when it has any. Strings are escaped by
//! `serde_json`. Nothing here adds secrets: the lines say what the callers say.
//!
//! **`qt-log` thread.** Polls the core's ring every few milliseconds and emits each record
//! through `log::logger()`; reports records the core dropped because the ring was full.

use qt_core::log_ring::{self, LogDrain};
use serde::Deserialize;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// The service name every JSON line carries (with the run's name when known).
pub const SERVICE: &str = "quantum-trader";

/// How the `qt-log` thread waits when the ring is empty.
const DRAIN_INTERVAL: Duration = Duration::from_millis(2);

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `[ts LEVEL target] msg key=value ...`.
    #[default]
    Text,
    /// One JSON object per line (see the module doc).
    Json,
}

static JSON: AtomicBool = AtomicBool::new(false);
static SERVICE_NAME: OnceLock<String> = OnceLock::new();

/// JSON when either the command line or the configuration asks for it; else text.
pub fn choose(flag: Option<LogFormat>, config: LogFormat) -> LogFormat {
    if flag == Some(LogFormat::Json) || config == LogFormat::Json { LogFormat::Json } else { LogFormat::Text }
}

/// Installs the logger (`RUST_LOG`, default `info`) with [`write_line`]'s format. Once per
/// process; later calls do nothing.
pub fn init() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            let style = buf.default_level_style(record.level());
            write_line(buf, record, format(), service(), style)
        })
        .try_init();
}

/// Switches every later line to `format`.
pub fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

/// The format in force.
pub fn format() -> LogFormat {
    if JSON.load(Ordering::Relaxed) { LogFormat::Json } else { LogFormat::Text }
}

/// Names the service in JSON lines `quantum-trader/<run>` (the first call wins).
pub fn set_service(run: &str) {
    let _ = SERVICE_NAME.set(if run.is_empty() { SERVICE.to_string() } else { format!("{SERVICE}/{run}") });
}

fn service() -> &'static str {
    SERVICE_NAME.get().map_or(SERVICE, String::as_str)
}

/// A record's key values, split into the line's own keys and its fields.
#[derive(Debug, Default)]
struct Parts {
    ts_unix_ns: Option<i64>,
    correlation_id: Option<u64>,
    fields: Vec<(String, serde_json::Value)>,
}

impl<'kvs> log::kv::VisitSource<'kvs> for Parts {
    fn visit_pair(&mut self, key: log::kv::Key<'kvs>, value: log::kv::Value<'kvs>) -> Result<(), log::kv::Error> {
        let json = to_json(&value);
        match key.as_str() {
            log_ring::TS_KEY => self.ts_unix_ns = json.as_i64(),
            log_ring::CORRELATION_KEY => self.correlation_id = json.as_u64(),
            k => self.fields.push((k.to_string(), json)),
        }
        Ok(())
    }
}

fn to_json(value: &log::kv::Value<'_>) -> serde_json::Value {
    struct ToJson(serde_json::Value);
    impl<'v> log::kv::VisitValue<'v> for ToJson {
        fn visit_any(&mut self, value: log::kv::Value<'_>) -> Result<(), log::kv::Error> {
            self.0 = serde_json::Value::String(value.to_string());
            Ok(())
        }
        fn visit_u64(&mut self, value: u64) -> Result<(), log::kv::Error> {
            self.0 = value.into();
            Ok(())
        }
        fn visit_i64(&mut self, value: i64) -> Result<(), log::kv::Error> {
            self.0 = value.into();
            Ok(())
        }
        fn visit_bool(&mut self, value: bool) -> Result<(), log::kv::Error> {
            self.0 = value.into();
            Ok(())
        }
        fn visit_str(&mut self, value: &str) -> Result<(), log::kv::Error> {
            self.0 = value.into();
            Ok(())
        }
    }
    let mut v = ToJson(serde_json::Value::Null);
    match value.visit(&mut v) {
        Ok(()) => v.0,
        Err(_) => serde_json::Value::String(value.to_string()),
    }
}

/// Writes `record` as one line in `format`, ending in a newline.
pub fn write_line(
    out: &mut dyn Write,
    record: &log::Record<'_>,
    format: LogFormat,
    service: &str,
    level_style: impl std::fmt::Display,
) -> std::io::Result<()> {
    let mut parts = Parts::default();
    let _ = record.key_values().visit(&mut parts);
    let ts = parts
        .ts_unix_ns
        .and_then(|ns| u64::try_from(ns).ok())
        .map_or_else(SystemTime::now, |ns| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns));
    let ts = humantime::format_rfc3339_micros(ts);
    match format {
        LogFormat::Json => {
            // Written key by key so the line reads in a fixed order (ts first, fields in the
            // record's order); every string goes through serde_json's escaping.
            let text = |s: &str| serde_json::Value::from(s).to_string();
            write!(out, "{{\"ts\":{},\"level\":{}", text(&ts.to_string()), text(record.level().as_str()))?;
            write!(out, ",\"target\":{},\"service\":{}", text(record.target()), text(service))?;
            write!(out, ",\"msg\":{}", text(&record.args().to_string()))?;
            if let Some(id) = parts.correlation_id {
                write!(out, ",\"correlation_id\":{id}")?;
            }
            for (i, (k, v)) in parts.fields.iter().enumerate() {
                write!(out, "{}{}:{v}", if i == 0 { ",\"fields\":{" } else { "," }, text(k))?;
            }
            if !parts.fields.is_empty() {
                write!(out, "}}")?;
            }
            writeln!(out, "}}")
        }
        LogFormat::Text => {
            let level = record.level();
            write!(out, "[{ts} {level_style}{level:<5}{level_style:#} {}] {}", record.target(), record.args())?;
            if let Some(id) = parts.correlation_id {
                write!(out, " correlation_id={id}")?;
            }
            for (k, v) in &parts.fields {
                write!(out, " {k}={v}")?;
            }
            writeln!(out)
        }
    }
}

/// What the `qt-log` thread saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogTally {
    /// Records written.
    pub written: u64,
    /// Records the core dropped (ring full).
    pub dropped: u64,
}

/// The running `qt-log` thread.
#[derive(Debug)]
pub struct LogThread {
    handle: JoinHandle<LogTally>,
    stop: Arc<AtomicBool>,
}

impl LogThread {
    /// Starts draining `drain` on a thread named `qt-log`.
    pub fn spawn(mut drain: LogDrain) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new().name("qt-log".into()).spawn(move || {
            let mut tally = LogTally::default();
            loop {
                // Read the flag before draining: whatever was pushed before it was set is
                // drained on this pass.
                let stopping = flag.load(Ordering::Acquire) || drain.is_abandoned();
                let n = drain.drain();
                tally.written += n as u64;
                let dropped = drain.counters().dropped.load(Ordering::Relaxed);
                if dropped > tally.dropped {
                    log::warn!(
                        "log: {} core log record(s) dropped, the ring was full ({} in all)",
                        dropped - tally.dropped,
                        dropped
                    );
                    tally.dropped = dropped;
                }
                if stopping && n == 0 {
                    return tally;
                }
                if n == 0 {
                    std::thread::sleep(DRAIN_INTERVAL);
                }
            }
        })?;
        Ok(Self { handle, stop })
    }

    /// Drains what is left, stops and joins the thread.
    pub fn finish(self) -> LogTally {
        self.stop.store(true, Ordering::Release);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::log_ring::{FieldValue, LogRecord};

    /// `record` rendered through the same `log::Record` (with the ring's key values) the
    /// `qt-log` thread hands the logger.
    fn line(format: LogFormat, record: &LogRecord) -> String {
        let mut out = Vec::new();
        record.with_log_record(|r| write_line(&mut out, r, format, "quantum-trader/test", "")).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_lines_carry_every_key_escaped() {
        let r = LogRecord::new(
            log::Level::Warn,
            "qt_risk::hooks",
            "ess: \"manual\" trigger\nrequested",
            42,
            &[("reason", FieldValue::text("a \"quoted\" reason")), ("n", FieldValue::I64(-3))],
        );
        let text = line(LogFormat::Json, &r);
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "{text:?}");
        assert!(
            text.starts_with("{\"ts\":\"") && text.contains(r#""fields":{"reason":"a \"quoted\" reason","n":-3}}"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "qt_risk::hooks");
        assert_eq!(v["service"], "quantum-trader/test");
        assert_eq!(v["msg"], "ess: \"manual\" trigger\nrequested");
        assert_eq!(v["correlation_id"], 42);
        assert_eq!(v["fields"]["reason"], "a \"quoted\" reason");
        assert_eq!(v["fields"]["n"], -3);
        // The record's own time, RFC 3339 UTC with microseconds.
        let ts = v["ts"].as_str().unwrap();
        let parsed = humantime::parse_rfc3339(ts).unwrap();
        let want = SystemTime::UNIX_EPOCH + Duration::from_nanos(r.ts.0 as u64 / 1_000 * 1_000);
        assert_eq!(parsed, want);
        assert!(ts.ends_with('Z') && ts.len() == "2026-12-07T05:12:12.123456Z".len(), "{ts}");
    }

    #[test]
    fn no_correlation_no_fields_keys() {
        let r = LogRecord::new(log::Level::Info, "t", "m", 0, &[]);
        let v: serde_json::Value = serde_json::from_str(&line(LogFormat::Json, &r)).unwrap();
        assert!(v.get("correlation_id").is_none() && v.get("fields").is_none(), "{v}");
        let text = line(LogFormat::Text, &r);
        assert!(text.ends_with("INFO  t] m\n"), "{text:?}");
    }

    #[test]
    fn text_lines_list_the_fields() {
        let r = LogRecord::new(log::Level::Error, "t", "stop", 9, &[("source", FieldValue::Str("manual"))]);
        let text = line(LogFormat::Text, &r);
        assert!(text.ends_with("ERROR t] stop correlation_id=9 source=\"manual\"\n"), "{text:?}");
    }

    #[test]
    fn json_wins_when_either_asks() {
        assert_eq!(choose(None, LogFormat::Text), LogFormat::Text);
        assert_eq!(choose(Some(LogFormat::Json), LogFormat::Text), LogFormat::Json);
        assert_eq!(choose(Some(LogFormat::Text), LogFormat::Json), LogFormat::Json);
        assert_eq!(choose(None, LogFormat::Json), LogFormat::Json);
    }
}
