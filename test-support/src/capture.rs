//! Reading the recorded venue captures in `testdata/<venue>/` (`*.jsonl`: one frame a line;
//! `*.json`: one REST body), which the decoder, sync and fuzz tests replay; and the one rewrite a
//! capture needs (Kraken's WS v1 book frames as the v2 messages the decoder speaks).

use std::path::PathBuf;

/// The repository's `testdata/` folder.
pub fn testdata_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

/// The bytes of `testdata/<venue>/<name>`; panics naming the file if it cannot be read.
pub fn capture_bytes(venue: &str, name: &str) -> Vec<u8> {
    let path = testdata_dir().join(venue).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("testdata file {}: {e}", path.display()))
}

/// The text of `testdata/<venue>/<name>` (iterate a `.jsonl` capture with `.lines()`).
pub fn capture_text(venue: &str, name: &str) -> String {
    String::from_utf8(capture_bytes(venue, name)).unwrap_or_else(|e| panic!("testdata file {venue}/{name}: {e}"))
}

fn levels_v2(levels: &[&serde_json::Value]) -> String {
    // The v1 strings go in as bare JSON numbers, text unchanged, as v2 sends them.
    levels
        .iter()
        .flat_map(|l| l.as_array().expect("v1 levels"))
        .map(|l| format!("{{\"price\":{},\"qty\":{}}}", l[0].as_str().expect("price"), l[1].as_str().expect("qty")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A Kraken WS v1 `book-1000` frame (`testdata/kraken/book.jsonl`) as the equivalent v2 `book`
/// message (the decoder speaks v2; the README there explains the rewrite).
pub fn kraken_v1_book_to_v2(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("a v1 frame");
    let a = v.as_array().expect("a v1 array frame");
    let pair = a[a.len() - 1].as_str().expect("the pair");
    let objs: Vec<&serde_json::Map<String, serde_json::Value>> =
        a[1..a.len() - 2].iter().map(|o| o.as_object().expect("a v1 book object")).collect();
    let get = |k: &str| objs.iter().filter_map(|o| o.get(k)).collect::<Vec<_>>();
    let snapshot = !get("as").is_empty() || !get("bs").is_empty();
    let (asks, bids) = if snapshot { (get("as"), get("bs")) } else { (get("a"), get("b")) };
    let checksum =
        get("c").first().map(|c| format!(",\"checksum\":{}", c.as_str().expect("checksum"))).unwrap_or_default();
    format!(
        "{{\"channel\":\"book\",\"type\":\"{}\",\"data\":[{{\"symbol\":\"{pair}\",\"asks\":[{}],\"bids\":[{}]{checksum},\"timestamp\":\"2021-04-17T16:48:53.626000Z\"}}]}}",
        if snapshot { "snapshot" } else { "update" },
        levels_v2(&asks),
        levels_v2(&bids),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_capture_by_venue_and_name() {
        let text = capture_text("kraken", "book.jsonl");
        assert!(text.lines().count() > 1);
        assert_eq!(capture_bytes("kraken", "book.jsonl"), text.as_bytes());
    }

    #[test]
    #[should_panic(expected = "testdata file")]
    fn a_missing_capture_names_the_file() {
        capture_text("kraken", "no-such-file.jsonl");
    }

    #[test]
    fn a_kraken_v1_snapshot_becomes_a_v2_snapshot() {
        let v1 = r#"[0,{"as":[["5541.30000","2.50700000","1534614248.123678"]],"bs":[["5541.20000","1.52900000","1534614248.765567"]]},"book-10","XBT/USD"]"#;
        let text = kraken_v1_book_to_v2(v1);
        let v2: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v2["type"], "snapshot");
        assert_eq!(v2["data"][0]["symbol"], "XBT/USD");
        assert!(text.contains(r#""asks":[{"price":5541.30000,"qty":2.50700000}]"#), "{text}");
        assert!(text.contains(r#""bids":[{"price":5541.20000,"qty":1.52900000}]"#), "{text}");
    }
}
