//! [`StatBlock`]: a `#[repr(C)]` block of single-writer atomics that lives in the stats file,
//! and the [`Describer`] that names each of its slots for the file's metadata.
//!
//! A block names each field by reference (`d.counter(&self.fills, "trades_executed_total",
//! &[("venue", "sim")], "Fills.")`); the describer finds the slot from the field's address
//! minus the block's, so a description can never point at the wrong field. Every slot of a block
//! must be described exactly once; [`super::StatsRegion::block`] refuses a block that is not
//! (the `every_slot_is_described_once` tests hold each block to it). Cold: runs at start-up and
//! allocates.

use super::histogram::Histogram;
use super::layout::{Kind, MetricDesc, Owner, Unit, push_labels};
use crate::counters::Counter;

/// A block of stats slots that can live in the mapped stats file.
///
/// # Safety
/// The implementing type is `#[repr(C)]` (or `#[repr(transparent)]`) and made only of
/// `AtomicU64`s — directly, through [`Counter`], in arrays, or in nested `StatBlock`s — so every
/// 8-aligned run of `size_of::<Self>()` zeroed or previously written bytes is a valid value, its
/// size is a multiple of 8 and its alignment is 8. The stats region hands out `&Self` into
/// shared memory on that promise.
#[allow(unsafe_code, reason = "implementors promise a layout the stats region relies on")]
pub unsafe trait StatBlock: Sync + Send + 'static {
    /// Names every slot of the block (each exactly once).
    fn describe(&self, d: &mut Describer<'_>);
}

/// Collects a block's slot descriptions (see the module doc).
#[derive(Debug)]
pub struct Describer<'a> {
    base: usize,
    slots: usize,
    first_slot: u32,
    owner: Owner,
    labels: &'a [(&'a str, &'a str)],
    described: Vec<bool>,
    out: Vec<MetricDesc>,
    problems: Vec<String>,
}

/// What a [`Describer`] gathered.
#[derive(Debug, Default)]
pub struct Described {
    /// One description per slot, slots numbered in the region.
    pub metrics: Vec<MetricDesc>,
    /// Slots described twice, fields outside the block, bad names — and, at the end, slots
    /// never described.
    pub problems: Vec<String>,
}

/// How a gauge's value reads (unit, sign and decimal scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaugeFormat {
    /// Unit.
    pub unit: Unit,
    /// Stored as `i64`.
    pub signed: bool,
    /// Decimal scale.
    pub scale: u8,
}

impl GaugeFormat {
    /// A plain unsigned number.
    pub const PLAIN: Self = Self { unit: Unit::None, signed: false, scale: 0 };
    /// A signed money amount at `scale` decimals.
    pub const fn money(scale: u8) -> Self {
        Self { unit: Unit::Quote, signed: true, scale }
    }
}

impl<'a> Describer<'a> {
    /// A describer for the block `block` whose first slot is `first_slot` in its region, owned
    /// by `owner`, with `labels` prepended to every slot's own.
    pub fn new<T: StatBlock>(block: &T, first_slot: u32, owner: Owner, labels: &'a [(&'a str, &'a str)]) -> Self {
        let slots = size_of::<T>() / 8;
        Self {
            base: std::ptr::from_ref(block) as usize,
            slots,
            first_slot,
            owner,
            labels,
            described: vec![false; slots],
            out: Vec::with_capacity(slots),
            problems: Vec::new(),
        }
    }

    /// Runs `block.describe` and checks every slot was described once.
    pub fn run<T: StatBlock>(block: &T, first_slot: u32, owner: Owner, labels: &'a [(&'a str, &'a str)]) -> Described {
        let mut d = Self::new(block, first_slot, owner, labels);
        block.describe(&mut d);
        d.finish()
    }

    /// The descriptions, with a problem for every slot never described.
    pub fn finish(mut self) -> Described {
        for (i, seen) in self.described.iter().enumerate() {
            if !seen {
                self.problems.push(format!("slot {i} of the block is not described"));
            }
        }
        Described { metrics: self.out, problems: self.problems }
    }

    /// A monotonic counter.
    pub fn counter(&mut self, c: &Counter, name: &str, labels: &[(&str, &str)], help: &str) {
        self.slot(c, Kind::Counter, GaugeFormat::PLAIN, 0, name, labels, help);
    }

    /// A monotonic counter in `unit` (e.g. bytes).
    pub fn counter_in(&mut self, c: &Counter, unit: Unit, name: &str, labels: &[(&str, &str)], help: &str) {
        self.slot(c, Kind::Counter, GaugeFormat { unit, ..GaugeFormat::PLAIN }, 0, name, labels, help);
    }

    /// A plain unsigned gauge.
    pub fn gauge(&mut self, c: &Counter, name: &str, labels: &[(&str, &str)], help: &str) {
        self.slot(c, Kind::Gauge, GaugeFormat::PLAIN, 0, name, labels, help);
    }

    /// A gauge read as `format` says.
    pub fn gauge_as(&mut self, c: &Counter, format: GaugeFormat, name: &str, labels: &[(&str, &str)], help: &str) {
        self.slot(c, Kind::Gauge, format, 0, name, labels, help);
    }

    /// A histogram: its buckets, sum and count (recorded in ns, read in seconds).
    pub fn histogram(&mut self, h: &Histogram, name: &str, labels: &[(&str, &str)], help: &str) {
        let f = GaugeFormat { unit: Unit::Seconds, signed: false, scale: 9 };
        for (i, bucket) in h.buckets().iter().enumerate() {
            self.slot(bucket, Kind::Bucket, f, Histogram::upper_bound(i), name, labels, help);
        }
        self.slot(h.sum_counter(), Kind::Sum, f, 0, name, labels, help);
        self.slot(h.count_counter(), Kind::Count, GaugeFormat::PLAIN, 0, name, labels, help);
    }

    #[allow(clippy::too_many_arguments)] // private: the public methods above are the readable forms
    fn slot(
        &mut self,
        c: &Counter,
        kind: Kind,
        format: GaugeFormat,
        le: u64,
        name: &str,
        labels: &[(&str, &str)],
        help: &str,
    ) {
        let addr = std::ptr::from_ref(c) as usize;
        let offset = addr.wrapping_sub(self.base);
        if addr < self.base || !offset.is_multiple_of(8) || offset / 8 >= self.slots {
            self.problems.push(format!("`{name}` is not a slot of the block"));
            return;
        }
        let i = offset / 8;
        if std::mem::replace(&mut self.described[i], true) {
            self.problems.push(format!("slot {i} (`{name}`) is described twice"));
            return;
        }
        let mut text = String::new();
        push_labels(&mut text, self.labels);
        push_labels(&mut text, labels);
        self.out.push(MetricDesc {
            slot: self.first_slot + i as u32,
            kind,
            unit: format.unit,
            scale: format.scale,
            signed: format.signed,
            owner: self.owner,
            le,
            name: name.to_string(),
            labels: text,
            help: help.to_string(),
        });
    }
}
