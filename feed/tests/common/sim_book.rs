//! The simulator's own book through `GET /_sim/book`, shared by the feed test harnesses
//! (`util`, `snapshot_util`, `stream_util` include this file with `#[path]`).

use qt_core::Instrument;
use qt_feed::snapshot::HttpsClient;

/// Levels as exact integer units (price, qty), best first.
pub(crate) type Levels = Vec<(i64, i64)>;

/// `(updateId, bids, asks)` of the simulator's top `depth` levels of `inst`, as exact integer
/// units (price, qty) on `inst`'s grid, best first.
pub(crate) fn fetch(rest: &HttpsClient, inst: &Instrument, depth: usize) -> (u64, Levels, Levels) {
    let (status, mut body) =
        rest.get(&format!("/_sim/book?symbol={}&depth={depth}", inst.symbol())).expect("GET /_sim/book");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: simd_json::OwnedValue = simd_json::to_owned_value(&mut body).expect("json");
    use simd_json::prelude::*;
    let side = |key: &str| -> Levels {
        v[key]
            .as_array()
            .expect("levels")
            .iter()
            .map(|l| {
                let p = inst.parse_price(l[0].as_str().expect("price")).expect("price on grid");
                let q = inst.parse_qty(l[1].as_str().expect("qty")).expect("qty on grid");
                (p.units(), q.units())
            })
            .collect()
    };
    (v["updateId"].as_u64().expect("updateId"), side("bids"), side("asks"))
}
