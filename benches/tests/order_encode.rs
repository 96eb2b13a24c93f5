//! The order-encoding benchmark measures what the gateways send: for every venue, the fast
//! path's bytes equal the cold path's (`RequestSigner::sign_rest`, what `qt sign` prints), and
//! after warm-up the fast path allocates nothing where the venue's format allows.

use qt_benches::order_encode::{OrderEncoder, VENUES, limit_order};
use qt_core::{OrderId, OrderType, Side, TimeInForce};

#[global_allocator]
static GLOBAL: qt_test_support::CountingAllocator = qt_test_support::CountingAllocator;

/// Venues whose body writer still returns a new `String` (KuCoin's `order_body` builds a
/// `serde_json::Value`): allocations expected, and said so in BENCHMARKS.md.
const ALLOCATING: [&str; 1] = ["kucoin"];

#[test]
fn the_fast_path_writes_the_cold_paths_bytes_for_every_venue_and_order_form() {
    let mut orders = vec![limit_order()];
    let mut sell_ioc = limit_order();
    (sell_ioc.side, sell_ioc.tif) = (Side::Sell, TimeInForce::Ioc);
    let mut market = limit_order();
    market.order_type = OrderType::Market;
    let mut post_only = limit_order();
    post_only.tif = TimeInForce::PostOnly;
    orders.extend([sell_ioc, market, post_only]);
    for name in VENUES {
        let mut enc = OrderEncoder::new(name).unwrap();
        for (i, order) in orders.iter().enumerate() {
            let ts = 1_700_000_000_123 + i as i64;
            let fast = enc.encode(OrderId(40 + i as u64), order, ts).to_vec();
            let cold = enc.reference(OrderId(40 + i as u64), order, ts);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&cold),
                "{name}: order {i}: the fast path's request differs from sign_rest's"
            );
            assert!(fast.starts_with(b"POST /"), "{name}");
        }
    }
}

#[test]
fn after_warm_up_encoding_an_order_allocates_nothing_where_the_format_allows() {
    let request = limit_order();
    for name in VENUES {
        let mut enc = OrderEncoder::new(name).unwrap();
        for id in 1..=10 {
            enc.encode(OrderId(id), &request, 1_700_000_000_000 + id as i64);
        }
        let before = qt_test_support::allocations();
        for id in 11..=110 {
            enc.encode(OrderId(id), &request, 1_700_000_000_000 + id as i64);
        }
        let allocs = qt_test_support::allocations() - before;
        if ALLOCATING.contains(&name) {
            assert!(allocs > 0, "{name} now encodes without allocating: move it out of ALLOCATING");
        } else {
            assert_eq!(allocs, 0, "{name}: {allocs} allocations in 100 orders after warm-up");
        }
    }
}
