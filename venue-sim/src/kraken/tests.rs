//! Issue #18's Kraken property: random book activity, encoded by the simulator ([`book_update`],
//! [`book_message`]) and read back as text by two clients — one truncating to the depth after
//! each level (Kraken's guide), one after each message — gives both the simulator's top `depth`
//! and verifies every checksum, each client building the checksum from the text as sent.

use super::wire::{book_message, book_update, checksum};
use crate::public_stream::{Levels, MirrorBook, PublishedView};
use qt_core::decimal::parse_scaled;
use qt_core::{Instrument, Venue};
use qt_test_support::TestInstrument;
use std::collections::BTreeMap;

/// A pair with 1 price and 8 quantity decimals (BTC/USD's).
fn pair() -> Instrument {
    TestInstrument::spot(Venue::Kraken, "BTC/USD").assets("BTC", "USD").tick("0.1").lot("0.00000001").build(0)
}

/// The `{"price":P,"qty":Q}` texts of one side's list in `frame`, in order.
fn side_texts<'a>(frame: &'a str, key: &str) -> Vec<(&'a str, &'a str)> {
    let start = frame.find(&format!("\"{key}\":[")).unwrap() + key.len() + 4;
    let list = &frame[start..start + frame[start..].find(']').unwrap()];
    list.split("},")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (price, qty) =
                l.trim_start_matches("{\"price\":").trim_end_matches('}').split_once(",\"qty\":").unwrap();
            (price, qty)
        })
        .collect()
}

/// A client keeping the levels' text as received.
struct TextClient {
    inst: Instrument,
    depth: usize,
    per_level: bool,
    /// Price units → (price text, qty text); bids, asks.
    sides: [BTreeMap<i64, (String, String)>; 2],
}

impl TextClient {
    fn new(inst: &Instrument, depth: usize, per_level: bool) -> Self {
        Self { inst: inst.clone(), depth, per_level, sides: [BTreeMap::new(), BTreeMap::new()] }
    }

    fn truncate(&mut self, s: usize) {
        while self.sides[s].len() > self.depth {
            if s == 0 {
                self.sides[s].pop_first()
            } else {
                self.sides[s].pop_last()
            };
        }
    }

    /// Applies a `book` frame; whether its checksum matches the book built from the text.
    fn on_frame(&mut self, frame: &str) -> bool {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        if v["type"] == "snapshot" {
            self.sides = [BTreeMap::new(), BTreeMap::new()];
        }
        for (s, key) in [(0, "bids"), (1, "asks")] {
            for (price, qty) in side_texts(frame, key) {
                let units = parse_scaled(price, self.inst.price_scale()).unwrap();
                if parse_scaled(qty, self.inst.qty_scale()).unwrap() == 0 {
                    self.sides[s].remove(&units);
                } else {
                    self.sides[s].insert(units, (price.to_owned(), qty.to_owned()));
                }
                if self.per_level {
                    self.truncate(s);
                }
            }
            self.truncate(s);
        }
        let mut text = String::new();
        let asks = self.sides[1].values().take(10);
        for (price, qty) in asks.chain(self.sides[0].values().rev().take(10)) {
            for t in [price, qty] {
                text.push_str(t.replace('.', "").trim_start_matches('0'));
            }
        }
        v["data"][0]["checksum"].as_u64() == Some(u64::from(crc32fast::hash(text.as_bytes())))
    }

    fn units(&self) -> (Levels, Levels) {
        let qty = |q: &str| parse_scaled(q, self.inst.qty_scale()).unwrap();
        (
            self.sides[0].iter().rev().map(|(p, (_, q))| (*p, qty(q))).collect(),
            self.sides[1].iter().map(|(p, (_, q))| (*p, qty(q))).collect(),
        )
    }
}

#[test]
fn numbers_are_printed_at_the_pairs_precision() {
    let frame = book_message(&pair(), "update", &[(649_999, 400_000)], &[(650_001, 0)], 7, 0);
    assert!(frame.contains("\"bids\":[{\"price\":64999.9,\"qty\":0.00400000}]"), "{frame}");
    assert!(frame.contains("\"asks\":[{\"price\":65000.1,\"qty\":0.00000000}]"), "{frame}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    #[test]
    fn per_level_and_per_message_clients_agree_and_every_checksum_verifies(
        depth in proptest::sample::select(vec![10usize, 25]),
        // (ticks from the mid within twice the depth, size in lots (0 deletes), bid?)
        steps in proptest::collection::vec(
            proptest::collection::vec((0i64..50, 0i64..4, proptest::bool::ANY), 1..8),
            1..60,
        ),
    ) {
        let inst = pair();
        let mut market = MirrorBook::default();
        for k in 0..40 {
            market.bids.insert(650_000 - k, 100_000 + k);
            market.asks.insert(650_001 + k, 100_000 + k);
        }
        let (mut view, bids, asks) = PublishedView::snapshot(&market, depth);
        let snapshot = book_message(&inst, "snapshot", &bids, &asks, checksum(&inst, &view), 0);
        let mut clients = [TextClient::new(&inst, depth, true), TextClient::new(&inst, depth, false)];
        for c in &mut clients {
            proptest::prop_assert!(c.on_frame(&snapshot), "snapshot {}", snapshot);
        }
        for step in steps {
            for (k, lots, bid) in step {
                let (side, price) = if bid { (&mut market.bids, 650_000 - k) } else { (&mut market.asks, 650_001 + k) };
                if lots == 0 { side.remove(&price) } else { side.insert(price, lots * 12_345) };
            }
            let Some((bids, asks, sum)) = book_update(&inst, &mut view, &market) else { continue };
            let frame = book_message(&inst, "update", &bids, &asks, sum, 0);
            for c in &mut clients {
                proptest::prop_assert!(c.on_frame(&frame), "per level {}: {}", c.per_level, frame);
                proptest::prop_assert_eq!(c.units(), market.top(depth), "per level {}: {}", c.per_level, frame);
            }
        }
    }
}
