//! Test-only reading of the vector files under `testdata/<venue>/sign_*`: each is the venue
//! notes' file copied byte for byte, so the tests check every vector in it, not a hand copy.

/// One `payload=` / `signature=` pair and the `[section]` it sits under.
#[derive(Debug)]
pub(super) struct Vector {
    pub(super) section: String,
    pub(super) payload: String,
    pub(super) signature: String,
}

/// Every `payload=` line followed by a `signature=` line (the signature is the line's first
/// word; anything after it is a remark).
pub(super) fn payload_signature_pairs(text: &str) -> Vec<Vector> {
    let (mut section, mut payload, mut out) = (String::new(), None, Vec::new());
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            section = rest.split([']', ' ']).next().unwrap_or_default().to_string();
        } else if let Some(p) = line.strip_prefix("payload=") {
            payload = Some(p.to_string());
        } else if let Some(s) = line.strip_prefix("signature=") {
            let signature = s.split_whitespace().next().unwrap_or_default().to_string();
            if let Some(payload) = payload.take() {
                out.push(Vector { section: section.clone(), payload, signature });
            }
        }
    }
    out
}

/// The value of the first `name=` line.
pub(super) fn value(text: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no {name}= line"))
}

/// Runs `sign` over random printable bodies and over each with one character changed, and
/// checks the two signatures differ (a property test shared by every venue).
pub(super) fn every_changed_byte_changes_the_signature(sign: impl Fn(&str) -> String) {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::default();
    let inputs = ("[ -~]{1,40}", 0usize..40, proptest::char::range(' ', '~'));
    let result = runner.run(&inputs, |(body, i, c)| {
        let mut changed: Vec<char> = body.chars().collect();
        let at = i % changed.len();
        prop_assume!(changed[at] != c);
        changed[at] = c;
        let changed: String = changed.into_iter().collect();
        prop_assert_ne!(sign(&body), sign(&changed), "{:?} vs {:?}", body, changed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
