//! Small payloads of the core's own events, version 1:
//!
//! ```text
//!  BookInvalidation (id 3), 8 bytes        RiskState as Ess (id 11) or GlobalRiskLevel (id 12), 16 bytes
//!   0  4  instrument u32                    0  1  ess: 0 armed, 1 triggered, 2 latched
//!   4  1  reason: 0 non-positive price,     1  1  ess source code (the risk component's)
//!             1 negative quantity,          2  1  global level code (0 = lowest)
//!             2 wrong instrument, 3 crossed 3  5  reserved
//!   5  3  reserved                          8  8  ess since, Unix ns (0 when armed)
//!
//!  Timer (id 16), 8 bytes                  Halt (id 17), 0 bytes
//!   0  8  venue health bitmask u64 (bit v = venue v healthy)
//!
//!  Failover (id 18), 8 bytes
//!   0  2  account u16
//!   2  2  primary venue u16
//!   4  2  from venue u16 (65535: none was healthy)
//!   6  2  to venue u16 (65535: none is healthy)
//! ```
//!
//! A risk state change is journaled as an `Ess` record when the emergency stop's part changed
//! and as a `GlobalRiskLevel` record otherwise; both decode to the whole [`RiskState`].

use qt_core::risk_api::RiskState;
use qt_core::routing::Failover;
use qt_core::{AccountId, BookError, InstrumentId, Nanos, VenueId};

use super::{Get, PayloadError, Put, check_v1};

/// Payload version written.
pub const VERSION: u16 = 1;
/// Length of a book invalidation payload.
pub const BOOK_LEN: usize = 8;
/// Length of a risk state payload.
pub const RISK_STATE_LEN: usize = 16;
/// Length of a timer payload.
pub const TIMER_LEN: usize = 8;
/// Length of a failover payload.
pub const FAILOVER_LEN: usize = 8;
/// The venue field of a failover with no venue.
const NO_VENUE: u16 = u16::MAX;

const BOOK_ERRORS: [BookError; 4] =
    [BookError::NonPositivePrice, BookError::NegativeQty, BookError::WrongInstrument, BookError::Crossed];

fn book_error_code(e: BookError) -> u8 {
    match e {
        BookError::NonPositivePrice => 0,
        BookError::NegativeQty => 1,
        BookError::WrongInstrument => 2,
        BookError::Crossed => 3,
    }
}

/// Encode a book refusal.
pub fn encode_book(instrument: InstrumentId, reason: BookError, out: &mut [u8; BOOK_LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    p.u32(0, instrument.0);
    p.u8(4, book_error_code(reason));
    BOOK_LEN
}

/// Decode a book refusal.
pub fn decode_book(bytes: &[u8], version: u16) -> Result<(InstrumentId, BookError), PayloadError> {
    let b = check_v1::<BOOK_LEN>(bytes, version, "BookInvalidation")?;
    let g = Get { b, record: "BookInvalidation" };
    Ok((InstrumentId(g.u32(0)), g.code(4, "reason", &BOOK_ERRORS)?))
}

/// Encode a risk state.
pub fn encode_risk_state(s: &RiskState, out: &mut [u8; RISK_STATE_LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    p.u8(0, s.ess);
    p.u8(1, s.ess_source);
    p.u8(2, s.level);
    p.i64(8, s.ess_since.0);
    RISK_STATE_LEN
}

/// Decode a risk state.
pub fn decode_risk_state(bytes: &[u8], version: u16) -> Result<RiskState, PayloadError> {
    let b = check_v1::<RISK_STATE_LEN>(bytes, version, "RiskState")?;
    let g = Get { b, record: "RiskState" };
    let ess = g.u8(0);
    if ess > RiskState::LATCHED {
        return Err(g.bad("ess", u64::from(ess)));
    }
    Ok(RiskState { ess, ess_source: g.u8(1), level: g.u8(2), ess_since: Nanos(g.i64(8)) })
}

/// Encode a timer record.
pub fn encode_timer(venue_healthy: u64, out: &mut [u8; TIMER_LEN]) -> usize {
    out.copy_from_slice(&venue_healthy.to_le_bytes());
    TIMER_LEN
}

/// Decode a timer record.
pub fn decode_timer(bytes: &[u8], version: u16) -> Result<u64, PayloadError> {
    let b = check_v1::<TIMER_LEN>(bytes, version, "Timer")?;
    Ok(u64::from_le_bytes(*b))
}

/// Encode a failover.
pub fn encode_failover(f: &Failover, out: &mut [u8; FAILOVER_LEN]) -> usize {
    let mut p = Put(out);
    p.u16(0, f.account.0);
    p.u16(2, f.primary.0);
    p.u16(4, f.from.map_or(NO_VENUE, |v| v.0));
    p.u16(6, f.to.map_or(NO_VENUE, |v| v.0));
    FAILOVER_LEN
}

/// Decode a failover.
pub fn decode_failover(bytes: &[u8], version: u16) -> Result<Failover, PayloadError> {
    let b = check_v1::<FAILOVER_LEN>(bytes, version, "Failover")?;
    let g = Get { b, record: "Failover" };
    let venue = |at: usize| Some(g.u16(at)).filter(|v| *v != NO_VENUE).map(VenueId);
    let primary = g.u16(2);
    if primary == NO_VENUE {
        return Err(g.bad("primary", u64::from(primary)));
    }
    Ok(Failover { account: AccountId(g.u16(0)), primary: VenueId(primary), from: venue(4), to: venue(6) })
}

/// Checks a halt record (no payload).
pub fn decode_halt(bytes: &[u8], version: u16) -> Result<(), PayloadError> {
    check_v1::<0>(bytes, version, "Halt").map(|_| ())
}
