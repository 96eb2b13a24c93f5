//! `qt bench`'s command line: what to drive, how fast, for how long, and where the figures go.

use qt_core::Venue;
use std::path::PathBuf;
use std::time::Duration;

/// How fast frames are offered to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Back to back, one frame per loop iteration: throughput.
    Max,
    /// This many frames a second on a fixed schedule, latency corrected for coordinated omission.
    PerSecond(u64),
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rate::Max => f.write_str("max"),
            Rate::PerSecond(n) => write!(f, "{n}/s"),
        }
    }
}

/// `max`, `N/s` or `N` (frames a second, 1 to 1e9).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    if text == "max" {
        return Ok(Rate::Max);
    }
    let digits = text.strip_suffix("/s").unwrap_or(text).replace('_', "");
    match digits.parse::<u64>() {
        Ok(n) if (1..=1_000_000_000).contains(&n) => Ok(Rate::PerSecond(n)),
        _ => Err(format!("--rate {text:?}: give `max` or frames a second as N/s (1 to 1000000000/s)")),
    }
}

/// A venue name as the registry spells it, with `-` accepted for `_` (`binance-usdm`).
pub fn parse_venue(text: &str) -> Result<Venue, String> {
    text.replace('-', "_").parse::<Venue>()
}

/// `qt bench`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The venue whose decoder reads the frames: binance, binance-usdm, bybit, okx, kucoin,
    /// kraken or firi (its generated standard stream, looped).
    #[arg(long, default_value = "binance", value_parser = parse_venue)]
    pub venue: Venue,
    /// Frames a second on a fixed schedule (`N/s`; latency then counts from when each frame was
    /// due, so a loop that falls behind shows it), or `max`: back to back, for throughput
    /// (the default). With --wire: trigger frames a second (default 20/s; `max`, and the most,
    /// 40/s: Binance's order limit per account bounds it).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<Rate>,
    /// Measure for this long (e.g. 10s); with --orders, whichever comes first. Default 10s
    /// when neither is given.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Measure until this many orders have been timed (at most 10 minutes without --duration).
    #[arg(long, value_name = "N")]
    pub orders: Option<u64>,
    /// Pin the core thread to this CPU (default: the configuration's `[engine] cpu` with
    /// --config, else the first isolated CPU, else unpinned).
    #[arg(long, value_name = "N")]
    pub core: Option<usize>,
    /// A run configuration whose `[engine] cpu` is the default core.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Frames run back to back before measuring starts (warm-up: caches, branch predictors,
    /// buffers); a fixed --rate's schedule starts after them.
    #[arg(long, value_name = "FRAMES", default_value_t = 20_000)]
    pub warmup: u64,
    /// Also write the latency distribution here in HdrHistogram's percentile format
    /// (microseconds; readable by HdrHistogram's plotter).
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Print the result as one JSON object instead of the table (save it for --compare).
    #[arg(long)]
    pub json: bool,
    /// Print two saved `--json` runs side by side with the ratio B/A, and nothing else.
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    pub compare: Option<Vec<PathBuf>>,
    /// Wire-to-wire through loopback TLS (Binance spot only): the venue simulator in-process
    /// sends one trigger frame at a time, the live engine (real feed, risk gate, gateway)
    /// answers with an order; timed from the frame's write to the order's request head, both
    /// on the simulator's clock. --orders counts answered triggers; --warmup is not used.
    #[arg(long)]
    pub wire: bool,
    /// With --wire: the gateway thread busy-spins (`[engine] gateway_idle = { kind =
    /// "busy_spin" }`) instead of the default backoff, whose sleeps an order can wait out.
    #[arg(long, requires = "wire")]
    pub gateway_busy_spin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_bad_ones_are_named() {
        assert_eq!(parse_rate("max"), Ok(Rate::Max));
        assert_eq!(parse_rate("100000/s"), Ok(Rate::PerSecond(100_000)));
        assert_eq!(parse_rate("250_000"), Ok(Rate::PerSecond(250_000)));
        for bad in ["0/s", "fast", "-5", "10/min", ""] {
            let err = parse_rate(bad).unwrap_err();
            assert!(err.contains("--rate"), "{err}");
        }
        assert_eq!(Rate::PerSecond(5).to_string(), "5/s");
    }

    #[test]
    fn venues_parse_with_either_separator() {
        assert_eq!(parse_venue("binance-usdm"), Ok(Venue::BinanceUsdm));
        assert_eq!(parse_venue("binance_usdm"), Ok(Venue::BinanceUsdm));
        assert_eq!(parse_venue("firi"), Ok(Venue::Firi));
        assert!(parse_venue("nasdaq").unwrap_err().contains("unknown venue"));
    }
}
