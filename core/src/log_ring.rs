//! The core thread's logging: a compact fixed-size [`LogRecord`] handed through a preallocated
//! SPSC ring to a logging thread, which formats and writes it through the normal `log` logger.
//!
//! A `log::warn!` formats its `fmt::Arguments` and writes the line (a lock and a `write`
//! syscall) in the calling thread; the core thread must do neither. [`core_log!`](crate::core_log)
//! instead checks the level (`log::max_level()`, one relaxed load), copies a record — static
//! message, static target, a correlation id (a client order id, or 0) and up to
//! [`MAX_FIELDS`] typed fields — into the ring, and goes on. A full ring drops the record and
//! counts it ([`LogCounters::dropped`]); the core never waits for the logger.
//!
//! ```text
//!  core thread (feeds, engine, risk hooks)              qt-log thread (tools::logging)
//!  ┌───────────────────────────────────┐  LogRecord   ┌─────────────────────────────────────┐
//!  │ core_log!(Warn, "msg", id; k = v) │  (≤ 576 B)   │ LogDrain::drain → log::logger().log  │
//!  │  level check → LogRecord::new     │─────────────►│  (the record's fields as log kv;     │
//!  │  → thread's LogSink (full: drop,  │  SPSC ring   │  RUST_LOG filter, text/JSON format)  │
//!  │    counted)                       │              └─────────────────────────────────────┘
//!  └───────────────────────────────────┘
//! ```
//!
//! **Which thread.** The ring's producer is installed per thread ([`install`]); the engine
//! installs its own when it runs (`Engine::set_log_sink`). A `core_log!` on a thread with no
//! sink (the main thread replaying a journal or restoring, `qt feed-check`, tests) is emitted
//! straight through `log` on that thread: code shared by the core and other threads (feed
//! decoders, the risk gate) logs with `core_log!` and never formats on the core.
//!
//! Contract of [`submit`] on a thread with a sink: no allocation, no lock, no syscall (the
//! timestamp is the vDSO real-time clock), no formatting of the message. Fields built with
//! [`FieldValue::display`] format into the record's inline buffer (cold error paths only).

use crate::inline_str::InlineStr;
use crate::queue::{Consumer, Producer, spsc};
use crate::time::{Clock, Nanos, WallClock};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use log::Level;

/// Fields one record carries; more are left out.
pub const MAX_FIELDS: usize = 8;
/// Longest inline text a field carries (a symbol, a feed name, an error's first words).
pub const TEXT_LEN: usize = 46;
/// Ring slots `qt run` gives the core's log ring.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Key under which the record's correlation id reaches the logger (only when non-zero).
pub const CORRELATION_KEY: &str = "correlation_id";
/// Key under which the record's wall-clock time (Unix ns, when it was pushed) reaches the
/// logger, so a line carries the time of the event, not of its formatting.
pub const TS_KEY: &str = "ts_unix_ns";

/// A field's value: numbers, a static string, or a short text copied inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// A signed number.
    I64(i64),
    /// An unsigned number.
    U64(u64),
    /// A flag.
    Bool(bool),
    /// A static string (a venue's name, a reason's name).
    Str(&'static str),
    /// A short text copied into the record (truncated at [`TEXT_LEN`] bytes).
    Text(InlineStr<TEXT_LEN>),
}

impl FieldValue {
    /// `text` copied inline (truncated at [`TEXT_LEN`] bytes on a char boundary).
    #[inline]
    pub fn text(text: &str) -> Self {
        Self::Text(InlineStr::new(text))
    }

    /// `value`'s `Display` written into the inline buffer (truncated). For cold error paths:
    /// it formats (no allocation of its own, but the value's `Display` may allocate).
    #[cold]
    pub fn display(value: &dyn std::fmt::Display) -> Self {
        let mut t = InlineStr::EMPTY;
        let _ = std::fmt::Write::write_fmt(&mut t, format_args!("{value}"));
        Self::Text(t)
    }

    /// `value`'s `Debug` written into the inline buffer (truncated); cold paths only.
    #[cold]
    pub fn debug(value: &dyn std::fmt::Debug) -> Self {
        let mut t = InlineStr::EMPTY;
        let _ = std::fmt::Write::write_fmt(&mut t, format_args!("{value:?}"));
        Self::Text(t)
    }

    fn as_value(&self) -> log::kv::Value<'_> {
        match self {
            Self::I64(v) => log::kv::Value::from(*v),
            Self::U64(v) => log::kv::Value::from(*v),
            Self::Bool(v) => log::kv::Value::from(*v),
            Self::Str(s) => log::kv::Value::from(*s),
            Self::Text(t) => log::kv::Value::from(t.as_str()),
        }
    }
}

macro_rules! field_from {
    ($variant:ident as $wide:ty: $($t:ty),*) => {$(
        impl From<$t> for FieldValue {
            #[inline]
            fn from(v: $t) -> Self {
                Self::$variant(<$wide>::from(v))
            }
        }
    )*};
}
field_from!(I64 as i64: i64, i32, i16, i8);
field_from!(U64 as u64: u64, u32, u16, u8);

impl From<usize> for FieldValue {
    #[inline]
    fn from(v: usize) -> Self {
        Self::U64(v as u64)
    }
}

impl From<bool> for FieldValue {
    #[inline]
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<&'static str> for FieldValue {
    #[inline]
    fn from(v: &'static str) -> Self {
        Self::Str(v)
    }
}

impl From<Nanos> for FieldValue {
    #[inline]
    fn from(v: Nanos) -> Self {
        Self::I64(v.0)
    }
}

impl From<crate::decimal::DecimalText> for FieldValue {
    /// A number formatted by [`crate::decimal`] (integer arithmetic, no allocation).
    #[inline]
    fn from(v: crate::decimal::DecimalText) -> Self {
        Self::text(v.as_str())
    }
}

impl<const N: usize> From<&InlineStr<N>> for FieldValue {
    #[inline]
    fn from(v: &InlineStr<N>) -> Self {
        Self::text(v.as_str())
    }
}

/// One log line as the core hands it over: everything fixed-size, nothing to free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Wall-clock time it was made (Unix ns).
    pub ts: Nanos,
    /// Its level.
    pub level: Level,
    /// Its target (the calling module's path).
    pub target: &'static str,
    /// The message (static: dynamic parts go in fields).
    pub msg: &'static str,
    /// The client order id (or the id of the event) that caused it; 0 when none.
    pub correlation_id: u64,
    len: u8,
    fields: [(&'static str, FieldValue); MAX_FIELDS],
}

const _: () = assert!(std::mem::size_of::<LogRecord>() <= 576);

impl LogRecord {
    /// A record stamped now, with the first [`MAX_FIELDS`] of `fields`.
    #[inline]
    pub fn new(
        level: Level,
        target: &'static str,
        msg: &'static str,
        correlation_id: u64,
        fields: &[(&'static str, FieldValue)],
    ) -> Self {
        let mut r = Self {
            ts: WallClock.now(),
            level,
            target,
            msg,
            correlation_id,
            len: 0,
            fields: [("", FieldValue::U64(0)); MAX_FIELDS],
        };
        let n = fields.len().min(MAX_FIELDS);
        r.fields[..n].copy_from_slice(&fields[..n]);
        r.len = n as u8;
        r
    }

    /// Its fields, in order.
    pub fn fields(&self) -> &[(&'static str, FieldValue)] {
        &self.fields[..usize::from(self.len)]
    }

    /// Writes it through the installed `log` logger (its filter decides). Formats: not for the
    /// core thread.
    pub fn emit(&self) {
        self.with_log_record(|r| log::logger().log(r));
    }

    /// Calls `f` with the `log::Record` this record becomes: its message, level and target, and
    /// as key values [`TS_KEY`], [`CORRELATION_KEY`] (when non-zero) and its fields.
    pub fn with_log_record<T>(&self, f: impl FnOnce(&log::Record<'_>) -> T) -> T {
        let kv = KeyValues(self);
        f(&log::Record::builder()
            .args(format_args!("{}", self.msg))
            .level(self.level)
            .target(self.target)
            .module_path_static(Some(self.target))
            .key_values(&kv)
            .build())
    }
}

struct KeyValues<'a>(&'a LogRecord);

impl log::kv::Source for KeyValues<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn log::kv::VisitSource<'kvs>) -> Result<(), log::kv::Error> {
        let r = self.0;
        visitor.visit_pair(log::kv::Key::from_str(TS_KEY), log::kv::Value::from(r.ts.0))?;
        if r.correlation_id != 0 {
            visitor.visit_pair(log::kv::Key::from_str(CORRELATION_KEY), log::kv::Value::from(r.correlation_id))?;
        }
        for (key, value) in r.fields() {
            visitor.visit_pair(log::kv::Key::from_str(key), value.as_value())?;
        }
        Ok(())
    }
}

/// What happened to the records pushed into one ring (shared by both ends).
#[derive(Debug, Default)]
pub struct LogCounters {
    /// Records pushed.
    pub pushed: AtomicU64,
    /// Records dropped because the ring was full.
    pub dropped: AtomicU64,
}

/// The producing end of a log ring; owned by one thread at a time ([`install`]).
#[derive(Debug)]
pub struct LogSink {
    tx: Producer<LogRecord>,
    counters: Arc<LogCounters>,
}

impl LogSink {
    /// Pushes `record`; a full ring drops it and counts it. Never blocks.
    #[inline]
    pub fn push(&mut self, record: LogRecord) -> bool {
        let c = &self.counters;
        match self.tx.push(record) {
            Ok(()) => {
                c.pushed.store(c.pushed.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                c.dropped.store(c.dropped.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The ring's counters.
    pub fn counters(&self) -> &Arc<LogCounters> {
        &self.counters
    }
}

/// The consuming end of a log ring (the logging thread).
#[derive(Debug)]
pub struct LogDrain {
    rx: Consumer<LogRecord>,
    counters: Arc<LogCounters>,
}

impl LogDrain {
    /// Emits every record waiting ([`LogRecord::emit`]); returns how many.
    pub fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Ok(record) = self.rx.pop() {
            record.emit();
            n += 1;
        }
        n
    }

    /// Takes the next record without emitting it.
    pub fn pop(&mut self) -> Option<LogRecord> {
        self.rx.pop().ok()
    }

    /// The ring's counters.
    pub fn counters(&self) -> &Arc<LogCounters> {
        &self.counters
    }

    /// Whether the producing end is gone (and nothing more can arrive once drained).
    pub fn is_abandoned(&self) -> bool {
        self.rx.is_abandoned()
    }
}

/// A log ring of `capacity` records, allocated here.
pub fn ring(capacity: usize) -> (LogSink, LogDrain) {
    let (tx, rx) = spsc(capacity);
    let counters = Arc::new(LogCounters::default());
    (LogSink { tx, counters: counters.clone() }, LogDrain { rx, counters })
}

thread_local! {
    static SINK: RefCell<Option<LogSink>> = const { RefCell::new(None) };
}

/// Makes `sink` this thread's: [`submit`] pushes into it from now on. Returns the one it
/// replaces.
pub fn install(sink: LogSink) -> Option<LogSink> {
    SINK.with(|s| s.borrow_mut().replace(sink))
}

/// Takes this thread's sink back: [`submit`] emits directly again.
pub fn uninstall() -> Option<LogSink> {
    SINK.with(|s| s.borrow_mut().take())
}

/// Whether a record of `level` would be logged at all (the static and the logger's maximum).
#[inline]
pub fn enabled(level: Level) -> bool {
    level <= log::STATIC_MAX_LEVEL && level <= log::max_level()
}

/// Hands `record` to this thread's sink, or, on a thread without one, emits it at once.
#[cold]
#[inline(never)]
pub fn submit(record: LogRecord) {
    let direct = SINK.with(|s| match s.try_borrow_mut() {
        Ok(mut sink) => match sink.as_mut() {
            Some(sink) => {
                sink.push(record);
                false
            }
            None => true,
        },
        Err(_) => true,
    });
    if direct {
        record.emit();
    }
}

/// Logs a line from code that may run on the core thread, without formatting it there:
/// `core_log!(Warn, "static message", correlation_id; key = value, ...)`. The level is a
/// [`log::Level`] variant's name; each value converts [`Into`] a [`FieldValue`] (numbers,
/// `&'static str`; use [`FieldValue::text`] for a borrowed string). Nothing is evaluated when
/// the level is off. See the module doc.
#[macro_export]
macro_rules! core_log {
    ($level:ident, $msg:literal, $correlation:expr $(; $($key:ident = $value:expr),+ $(,)?)?) => {{
        if $crate::log_ring::enabled($crate::log_ring::Level::$level) {
            $crate::log_ring::submit($crate::log_ring::LogRecord::new(
                $crate::log_ring::Level::$level,
                module_path!(),
                $msg,
                $correlation,
                &[$($((stringify!($key), $crate::log_ring::FieldValue::from($value))),+)?],
            ));
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_ring_drops_and_counts_instead_of_blocking() {
        let (sink, mut drain) = ring(4);
        let previous = install(sink);
        assert!(previous.is_none());
        log::set_max_level(log::LevelFilter::Debug);
        for i in 0..10u64 {
            crate::core_log!(Warn, "filling", i; n = i, what = "test");
        }
        let counters = drain.counters().clone();
        assert_eq!(counters.pushed.load(Ordering::Relaxed), 4);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 6);
        // The first four arrived, in order, with their fields.
        for i in 0..4u64 {
            let r = drain.pop().unwrap();
            assert_eq!((r.correlation_id, r.msg, r.level), (i, "filling", Level::Warn));
            assert_eq!(r.fields(), &[("n", FieldValue::U64(i)), ("what", FieldValue::Str("test"))]);
            assert_eq!(r.target, module_path!());
        }
        assert!(drain.pop().is_none());
        // Room again: the next one is pushed.
        crate::core_log!(Error, "again", 0);
        assert_eq!(counters.pushed.load(Ordering::Relaxed), 5);
        let sink = uninstall().expect("the sink installed above");
        assert!(!drain.is_abandoned());
        drop(sink);
        assert!(drain.is_abandoned());
    }

    #[test]
    fn an_off_level_is_not_evaluated_and_fields_are_capped() {
        let (sink, mut drain) = ring(4);
        install(sink);
        log::set_max_level(log::LevelFilter::Info);
        let mut evaluated = false;
        crate::core_log!(Trace, "off", 0; x = {
            evaluated = true;
            1u8
        });
        assert!(!evaluated);
        assert!(drain.pop().is_none());
        crate::core_log!(Info, "many", 7; a = 1u8, b = 2u8, c = 3u8, d = 4u8, e = 5u8, f = 6u8, g = 7u8, h = 8u8, i = 9u8);
        let r = drain.pop().unwrap();
        assert_eq!(r.fields().len(), MAX_FIELDS);
        assert_eq!(r.fields()[7], ("h", FieldValue::U64(8)));
        uninstall();
    }

    #[test]
    fn texts_are_copied_and_truncated() {
        let long = "x".repeat(100);
        assert_eq!(FieldValue::text(&long), FieldValue::Text(InlineStr::new(&long[..TEXT_LEN])));
        assert_eq!(FieldValue::display(&42), FieldValue::text("42"));
        assert_eq!(FieldValue::debug(&"q"), FieldValue::text("\"q\""));
    }
}
