//! The Prometheus text exposition format (0.0.4) as the tests check it: a small strict parser
//! (what Prometheus refuses, it refuses) and `promtool check metrics` where promtool is installed.

use std::collections::{BTreeSet, HashMap};

fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_' || x == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn valid_value(s: &str) -> bool {
    matches!(s, "+Inf" | "-Inf" | "NaN") || s.parse::<f64>().is_ok()
}

type Labels = Vec<(String, String)>;

/// `{k="v",…}` → pairs; the rest of the line after it.
fn labels(s: &str) -> Result<(Labels, &str), String> {
    let mut out = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("no {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let key = &rest[..eq];
        if !valid_name(key) || key.contains(':') {
            return Err(format!("bad label name {key:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next().ok_or("unterminated label value")?;
            match c {
                '\\' => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    other => return Err(format!("bad escape \\{other}")),
                },
                '"' => break i + 1,
                '\n' => return Err("newline in label value".into()),
                c => value.push(c),
            }
        };
        out.push((key.to_string(), value));
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// The family names, or the first problem.
pub(crate) fn parse(text: &str) -> Result<BTreeSet<String>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut bucket_last: HashMap<String, f64> = HashMap::new();
    let mut inf: HashMap<String, f64> = HashMap::new();
    let mut counts: HashMap<String, f64> = HashMap::new();
    if !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let err = |m: String| format!("line {}: {m}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if !valid_name(name) {
                return Err(err("bad metric name".into()));
            }
            if current.as_deref() != Some(name) {
                if let Some(c) = current.take() {
                    done.insert(c);
                }
                if done.contains(name) {
                    return Err(err("family appears twice".into()));
                }
                current = Some(name.to_string());
            }
            match kw {
                "HELP" => {}
                "TYPE" => {
                    let t = parts.next().unwrap_or("");
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(err(format!("bad type {t:?}")));
                    }
                    if types.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(err("second TYPE".into()));
                    }
                }
                _ => return Err(err("unknown comment keyword".into())),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| err("no value".into()))?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(err("bad sample name".into()));
        }
        let (pairs, rest) = if line[name_end..].starts_with('{') {
            labels(&line[name_end..]).map_err(err)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest.strip_prefix(' ').ok_or_else(|| err("no space before the value".into()))?;
        let value = value.split(' ').next().unwrap_or("");
        if !valid_value(value) {
            return Err(err(format!("bad value {value:?}")));
        }
        let family = current.clone().ok_or_else(|| err("sample before any TYPE".into()))?;
        let kind = types.get(&family).cloned().ok_or_else(|| err("sample without TYPE".into()))?;
        let ok_name = if kind == "histogram" {
            [format!("{family}_bucket"), format!("{family}_sum"), format!("{family}_count")].contains(&name.to_string())
        } else {
            name == family
        };
        if !ok_name {
            return Err(err(format!("sample {name} inside family {family} ({kind})")));
        }
        let series: Vec<String> = pairs.iter().filter(|(k, _)| k != "le").map(|(k, v)| format!("{k}={v}")).collect();
        let series = format!("{family}{{{}}}", series.join(","));
        let v: f64 = value.parse().unwrap_or(f64::NAN);
        if name.ends_with("_bucket") && kind == "histogram" {
            let le = pairs.iter().find(|(k, _)| k == "le").ok_or_else(|| err("bucket without le".into()))?;
            let last = bucket_last.insert(series.clone(), v).unwrap_or(0.0);
            if v < last {
                return Err(err("buckets not cumulative".into()));
            }
            if le.1 == "+Inf" {
                inf.insert(series, v);
            }
        } else if name.ends_with("_count") && kind == "histogram" {
            counts.insert(series, v);
        }
    }
    if let Some(c) = current {
        done.insert(c);
    }
    for (series, count) in &counts {
        if inf.get(series) != Some(count) {
            return Err(format!("{series}: +Inf bucket {:?} differs from _count {count}", inf.get(series)));
        }
    }
    Ok(done)
}

/// `promtool check metrics` (Debian's `prometheus` package) accepts `text`; skipped with a
/// message where promtool is missing.
pub(crate) fn promtool_accepts(text: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIP promtool check metrics: promtool not installed");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
}
