//! What a gateway thread counted: [`GatewayStats`], returned when the thread ends and read by
//! the run summary, and [`RejectCounts`], rejections per [`RejectReason`].
//!
//! Owned by the gateway thread (plain fields, no atomics); `Copy`.

use qt_core::RejectReason;

/// Rejections counted per [`RejectReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectCounts([u64; 16]);

impl RejectCounts {
    fn slot(reason: RejectReason) -> usize {
        reason as usize
    }

    /// How many orders were rejected for `reason`.
    pub fn get(&self, reason: RejectReason) -> u64 {
        self.0.get(Self::slot(reason)).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, reason: RejectReason) {
        if let Some(n) = self.0.get_mut(Self::slot(reason)) {
            *n += 1;
        }
    }

    /// Total over every reason.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// What a gateway did, returned when its thread ends. Venue-neutral: each field's doc names
/// Binance's request as the example.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// New orders sent to the venue (`POST /api/v3/order` attempted).
    pub orders_sent: u64,
    /// `Accepted` reports.
    pub accepted: u64,
    /// `Rejected` reports, by reason (local refusals included).
    pub rejected: RejectCounts,
    /// `Fill` reports.
    pub fills: u64,
    /// `Canceled` reports (cancels, IOC/FOK/market expiries).
    pub cancels: u64,
    /// Cancel requests sent (`DELETE /api/v3/order`, and one per symbol of a cancel-all).
    pub cancel_requests: u64,
    /// `CancelRejected` reports.
    pub cancel_rejects: u64,
    /// Requests without a usable answer: transport failures, timeouts and HTTP 5xx.
    pub transport_errors: u64,
    /// Answers of HTTP 429 or 418 (rate limit, IP ban).
    pub rate_limited: u64,
    /// User data stream reconnects (after a drop).
    pub reconnects: u64,
    /// Order queries made to settle an unknown fate or a gap.
    pub reconciliations: u64,
    /// Stream frames or REST answers that could not be understood (logged at warn).
    pub malformed: u64,
    /// Stream fills seen again (same trade id or already counted in `z`) and not re-reported.
    pub duplicate_fills: u64,
    /// Fills whose commission was in an asset other than the instrument's quote (fee
    /// reported as zero).
    pub fees_not_in_quote: u64,
    /// Fills found by a query whose trades `GET /api/v3/myTrades` could not account for (the
    /// request failed, or its list did not add up): reported at the average price with their
    /// fee UNKNOWN (zero), each logged at warn. PnL lacks these fees.
    pub fills_without_fee: u64,
    /// Fills found by a query and booked trade by trade from `GET /api/v3/myTrades`, with
    /// their real commission.
    pub fills_fee_from_trades: u64,
    /// `GET /api/v3/myTrades` requests made.
    pub trade_queries: u64,
    /// Stream events of orders of this run the gateway no longer tracks.
    pub unknown_order_events: u64,
    /// Largest `X-MBX-USED-WEIGHT-1M` seen.
    pub max_used_weight: u32,
    /// Estimates of the venue's clock made ([`crate::kit::time_sync`]).
    pub time_syncs: u64,
    /// The venue's clock minus ours at the last estimate, ms (the skew signed timestamps were
    /// corrected by).
    pub clock_offset_ms: i64,
    /// The estimate farthest from zero, ms.
    pub max_clock_offset_ms: i64,
    /// Requests the venue refused for their timestamp (Binance -1021); each makes the clock due
    /// for a re-estimate, and an order or cancel is sent once more after it.
    pub timestamp_rejects: u64,
    /// Funding payments the stream showed and the gateway sent to the core (USD-M's
    /// `ACCOUNT_UPDATE` `FUNDING_FEE`).
    pub funding_payments: u64,
    /// Funding payments the stream showed that were not booked (no single contract to book them
    /// on, or no room in the control channel); each logged at error. PnL lacks these.
    pub funding_unbooked: u64,
    /// Changes of the venue's health sent to the core (`ControlCommand::VenueHealth`;
    /// `kit::health`).
    pub health_reports: u64,
    /// Health changes that met a full control channel (each logged, and sent once there was
    /// room).
    pub health_reports_blocked: u64,
}

impl GatewayStats {
    /// Books an estimate of the venue's clock (`offset_ms`, venue minus ours) here and in the
    /// stats file's `block`.
    pub(crate) fn note_clock(
        &mut self,
        offset_ms: i64,
        block: Option<&qt_core::stats::StatsHandle<qt_core::stats::blocks::GatewayClockStats>>,
    ) {
        self.time_syncs += 1;
        self.clock_offset_ms = offset_ms;
        if offset_ms.unsigned_abs() > self.max_clock_offset_ms.unsigned_abs() {
            self.max_clock_offset_ms = offset_ms;
        }
        if let Some(block) = block {
            // Two's complement: the gauge is read as signed.
            block.offset_ms.set(offset_ms as u64);
            block.syncs.incr();
        }
    }

    /// Books a request the venue refused for its timestamp, here and in the stats file's `block`.
    pub(crate) fn note_timestamp_reject(
        &mut self,
        block: Option<&qt_core::stats::StatsHandle<qt_core::stats::blocks::GatewayClockStats>>,
    ) {
        self.timestamp_rejects += 1;
        if let Some(block) = block {
            block.timestamp_rejects.incr();
        }
    }
}
