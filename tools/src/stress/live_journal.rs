//! What a live stress run's journal shows, for the venue scenarios' checks: every order command
//! with the venue it went to, the engine's venue-health judgements (the housekeeping timer's
//! bitmask), failovers, risk decisions, the emergency stop's changes, and each book's validity
//! and last record over time — plus the one check they share, that no order was accepted twice
//! or at a venue the engine did not send it to ([`no_duplicates`]).

use super::Verdict;
use super::live_run::VenueEvent;
use crate::config::Plan;
use anyhow::Context;
use qt_core::journal::JournalEvent;
use qt_core::risk_api::RiskState;
use qt_core::{ClientOrderId, InstrumentId, MarketEvent, OrderCommand, OrderRequest, Venue};
use qt_recorder::JournalReader;
use qt_recorder::payload::core_record;
use std::collections::HashMap;
use std::path::Path;

/// One core record: its domain time (Unix ns in a live run) and what happened.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Domain time, ns.
    pub at: i64,
    /// The event.
    pub event: JournalEvent,
}

/// A run's journal, decoded.
#[derive(Debug, Default)]
pub struct RunJournal {
    /// The core's records in order (configuration and text records left out).
    pub entries: Vec<Entry>,
}

/// A new order the engine sent.
#[derive(Debug, Clone, Copy)]
pub struct SentOrder {
    /// Domain time, ns.
    pub at: i64,
    /// Our order id.
    pub order_id: u64,
    /// The request as sent.
    pub request: OrderRequest,
    /// Where it went.
    pub venue: Venue,
    /// Sent by the risk component (a flatten order), not a strategy.
    pub risk: bool,
}

impl RunJournal {
    /// Reads the journal in `dir` to its committed end.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let mut reader = JournalReader::open(dir).with_context(|| format!("journal {}", dir.display()))?;
        let mut entries = Vec::new();
        while let Some(r) = reader.next()? {
            if let Ok(Some(e)) = core_record::decode(&r) {
                entries.push(Entry { at: e.record.domain_ns.0, event: e.record.event });
            }
        }
        Ok(Self { entries })
    }

    /// The journal of `outcome`'s run.
    pub fn of(outcome: &crate::run::RunOutcome) -> anyhow::Result<Self> {
        let j = outcome.journal.as_ref().context("the scenario's run wrote no journal")?;
        Self::read(&j.dir)
    }

    /// Every new order sent, in order.
    pub fn new_orders(&self, plan: &Plan) -> Vec<SentOrder> {
        self.entries
            .iter()
            .filter_map(|e| match e.event {
                JournalEvent::Command(OrderCommand::New { order_id, request, .. }) => Some(SentOrder {
                    at: e.at,
                    order_id: order_id.0,
                    request,
                    venue: plan.instruments.get(request.instrument).map_or(Venue::Sim, |i| i.venue()),
                    risk: request.strategy == qt_core::RISK_STRATEGY,
                }),
                _ => None,
            })
            .collect()
    }

    /// The engine's health judgements: `(at, bitmask)`, bit `v` set = the `v`th `[[venues]]`
    /// entry healthy.
    pub fn health(&self) -> Vec<(i64, u64)> {
        self.entries
            .iter()
            .filter_map(|e| match e.event {
                JournalEvent::Timer { venue_healthy } => Some((e.at, venue_healthy)),
                _ => None,
            })
            .collect()
    }

    /// Each change of an account's selected venue: `(at, venue now selected)` (`None`: none
    /// healthy).
    pub fn failovers(&self, plan: &Plan) -> Vec<(i64, Option<Venue>)> {
        self.entries
            .iter()
            .filter_map(|e| match e.event {
                JournalEvent::Failover(f) => {
                    Some((e.at, f.to.and_then(|v| plan.venues.get(v.index())).map(|v| v.venue)))
                }
                _ => None,
            })
            .collect()
    }

    /// Risk decisions: `(at, instrument, block reason)` (`None`: allowed or scaled down).
    pub fn decisions(&self) -> Vec<(i64, InstrumentId, Option<qt_core::BlockReason>)> {
        self.entries
            .iter()
            .filter_map(|e| match e.event {
                JournalEvent::Decision(d) => {
                    let r = d.record(qt_core::Nanos(e.at), qt_core::Nanos::ZERO);
                    Some((e.at, InstrumentId(d.instrument), r.block_reason()))
                }
                _ => None,
            })
            .collect()
    }

    /// When the emergency stop first left `armed`, if it did.
    pub fn ess_tripped_at(&self) -> Option<i64> {
        self.entries.iter().find_map(|e| match e.event {
            JournalEvent::RiskState(s) if s.ess != RiskState::ARMED => Some(e.at),
            _ => None,
        })
    }

    /// Market records of `instrument`, in the order consumed.
    pub fn market_of(&self, instrument: InstrumentId) -> impl Iterator<Item = (i64, &MarketEvent)> {
        self.entries.iter().filter_map(move |e| match &e.event {
            JournalEvent::Market(m) if m.instrument == instrument => Some((e.at, m)),
            _ => None,
        })
    }
}

/// The index of `venue`'s `[[venues]]` entry (its bit in the health mask, its venue id).
pub fn venue_index(plan: &Plan, venue: Venue) -> Option<usize> {
    plan.venues.iter().position(|v| v.venue == venue)
}

/// Checks "nothing duplicated": every client order id the simulator accepted is accepted once,
/// at one venue, and is an order the journal shows sent to that venue. Records the check.
pub fn no_duplicates(v: &mut Verdict, name: &str, sent: &[SentOrder], seen: &[VenueEvent]) {
    let to: HashMap<u64, Venue> = sent.iter().map(|o| (o.order_id, o.venue)).collect();
    let mut accepted: HashMap<&str, &str> = HashMap::new();
    let mut problems = Vec::new();
    for e in seen.iter().filter(|e| e.accepted) {
        if let Some(first) = accepted.insert(&e.client_order_id, e.venue) {
            problems.push(format!("{} accepted at {first} and again at {}", e.client_order_id, e.venue));
            continue;
        }
        match ClientOrderId::parse(&e.client_order_id) {
            Some((_, id)) => match to.get(&id.0) {
                Some(venue) if venue.name() == e.venue => {}
                Some(venue) => {
                    problems.push(format!("{} sent to {venue} but accepted at {}", e.client_order_id, e.venue))
                }
                None => problems.push(format!("{} accepted at {} was never sent", e.client_order_id, e.venue)),
            },
            None => problems.push(format!("{} at {} is not one of the engine's ids", e.client_order_id, e.venue)),
        }
    }
    let detail = if problems.is_empty() {
        format!(
            "{} orders sent, {} accepted by the venues, each once at the venue it was sent to",
            sent.len(),
            accepted.len()
        )
    } else {
        format!("{} of {} accepted orders: {}", problems.len(), accepted.len(), problems.join("; "))
    };
    v.check(name, problems.is_empty() && !accepted.is_empty(), detail);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use qt_core::{AccountId, OrderId, OrderType, Price, Qty, Side, StrategyId, TimeInForce};

    /// A strategy's order request on `instrument`.
    pub(in crate::stress) fn request(instrument: InstrumentId) -> OrderRequest {
        OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
            price: Price::from_units(6_500_000),
            qty: Qty::from_units(100),
            reduce_only: false,
            stop_price: None,
        }
    }

    fn sent(order_id: u64, venue: Venue) -> SentOrder {
        SentOrder { at: 0, order_id, request: request(InstrumentId(0)), venue, risk: false }
    }

    fn accepted(order_id: u64, venue: &'static str) -> VenueEvent {
        let id = ClientOrderId::new(7, OrderId(order_id)).as_str().to_string();
        VenueEvent { at: 0, venue, accepted: true, client_order_id: id, done: false }
    }

    fn judged(seen: &[VenueEvent]) -> (bool, String) {
        let mut v = Verdict::default();
        no_duplicates(&mut v, "no duplicate", &[sent(1, Venue::Binance), sent(2, Venue::Bybit)], seen);
        (v.passed(), v.checks[0].detail.clone())
    }

    #[test]
    fn the_duplicate_check_fails_on_an_order_accepted_twice_or_where_it_was_not_sent() {
        let (ok, detail) = judged(&[accepted(1, "binance"), accepted(2, "bybit")]);
        assert!(ok, "{detail}");
        // The same client id accepted again, at the other venue: a re-sent order.
        let (ok, detail) = judged(&[accepted(1, "binance"), accepted(1, "bybit")]);
        assert!(!ok && detail.contains("accepted at binance and again at bybit"), "{detail}");
        // Accepted at a venue the engine did not send it to.
        let (ok, detail) = judged(&[accepted(2, "binance")]);
        assert!(!ok && detail.contains("sent to bybit but accepted at binance"), "{detail}");
        // An order the journal never sent.
        let (ok, detail) = judged(&[accepted(9, "binance")]);
        assert!(!ok && detail.contains("was never sent"), "{detail}");
        // Nothing accepted: nothing was shown.
        assert!(!judged(&[]).0);
    }
}
