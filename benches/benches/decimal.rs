//! Decimal text ⇄ exact integers: `parse_scaled` on the strings venues actually send, its
//! inverse `format_scaled`, and `Price::parse` beside `str::parse::<f64>()` on the same strings;
//! `parse_fixed8`, the canonical Binance walk's reader of the fixed 8-decimal layout, beside
//! `parse_scaled_bytes` (its fallback and baseline) on Binance's two strings.
//!
//! Every price and quantity of every venue message goes through `parse_scaled`, and every order
//! out through `format_scaled`, so they bound the feed's parse cost per level. The `f64` parse is
//! a baseline only — it is what most public stacks do, and it rounds, which we may not.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use qt_core::Price;
use qt_core::decimal::{DecimalStyle, format_scaled, parse_fixed8, parse_scaled, parse_scaled_bytes};
use std::hint::black_box;
use std::time::Duration;

/// Venue strings and the scale they land on for BTCUSDT (price 2 decimals, quantity 5).
const CASES: [(&str, &str, u8); 4] = [
    // A Binance price with the 8 decimals the REST/WS API always prints.
    ("price_8dp_padded", "26123.40000000", 2),
    // A Binance quantity, padded the same way.
    ("qty_8dp_padded", "0.00123000", 5),
    // Exponent form, as some venues print tiny sizes and tick sizes.
    ("qty_exponent", "1e-5", 5),
    // A short price as OKX/Bybit print it.
    ("price_short", "65000.1", 2),
];

/// Values to format: (name, units, scale, style).
const FORMATS: [(&str, i128, u8, DecimalStyle); 4] = [
    ("price_fixed", 2_612_340, 2, DecimalStyle::Fixed),
    ("qty_fixed", 123, 5, DecimalStyle::Fixed),
    ("qty_trimmed", 123, 5, DecimalStyle::Trimmed),
    // An order notional at the 18-decimal notional scale: the longest digit loop we format.
    ("notional_18dp_trimmed", 1_306_200_000_000_000_000_000, 18, DecimalStyle::Trimmed),
];

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(50)
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal_parse_scaled");
    for (name, text, scale) in CASES {
        // Fail at set-up, not inside the timed loop, if a case stops parsing.
        parse_scaled(text, scale).expect("bench case parses at its scale");
        group.bench_with_input(BenchmarkId::from_parameter(name), &(text, scale), |b, &(text, scale)| {
            b.iter(|| parse_scaled(black_box(text), black_box(scale)))
        });
    }
    group.finish();
}

/// Binance's two strings, closing quote included, as the canonical walk sees them.
const FIXED8_CASES: [(&str, &[u8], u8); 2] =
    [("price_8dp_padded", b"26123.40000000\"", 2), ("qty_8dp_padded", b"0.00123000\"", 5)];

fn fixed8(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal_parse_fixed8");
    for (name, text, scale) in FIXED8_CASES {
        let (units, len) = parse_fixed8(text, scale).expect("bench case is in the fixed layout");
        assert_eq!(parse_scaled_bytes(&text[..len], scale), Ok(units as i64), "both readers agree");
        group.bench_with_input(BenchmarkId::new("parse_fixed8", name), &(text, scale), |b, &(text, scale)| {
            b.iter(|| parse_fixed8(black_box(text), black_box(scale)))
        });
        group.bench_with_input(
            BenchmarkId::new("parse_scaled_bytes_baseline", name),
            &(&text[..len], scale),
            |b, &(text, scale)| b.iter(|| parse_scaled_bytes(black_box(text), black_box(scale))),
        );
    }
    group.finish();
}

fn format(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal_format_scaled");
    for (name, units, scale, style) in FORMATS {
        group.bench_with_input(
            BenchmarkId::from_parameter(name),
            &(units, scale, style),
            |b, &(units, scale, style)| b.iter(|| format_scaled(black_box(units), black_box(scale), black_box(style))),
        );
    }
    group.finish();
}

fn price_vs_f64(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal_price_parse_vs_f64");
    for (name, text, scale) in CASES {
        Price::parse(text, scale).expect("bench case parses at its scale");
        group.bench_with_input(BenchmarkId::new("price_parse", name), &(text, scale), |b, &(text, scale)| {
            b.iter(|| Price::parse(black_box(text), black_box(scale)))
        });
        group.bench_with_input(BenchmarkId::new("f64_parse_baseline", name), &text, |b, &text| {
            b.iter(|| black_box(text).parse::<f64>())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, fixed8, format, price_vs_f64
}
criterion_main!(benches);
