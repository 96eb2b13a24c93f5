//! The one-screen summary printed at the end of `qt run`.

use crate::run::RunOutcome;
use qt_core::latency::LatencySummary;
use qt_core::sys::Pinning;
use qt_core::{DecimalStyle, Notional};
use qt_recorder::RecordType;
use std::fmt::Write;

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn latency_line(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "no samples".into();
    }
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (n={})",
        thousands(l.p50),
        thousands(l.p90),
        thousands(l.p99),
        thousands(l.p999),
        thousands(l.max),
        thousands(l.count)
    )
}

/// An instrument's symbol, with `@venue` when the run lists the symbol on more than one venue.
fn instrument_name(plan: &crate::config::Plan, inst: &qt_core::Instrument) -> String {
    if plan.instruments.iter().any(|i| i.symbol() == inst.symbol() && i.venue() != inst.venue()) {
        format!("{}@{}", inst.symbol(), inst.venue())
    } else {
        inst.symbol().to_string()
    }
}

fn money(n: Notional) -> String {
    n.display_rounded(4).to_string()
}

/// `parse errors N (json a, bad_decimal b)`: the total and its non-zero reasons.
fn parse_errors(f: &qt_core::FeedStats) -> String {
    let reasons: Vec<String> = f
        .parse_error_reasons
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| format!("{} {}", qt_feed::parse_error::ParseError::reason_name(i), thousands(*n)))
        .collect();
    if reasons.is_empty() {
        format!("parse errors {}", thousands(f.parse_errors))
    } else {
        format!("parse errors {} ({})", thousands(f.parse_errors), reasons.join(", "))
    }
}

/// A live run's health per venue: its feeds' counters summed, and its books valid at the end.
fn venue_health(s: &mut String, outcome: &RunOutcome) {
    let e = &outcome.engine;
    let plan = &outcome.plan;
    let feeds = plan.live_feeds();
    for v in &plan.venues {
        let mut sum = qt_core::FeedStats::default();
        for ((venue, _), (_, stats)) in feeds.iter().zip(&e.feeds) {
            let Some(f) = stats.filter(|_| *venue == v.venue) else { continue };
            sum.messages += f.messages;
            sum.gaps += f.gaps;
            sum.checksum_failed += f.checksum_failed;
            sum.crossed += f.crossed;
            sum.resyncs += f.resyncs;
            sum.parse_errors += f.parse_errors;
            for (total, n) in sum.parse_error_reasons.iter_mut().zip(f.parse_error_reasons) {
                *total += n;
            }
        }
        let books: Vec<bool> = e
            .books
            .iter()
            .filter(|b| plan.instruments.get(b.instrument).is_some_and(|i| i.venue() == v.venue))
            .map(|b| b.valid)
            .collect();
        let valid = books.iter().filter(|b| **b).count();
        let _ = writeln!(
            s,
            "  venue     {}: messages {}  books valid {}  invalid {}  resyncs {}  gaps {}  checksum failures {}  crossed {}  {}",
            v.venue,
            thousands(sum.messages),
            valid,
            books.len() - valid,
            thousands(sum.resyncs),
            thousands(sum.gaps),
            thousands(sum.checksum_failed),
            thousands(sum.crossed),
            parse_errors(&sum),
        );
    }
}

/// The live feeds' health: per venue ([`venue_health`]), per feed (venue connection) its
/// decoder's counters, per book what the engine's book saw.
fn feed_health(s: &mut String, outcome: &RunOutcome) {
    venue_health(s, outcome);
    let e = &outcome.engine;
    for (name, stats) in &e.feeds {
        let Some(f) = stats else { continue };
        let _ = writeln!(
            s,
            "  feed      {name}: messages {}  gaps {}  checksum failures {}  crossed {}  resyncs {}  {}{}",
            thousands(f.messages),
            thousands(f.gaps),
            thousands(f.checksum_failed),
            thousands(f.crossed),
            thousands(f.resyncs),
            parse_errors(f),
            if f.warnings_suppressed > 0 {
                format!("  warnings not logged {}", thousands(f.warnings_suppressed))
            } else {
                String::new()
            }
        );
    }
    for b in &e.books {
        let Some(inst) = outcome.plan.instruments.get(b.instrument) else { continue };
        let h = &b.health;
        let _ = writeln!(
            s,
            "  book      {} {}: messages {}  gaps {}  resyncs {}  crossed {}  time invalid {:.3} s{}",
            inst.venue(),
            inst.symbol(),
            thousands(h.messages),
            b.gaps.map_or_else(|| "-".to_string(), thousands),
            thousands(h.invalidations),
            thousands(h.crossed),
            h.invalid_ns.as_secs_f64(),
            if b.valid { "" } else { "  INVALID at end" }
        );
    }
}

/// The summary's reconciliation lines (also journaled as the run's Reconciliation record).
pub fn reconciliation_lines(outcome: &RunOutcome) -> String {
    let plan = &outcome.plan;
    let mut s = String::new();
    match &outcome.reconciliation {
        Some(rec) => {
            let _ = writeln!(
                s,
                "  reconcile positions vs venue ledger: {} compared, {} differences",
                rec.compared,
                rec.differences.len()
            );
            for d in &rec.differences {
                let name = plan.instruments.get(d.instrument).map_or("?", |i| i.symbol());
                let account = plan.accounts.get(d.account.index()).map_or("?", |a| a.name.as_str());
                let _ =
                    writeln!(s, "    {account} {name}: ours {} units, venue {} units", d.ours.units(), d.venue.units());
            }
        }
        None => match &outcome.live_reconciliation {
            Some(Ok(live)) => {
                for l in &outcome.capital {
                    let name = plan.accounts.get(l.account.index()).map_or("?", |a| a.name.as_str());
                    let _ = writeln!(s, "  {}", l.render(name));
                }
                for l in &outcome.start_positions_taken {
                    let _ = writeln!(s, "  {l}");
                }
                if let Some(p) = &outcome.periodic_reconciliation {
                    let _ = writeln!(
                        s,
                        "  reconcile during the run: every {:?}, {} checks, {} failed, at most {} differences \
                         found twice in a row{}",
                        p.every,
                        p.runs,
                        p.failed,
                        p.max_persistent,
                        if p.lost { " (stopped: position copies overflowed)" } else { "" }
                    );
                }
                for (what, rec) in [
                    ("positions vs venue base-asset balances", &live.positions),
                    ("balances vs venue (account snapshots)", &live.balances),
                ] {
                    let _ = writeln!(
                        s,
                        "  reconcile {what}: {} compared, {} differences",
                        rec.compared,
                        rec.differences.len()
                    );
                    for d in &rec.differences {
                        let account = plan.accounts.get(d.account.index()).map_or("?", |a| a.name.as_str());
                        let _ = writeln!(
                            s,
                            "    {account} {}: ours {}, venue {}, delta {}",
                            d.asset,
                            d.ours.to_text(DecimalStyle::Trimmed),
                            d.venue.to_text(DecimalStyle::Trimmed),
                            d.delta.to_text(DecimalStyle::Trimmed)
                        );
                    }
                }
            }
            Some(Err(why)) => {
                let _ = writeln!(s, "  reconcile not available: {why}");
            }
            None => {
                let _ = writeln!(s, "  reconcile not available");
            }
        },
    }
    s
}

/// One line per strategy swap carried out: when, which strategy, versions, policy, the working
/// orders it found and handed over (or cancelled) and the position it left unchanged.
fn swap_lines(s: &mut String, outcome: &RunOutcome) {
    for w in &outcome.engine.swaps {
        let plan = &outcome.plan;
        let name = plan.strategies.get(w.strategy.index()).map_or("?", |p| p.name.as_str());
        let lot = plan
            .strategies
            .get(w.strategy.index())
            .and_then(|p| plan.instruments.get(p.instrument))
            .map(|i| i.qty_text(w.position.1).to_string());
        let _ = writeln!(
            s,
            "  swap      {name} (strategy {}) v{} -> v{} at {} ms ({}): {} working order(s), {} handed over, {} \
             cancelled; position {} {}",
            w.strategy.0,
            w.versions.0,
            w.versions.1,
            w.at.0 / 1_000_000,
            w.policy.name(),
            w.working,
            w.adopted,
            w.cancels_sent,
            lot.unwrap_or_else(|| format!("{} units", w.position.1.units())),
            if w.position.0 == w.position.1 { "unchanged" } else { "CHANGED" }
        );
    }
}

/// Renders the summary of a finished run.
pub fn render(outcome: &RunOutcome) -> String {
    let e = &outcome.engine;
    let plan = &outcome.plan;
    let mut s = String::new();
    let secs = e.elapsed.as_secs_f64().max(1e-9);
    let pinning = match e.pinning {
        Pinning::Pinned(cpu) => format!("pinned to cpu {cpu}"),
        Pinning::NotRequested => "not pinned".into(),
        Pinning::Failed(cpu) => format!("NOT pinned (cpu {cpu} refused)"),
    };
    match &outcome.venue {
        Some(v) => {
            let sim_secs = (v.sim_time.0 - plan.sim.start.0) as f64 / 1e9;
            let _ = writeln!(
                s,
                "Quantum Trader — run summary (built-in simulated venue, seed {}, pace {:?}{})",
                plan.sim.seed,
                plan.sim.pace,
                if v.stopped_early { ", stopped early" } else { "" }
            );
            let _ = writeln!(
                s,
                "  time      simulated {sim_secs:.3} s   wall {:.3} s   core thread {pinning}",
                outcome.wall.as_secs_f64()
            );
            let _ = writeln!(
                s,
                "  market    events {}  messages {}  events/s {}  background orders {}  public trades {}",
                thousands(e.market_events),
                thousands(e.market_batches),
                thousands((e.market_events as f64 / secs) as u64),
                thousands(v.background_events),
                thousands(v.trades)
            );
            let _ = writeln!(
                s,
                "  orders    requests {}  sent {}  fills {}  venue rejects {}  open at end {}",
                thousands(e.order_requests),
                thousands(e.orders_sent),
                thousands(e.fills),
                thousands(v.client_rejects),
                e.open_orders
            );
        }
        None => {
            let venues: Vec<String> = outcome.gateways.iter().map(|(v, _)| v.to_string()).collect();
            let _ = writeln!(s, "Quantum Trader — run summary (live venues: {})", venues.join(", "));
            let _ = writeln!(s, "  time      wall {:.3} s   core thread {pinning}", outcome.wall.as_secs_f64());
            let _ = writeln!(
                s,
                "  market    events {}  messages {}  events/s {}",
                thousands(e.market_events),
                thousands(e.market_batches),
                thousands((e.market_events as f64 / secs) as u64)
            );
            let rejects: u64 = outcome.gateways.iter().map(|(_, g)| g.rejected.total()).sum();
            let _ = writeln!(
                s,
                "  orders    requests {}  sent {}  fills {}  venue rejects {}  open at end {}",
                thousands(e.order_requests),
                thousands(e.orders_sent),
                thousands(e.fills),
                thousands(rejects),
                e.open_orders
            );
            for (venue, g) in &outcome.gateways {
                let _ = writeln!(
                    s,
                    "  gateway   {venue}: sent {} accepted {} fills {} cancels {} transport errors {} reconnects {} max weight {}",
                    g.orders_sent, g.accepted, g.fills, g.cancels, g.transport_errors, g.reconnects, g.max_used_weight
                );
                let _ = writeln!(
                    s,
                    "  clock     {venue}: venue clock offset {} ms (largest {} ms, {} estimates), timestamp rejects {}",
                    g.clock_offset_ms, g.max_clock_offset_ms, g.time_syncs, g.timestamp_rejects
                );
                let _ = writeln!(s, "{}", fee_line(*venue, g));
            }
            feed_health(&mut s, outcome);
            if let Some(r) = &outcome.restore {
                for line in r.lines() {
                    let _ = writeln!(s, "  restore   {line}");
                }
            }
        }
    }
    let _ = writeln!(s, "  risk      {}", e.risk.render());
    swap_lines(&mut s, outcome);
    journal_lines(&mut s, outcome);
    let r = &outcome.risk;
    let triggers: Vec<String> = r.triggers.iter().map(|(name, n)| format!("{name} {n}")).collect();
    let _ = writeln!(
        s,
        "  ess       {}  triggers: {}  resets {} (refused {})  flatten orders sent {} refused {}",
        r.ess_state,
        triggers.join(", "),
        r.resets.len(),
        r.resets_refused,
        e.risk_orders.0,
        e.risk_orders.1
    );
    for reset in &r.resets {
        let _ = writeln!(s, "            reset by {reset}");
    }
    let _ = writeln!(s, "  level     global risk {} at end, risk.updated events {}", r.level, r.level_changes);
    s.push_str(&reconciliation_lines(outcome));
    let _ = writeln!(s, "  latency   tick→order ns  {}", latency_line(&e.tick_to_order));
    let _ =
        writeln!(s, "  loop      busy iteration ns  {}  stalls {}", latency_line(&e.loop_time), thousands(e.stalls));
    let _ = writeln!(s, "  accounts  (PnL in quote currency; unrealized marked to mid)");
    for (a, account) in plan.accounts.iter().enumerate() {
        let mut net_total = Notional::ZERO;
        let mut any = false;
        for p in e.positions.iter().filter(|p| p.account.index() == a) {
            any = true;
            let Some(inst) = plan.instruments.get(p.instrument) else { continue };
            let pos = &p.position;
            let unrealized = p.unrealized.unwrap_or(Notional::ZERO);
            let net = pos
                .realized()
                .checked_sub(pos.fees())
                .and_then(|x| x.checked_add(unrealized))
                .unwrap_or(Notional::ZERO);
            net_total = net_total.checked_add(net).unwrap_or(net_total);
            let avg = pos
                .avg_entry(inst)
                .map(|px| px.to_text(inst.price_scale(), DecimalStyle::Fixed).to_string())
                .unwrap_or_else(|| "-".into());
            // A perpetual's funding (included in realized) is shown on its own too.
            let funding = if inst.kind() == qt_core::InstrumentKind::Spot {
                String::new()
            } else {
                format!("  funding {}", money(pos.funding()))
            };
            let _ = writeln!(
                s,
                "    {:<8} {:<9} pos {:>12}  avg {:>12}  realized {:>12}  unrealized {:>12}  fees {:>10}  net {:>12}  fills {}{funding}",
                account.name,
                instrument_name(plan, inst),
                pos.qty().to_text(inst.qty_scale(), DecimalStyle::Fixed).to_string(),
                avg,
                money(pos.realized()),
                p.unrealized.map(money).unwrap_or_else(|| "n/a".into()),
                money(pos.fees()),
                money(net),
                pos.fills()
            );
        }
        if any {
            let _ = writeln!(s, "    {:<8} total net PnL {}", account.name, money(net_total));
        } else {
            let _ = writeln!(s, "    {:<8} no fills", account.name);
        }
    }
    if outcome.venue.is_some() {
        let _ = writeln!(s, "  fills digest {:016x} (same seed and duration ⇒ same digest)", e.fills_digest);
    }
    s
}

/// A live gateway's fills by how their fee is known (issue #14 item 7): a fill found by a query
/// whose trades could not be listed is booked with a zero fee, so PnL lacks it.
fn fee_line(venue: qt_core::Venue, g: &qt_gateway::binance::GatewayStats) -> String {
    format!(
        "  fees      {venue}: fills with unknown fee {} (booked as zero; PnL lacks them)  fee in another asset {}  recovered from trade list {}",
        g.fills_without_fee, g.fees_not_in_quote, g.fills_fee_from_trades
    )
}

/// The journal's lines: where it is, what was written, and the core's side (waits, holds,
/// drops, refused orders); a write failure is said plainly.
fn journal_lines(s: &mut String, outcome: &RunOutcome) {
    let t = &outcome.engine.journal;
    let Some(j) = &outcome.journal else {
        let _ = writeln!(s, "  journal   off (--no-journal or [journal] enabled = false): nothing recorded");
        return;
    };
    let st = &j.stats;
    let _ = writeln!(
        s,
        "  journal   {}  records {}: market {}, decisions {} (allow {} scale-down {} block {}), orders {}, reports {}; commits {}",
        j.dir.display(),
        thousands(st.records),
        thousands(st.of_type(RecordType::MarketEvent)),
        thousands(st.of_type(RecordType::RiskDecision)),
        thousands(st.allow),
        thousands(st.scale_downs()),
        thousands(st.blocks()),
        thousands(st.of_type(RecordType::OrderCommand)),
        thousands(st.of_type(RecordType::ExecutionReport)),
        thousands(st.commits),
    );
    let _ = writeln!(
        s,
        "            core: waited for room {} times, held market input {} iterations, dropped {}",
        thousands(t.waits),
        thousands(t.market_holds),
        thousands(t.dropped)
    );
    if let Some((written, dropped)) = st.raw_frames {
        let _ = writeln!(
            s,
            "            raw frames: written {}, dropped {} (their ring was full; the core never waits for them)",
            thousands(written),
            thousands(dropped)
        );
    }
    if let Some(why) = &st.failure {
        let _ = writeln!(
            s,
            "            WRITE FAILED: {why}; {} records not written, {} new orders refused",
            thousands(st.not_written),
            thousands(t.refused_orders)
        );
    }
}

#[cfg(test)]
mod fee_line_tests {
    use super::*;

    #[test]
    fn fills_with_unknown_fees_are_counted_in_the_summary() {
        let g =
            qt_gateway::binance::GatewayStats { fills_without_fee: 2, fills_fee_from_trades: 3, ..Default::default() };
        let line = fee_line(qt_core::Venue::Binance, &g);
        assert!(line.contains("binance: fills with unknown fee 2 (booked as zero"), "{line}");
        assert!(line.ends_with("recovered from trade list 3"), "{line}");
    }
}
