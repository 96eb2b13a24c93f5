//! The stats file's format: offsets, codes and the metadata record, shared by the writer
//! ([`super::region`]) and the copying reader ([`super::read`]). Pure data, no I/O.
//!
//! ```text
//!  offset 0 ─ header: one page (HEADER_LEN = 4096), every field a little-endian u64 word
//!  ┌──────┬────────────────────────────────────────────────────────────────────────────────┐
//!  │    0 │ MAGIC  "QTSTATS\0" (stored last, Release: a reader seeing it sees the rest)     │
//!  │    8 │ VERSION (1)            16 │ HEADER_LEN (4096)       24 │ PID                   │
//!  │   32 │ START_NS (unix ns)     40 │ HEARTBEAT_NS (unix ns; the core, every tick)      │
//!  │   48 │ HEARTBEAT_INTERVAL_NS  56 │ META_OFFSET             64 │ META_RECORD_LEN (512) │
//!  │   72 │ META_CAPACITY          80 │ META_COUNT (Release, after the records it covers) │
//!  │   88 │ VALUES_OFFSET          96 │ VALUES_CAPACITY (slots) 104│ FILE_LEN              │
//!  └──────┴────────────────────────────────────────────────────────────────────────────────┘
//!  META_OFFSET ─ metadata: META_CAPACITY records of META_RECORD_LEN bytes, META_COUNT in use;
//!  one per value slot in use, written once, never changed (checksummed)
//!  ┌────┬──────┬──────┬───────┬───────┬───────┬──────────┬──────────┬──────┬──────┬────────┬──────┐
//!  │ 0  │ 4    │ 5    │ 6     │ 7     │ 8     │ 9        │ 10       │ 12   │ 16   │ 24     │ 32.. │
//!  │slot│ kind │ unit │ scale │ flags │ owner │ name_len │labels_len│help_ │ le   │checksum│ name │
//!  │u32 │  u8  │  u8  │  u8   │ bit0: │  u8   │    u8    │   u16    │len   │ u64  │ FNV-1a │ [64] │
//!  │    │      │      │       │signed │       │          │          │ u16  │      │ (this  │ 96:  │
//!  │    │      │      │       │       │       │          │          │      │      │ word 0)│labels│
//!  │    │      │      │       │       │       │          │          │      │      │        │[160] │
//!  │    │      │      │       │       │       │          │          │      │      │        │ 256: │
//!  │    │      │      │       │       │       │          │          │      │      │        │help  │
//!  └────┴──────┴──────┴───────┴───────┴───────┴──────────┴──────────┴──────┴──────┴────────┴[256]─┘
//!  VALUES_OFFSET (page aligned) ─ values: VALUES_CAPACITY 8-byte slots (u64, atomics in the
//!  writer); each block starts on its own 64-byte cache line; a slot no record names is padding.
//! ```
//!
//! A value is `u64`, or `i64` two's complement when the record's `signed` flag is set; its
//! decimal value is `value / 10^scale` (money gauges: exact integers with a scale; durations in
//! ns with scale 9 read as seconds). `labels` is Prometheus' `k="v",k2="v2"` form (escaped),
//! `le` is a histogram bucket's upper bound in the value's raw units (`u64::MAX`: `+Inf`).

/// The first word: `QTSTATS\0` read as little-endian.
pub const MAGIC: u64 = u64::from_le_bytes(*b"QTSTATS\0");
/// The format version this crate writes and reads.
pub const VERSION: u64 = 1;
/// Header length: one page.
pub const HEADER_LEN: usize = 4096;
/// One metadata record.
pub const META_RECORD_LEN: usize = 512;
/// Cache line: each block's first slot is aligned to it.
pub const BLOCK_ALIGN: usize = 64;

/// Header word offsets.
pub mod header {
    /// [`super::MAGIC`].
    pub const MAGIC: usize = 0;
    /// [`super::VERSION`].
    pub const VERSION: usize = 8;
    /// [`super::HEADER_LEN`].
    pub const HEADER_LEN: usize = 16;
    /// The writer's process id.
    pub const PID: usize = 24;
    /// When the writer started (unix ns).
    pub const START_NS: usize = 32;
    /// The core's last heartbeat (unix ns); 0 before the first.
    pub const HEARTBEAT_NS: usize = 40;
    /// How often the core beats (ns): readers call it stale after a few missed beats.
    pub const HEARTBEAT_INTERVAL_NS: usize = 48;
    /// Metadata section offset.
    pub const META_OFFSET: usize = 56;
    /// Metadata record length.
    pub const META_RECORD_LEN: usize = 64;
    /// Metadata records the section holds.
    pub const META_CAPACITY: usize = 72;
    /// Metadata records in use.
    pub const META_COUNT: usize = 80;
    /// Values section offset.
    pub const VALUES_OFFSET: usize = 88;
    /// Value slots the section holds.
    pub const VALUES_CAPACITY: usize = 96;
    /// File length.
    pub const FILE_LEN: usize = 104;
    /// The words the writer fills (all below this offset).
    pub const END: usize = 112;
}

/// Metadata record field offsets.
pub mod record {
    /// Value slot index (u32).
    pub const SLOT: usize = 0;
    /// [`super::Kind`] code.
    pub const KIND: usize = 4;
    /// [`super::Unit`] code.
    pub const UNIT: usize = 5;
    /// Decimal scale.
    pub const SCALE: usize = 6;
    /// Flags: bit 0 signed.
    pub const FLAGS: usize = 7;
    /// [`super::Owner`] code.
    pub const OWNER: usize = 8;
    /// Name length (u8).
    pub const NAME_LEN: usize = 9;
    /// Labels length (u16).
    pub const LABELS_LEN: usize = 10;
    /// Help length (u16).
    pub const HELP_LEN: usize = 12;
    /// Bucket bound (u64).
    pub const LE: usize = 16;
    /// FNV-1a 64 of the record with this word zero.
    pub const CHECKSUM: usize = 24;
    /// Name bytes.
    pub const NAME: usize = 32;
    /// Name capacity.
    pub const NAME_CAP: usize = 64;
    /// Labels bytes.
    pub const LABELS: usize = 96;
    /// Labels capacity.
    pub const LABELS_CAP: usize = 160;
    /// Help bytes.
    pub const HELP: usize = 256;
    /// Help capacity.
    pub const HELP_CAP: usize = 256;
    /// Flag: the value is an `i64`.
    pub const SIGNED: u8 = 1;
}

const _: () = assert!(record::HELP + record::HELP_CAP == META_RECORD_LEN);
const _: () = assert!(record::LABELS + record::LABELS_CAP == record::HELP);
const _: () = assert!(record::NAME + record::NAME_CAP == record::LABELS);
const _: () = assert!(header::END <= HEADER_LEN);

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $c:literal => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $c),* }
        impl $name {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];
            /// The value of a code, if it is one.
            pub fn from_code(c: u8) -> Option<Self> {
                match c { $($c => Some(Self::$v),)* _ => None }
            }
            /// Its name in text (docs, `qt stat --json`).
            pub const fn name(self) -> &'static str {
                match self { $(Self::$v => $text),* }
            }
        }
    };
}

code_enum!(
    /// What a slot holds.
    Kind {
        /// Monotonic count.
        Counter = 1 => "counter",
        /// Value that goes up and down.
        Gauge = 2 => "gauge",
        /// One histogram bucket's count (not cumulative; `le` is its upper bound).
        Bucket = 3 => "bucket",
        /// A histogram's sum of samples.
        Sum = 4 => "sum",
        /// A histogram's sample count.
        Count = 5 => "count",
    }
);

code_enum!(
    /// The unit of a slot's decimal value.
    Unit {
        /// A plain number.
        None = 0 => "",
        /// Seconds (durations are ns with scale 9).
        Seconds = 1 => "seconds",
        /// Bytes.
        Bytes = 2 => "bytes",
        /// The account's settlement currency (money gauges).
        Quote = 3 => "quote",
    }
);

code_enum!(
    /// The thread that writes a slot (one writer per slot).
    Owner {
        /// The pinned core thread (`qt-core`).
        Core = 1 => "core",
        /// The journal writer (`qt-journal`).
        Journal = 2 => "journal",
        /// A gateway thread (`qt-gw-*`, or the simulated venue).
        Gateway = 3 => "gateway",
        /// The stats thread.
        Stats = 4 => "stats",
        /// The main thread (start-up facts).
        Main = 5 => "main",
    }
);

/// One metadata record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDesc {
    /// Value slot.
    pub slot: u32,
    /// Kind.
    pub kind: Kind,
    /// Unit.
    pub unit: Unit,
    /// Decimal scale of the value.
    pub scale: u8,
    /// Whether the value is an `i64`.
    pub signed: bool,
    /// Writer thread.
    pub owner: Owner,
    /// Bucket upper bound in raw units (`u64::MAX`: `+Inf`); 0 for other kinds.
    pub le: u64,
    /// Metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub name: String,
    /// Labels, `k="v",…` (may be empty).
    pub labels: String,
    /// One line of help.
    pub help: String,
}

/// Why a record cannot be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A text field is longer than its place in the record.
    #[error("{field} of `{name}` is {len} bytes, more than the {cap} a record holds")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// The metric.
        name: String,
        /// Its length.
        len: usize,
        /// The room.
        cap: usize,
    },
    /// A name that is not a Prometheus metric name.
    #[error("`{0}` is not a valid metric name")]
    BadName(String),
    /// The record's checksum does not match its bytes.
    #[error("checksum mismatch")]
    Checksum,
    /// An unknown kind, unit or owner code.
    #[error("unknown {field} code {code}")]
    BadCode {
        /// Which field.
        field: &'static str,
        /// The code.
        code: u8,
    },
    /// A length beyond its field, or text that is not UTF-8.
    #[error("bad {0} text")]
    BadText(&'static str),
}

/// Whether `s` is a Prometheus metric name.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// FNV-1a 64 over `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The longest prefix of `s` of at most `cap` bytes that ends on a character boundary.
fn truncate(s: &str, cap: usize) -> &str {
    let mut end = s.len().min(cap);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_u16(rec: &mut [u8], at: usize, v: u16) {
    rec[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(rec: &mut [u8], at: usize, v: u64) {
    rec[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Reads the little-endian u64 at `at` (`None` past the end).
pub fn get_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

impl MetricDesc {
    /// The record's bytes. Help longer than its room is cut; a name or labels too long, or a
    /// bad name, is refused.
    pub fn encode(&self) -> Result<[u8; META_RECORD_LEN], RecordError> {
        if !valid_name(&self.name) {
            return Err(RecordError::BadName(self.name.clone()));
        }
        let too_long = |field, len, cap| RecordError::TooLong { field, name: self.name.clone(), len, cap };
        if self.name.len() > record::NAME_CAP {
            return Err(too_long("name", self.name.len(), record::NAME_CAP));
        }
        if self.labels.len() > record::LABELS_CAP {
            return Err(too_long("labels", self.labels.len(), record::LABELS_CAP));
        }
        let help = truncate(&self.help, record::HELP_CAP);
        let mut rec = [0u8; META_RECORD_LEN];
        rec[record::SLOT..record::SLOT + 4].copy_from_slice(&self.slot.to_le_bytes());
        rec[record::KIND] = self.kind as u8;
        rec[record::UNIT] = self.unit as u8;
        rec[record::SCALE] = self.scale;
        rec[record::FLAGS] = if self.signed { record::SIGNED } else { 0 };
        rec[record::OWNER] = self.owner as u8;
        rec[record::NAME_LEN] = self.name.len() as u8;
        put_u16(&mut rec, record::LABELS_LEN, self.labels.len() as u16);
        put_u16(&mut rec, record::HELP_LEN, help.len() as u16);
        put_u64(&mut rec, record::LE, self.le);
        rec[record::NAME..record::NAME + self.name.len()].copy_from_slice(self.name.as_bytes());
        rec[record::LABELS..record::LABELS + self.labels.len()].copy_from_slice(self.labels.as_bytes());
        rec[record::HELP..record::HELP + help.len()].copy_from_slice(help.as_bytes());
        let sum = fnv1a(&rec);
        put_u64(&mut rec, record::CHECKSUM, sum);
        Ok(rec)
    }

    /// Decodes one record (exactly [`META_RECORD_LEN`] bytes), checking its checksum, codes and
    /// text. Never panics.
    pub fn decode(rec: &[u8]) -> Result<Self, RecordError> {
        if rec.len() != META_RECORD_LEN {
            return Err(RecordError::BadText("record length"));
        }
        let mut copy = [0u8; META_RECORD_LEN];
        copy.copy_from_slice(rec);
        let stored = get_u64(&copy, record::CHECKSUM).unwrap_or(0);
        put_u64(&mut copy, record::CHECKSUM, 0);
        if fnv1a(&copy) != stored {
            return Err(RecordError::Checksum);
        }
        let code = |field, at: usize| (field, rec[at]);
        let (f, c) = code("kind", record::KIND);
        let kind = Kind::from_code(c).ok_or(RecordError::BadCode { field: f, code: c })?;
        let (f, c) = code("unit", record::UNIT);
        let unit = Unit::from_code(c).ok_or(RecordError::BadCode { field: f, code: c })?;
        let (f, c) = code("owner", record::OWNER);
        let owner = Owner::from_code(c).ok_or(RecordError::BadCode { field: f, code: c })?;
        let len16 = |at: usize| usize::from(u16::from_le_bytes([rec[at], rec[at + 1]]));
        let text = |what: &'static str, at: usize, len: usize, cap: usize| -> Result<String, RecordError> {
            if len > cap {
                return Err(RecordError::BadText(what));
            }
            std::str::from_utf8(&rec[at..at + len]).map(str::to_string).map_err(|_| RecordError::BadText(what))
        };
        let name = text("name", record::NAME, usize::from(rec[record::NAME_LEN]), record::NAME_CAP)?;
        if !valid_name(&name) {
            return Err(RecordError::BadName(name));
        }
        Ok(Self {
            slot: u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]),
            kind,
            unit,
            scale: rec[record::SCALE],
            signed: rec[record::FLAGS] & record::SIGNED != 0,
            owner,
            le: get_u64(rec, record::LE).unwrap_or(0),
            name,
            labels: text("labels", record::LABELS, len16(record::LABELS_LEN), record::LABELS_CAP)?,
            help: text("help", record::HELP, len16(record::HELP_LEN), record::HELP_CAP)?,
        })
    }
}

/// Appends `k="v"` pairs to `out` in Prometheus' label form (`\`, `"` and newlines escaped),
/// comma-separated, after whatever `out` holds.
pub fn push_labels(out: &mut String, labels: &[(&str, &str)]) {
    for (k, v) in labels {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MetricDesc {
        MetricDesc {
            slot: 17,
            kind: Kind::Bucket,
            unit: Unit::Seconds,
            scale: 9,
            signed: false,
            owner: Owner::Core,
            le: 500,
            name: "tick_to_order_seconds".into(),
            labels: "account=\"a\\\"1\"".into(),
            help: "Tick to order.".into(),
        }
    }

    #[test]
    fn a_record_round_trips() {
        let d = sample();
        assert_eq!(MetricDesc::decode(&d.encode().unwrap()).unwrap(), d);
        let signed = MetricDesc { signed: true, kind: Kind::Gauge, unit: Unit::Quote, scale: 8, ..sample() };
        assert_eq!(MetricDesc::decode(&signed.encode().unwrap()).unwrap(), signed);
    }

    #[test]
    fn a_changed_byte_fails_the_checksum() {
        let mut rec = sample().encode().unwrap();
        rec[record::NAME] ^= 1;
        assert_eq!(MetricDesc::decode(&rec), Err(RecordError::Checksum));
    }

    #[test]
    fn names_and_labels_are_checked_on_encode() {
        assert!(matches!(MetricDesc { name: "bad name".into(), ..sample() }.encode(), Err(RecordError::BadName(_))));
        let long = MetricDesc { labels: "x".repeat(record::LABELS_CAP + 1), ..sample() };
        assert!(matches!(long.encode(), Err(RecordError::TooLong { field: "labels", .. })));
        let help = MetricDesc { help: "é".repeat(200), ..sample() };
        let back = MetricDesc::decode(&help.encode().unwrap()).unwrap();
        assert_eq!(back.help, "é".repeat(128), "help is cut on a character boundary");
    }

    #[test]
    fn labels_are_escaped() {
        let mut s = String::new();
        push_labels(&mut s, &[("a", "x\"y"), ("b", "c\\d\n")]);
        assert_eq!(s, r#"a="x\"y",b="c\\d\n""#);
    }
}
