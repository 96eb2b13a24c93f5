//! A [`Snapshot`]'s samples grouped the way people and Prometheus read them: metric families
//! (one name, one type, one help) of series (one label set), a histogram's bucket, sum and count
//! slots folded into one series. Shared by `qt stat`, the Prometheus renderer and the health
//! checks.

use qt_core::stats::{Kind, Sample, Snapshot};

/// A histogram series: buckets (upper bound in raw units, non-cumulative count), sum, count.
#[derive(Debug, Clone)]
pub struct HistogramSeries<'a> {
    /// Labels (`k="v",…`).
    pub labels: &'a str,
    /// `(le, count)` by increasing bound (`u64::MAX`: `+Inf`).
    pub buckets: Vec<(u64, u64)>,
    /// The sum slot (its scale gives the unit).
    pub sum: Option<&'a Sample>,
    /// Samples.
    pub count: u64,
    /// Decimal scale of the bounds and the sum.
    pub scale: u8,
}

impl HistogramSeries<'_> {
    /// The upper bound (raw units) of the bucket holding quantile `q` (0..=1); `None` when empty.
    pub fn quantile_bound(&self, q: f64) -> Option<u64> {
        let total: u64 = self.buckets.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (le, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(*le);
            }
        }
        self.buckets.last().map(|(le, _)| *le)
    }

    /// The upper bound of the highest non-empty bucket.
    pub fn max_bound(&self) -> Option<u64> {
        self.buckets.iter().rev().find(|(_, n)| *n > 0).map(|(le, _)| *le)
    }
}

/// One series of a family.
#[derive(Debug, Clone)]
pub enum Series<'a> {
    /// A counter or gauge.
    Scalar(&'a Sample),
    /// A histogram.
    Histogram(HistogramSeries<'a>),
}

/// All series of one metric name.
#[derive(Debug, Clone)]
pub struct Family<'a> {
    /// Name.
    pub name: &'a str,
    /// Help.
    pub help: &'a str,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// Series in file order.
    pub series: Vec<Series<'a>>,
}

/// Groups `snap`'s samples into families, in order of each name's first appearance.
pub fn families(snap: &Snapshot) -> Vec<Family<'_>> {
    let mut out: Vec<Family<'_>> = Vec::new();
    for s in &snap.samples {
        let d = &s.desc;
        let kind = match d.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Bucket | Kind::Sum | Kind::Count => "histogram",
        };
        let idx = match out.iter().position(|f| f.name == d.name) {
            Some(i) => i,
            None => {
                out.push(Family { name: &d.name, help: &d.help, kind, series: Vec::new() });
                out.len() - 1
            }
        };
        let fam = &mut out[idx];
        if kind != "histogram" {
            fam.series.push(Series::Scalar(s));
            continue;
        }
        let existing = fam.series.iter_mut().find_map(|x| match x {
            Series::Histogram(h) if h.labels == d.labels => Some(h),
            _ => None,
        });
        let h = match existing {
            Some(h) => h,
            None => {
                fam.series.push(Series::Histogram(HistogramSeries {
                    labels: &d.labels,
                    buckets: Vec::new(),
                    sum: None,
                    count: 0,
                    scale: d.scale,
                }));
                match fam.series.last_mut() {
                    Some(Series::Histogram(h)) => h,
                    _ => continue,
                }
            }
        };
        match d.kind {
            Kind::Bucket => {
                h.buckets.push((d.le, s.raw));
                h.scale = d.scale;
            }
            Kind::Sum => h.sum = Some(s),
            _ => h.count = s.raw,
        }
    }
    for f in &mut out {
        for s in &mut f.series {
            if let Series::Histogram(h) = s {
                h.buckets.sort_by_key(|(le, _)| *le);
            }
        }
    }
    out
}

/// A raw value at `scale` decimals as exact decimal text.
pub fn decimal(raw: u64, scale: u8) -> String {
    let scale = u32::from(scale.min(19));
    if scale == 0 {
        return raw.to_string();
    }
    let p = 10u64.pow(scale);
    let frac = format!("{:0width$}", raw % p, width = scale as usize);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { (raw / p).to_string() } else { format!("{}.{frac}", raw / p) }
}

/// Parses `k="v",…` into pairs (unescaping `\\`, `\"`, `\n`); `None` if malformed.
pub fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest.find("=\"")?;
        let key = rest[..eq].to_string();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break eq + 2 + i + 1,
                c => value.push(c),
            }
        };
        out.push((key, value));
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_back() {
        let l = parse_labels(r#"a="x\"y",b="c\\d\n""#).unwrap();
        assert_eq!(l, vec![("a".into(), "x\"y".into()), ("b".into(), "c\\d\n".into())]);
        assert_eq!(parse_labels("").unwrap(), vec![]);
        assert!(parse_labels("a=\"open").is_none());
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(1_500_000_000, 9), "1.5");
        assert_eq!(decimal(100, 9), "0.0000001");
        assert_eq!(decimal(7, 0), "7");
    }

    #[test]
    fn quantiles_pick_the_bucket_bound() {
        let h = HistogramSeries {
            labels: "",
            buckets: vec![(100, 5), (200, 4), (u64::MAX, 1)],
            sum: None,
            count: 10,
            scale: 9,
        };
        assert_eq!(h.quantile_bound(0.5), Some(100));
        assert_eq!(h.quantile_bound(0.9), Some(200));
        assert_eq!(h.quantile_bound(0.99), Some(u64::MAX));
        assert_eq!(h.max_bound(), Some(u64::MAX));
    }
}
