//! The risk configuration under test written into a scenario's own configuration text, so the
//! plan a scenario runs is loaded from one text — and the run's journal, which records the
//! configuration text it ran (`Plan::source_text`), holds exactly what ran: `qt replay` of a
//! scenario's journal rebuilds the same plan whatever `--config` was tested.
//!
//! Taken from the configuration under test: `[risk]`; `[failover]`; `[global_risk]` but its
//! `buckets` (they name the scenario's symbols); `[ess]` but where its control socket and reset
//! secret live (the scenario's own); `[engine] swap_policy`; and its first account's `profile`,
//! `overrides` and `max_position_notional`, put on every account of the scenario (each keeps its
//! name, capital, venues, strategies and keys). A table the configuration under test leaves out
//! is left out of the scenario too (its defaults apply), so nothing of the scenario's own risk
//! settings survives.

use toml::{Table, Value};

/// `[ess]` keys that say where things are, not how the stop behaves: the scenario's own.
const ESS_PLACES: [&str; 3] = ["control_socket", "reset_secret_file", "reset_secret_env"];

/// Account keys that make its risk profile.
const ACCOUNT_RISK: [&str; 3] = ["profile", "overrides", "max_position_notional"];

/// `scenario` with the risk configuration of `under_test` written in. Both must be TOML
/// documents; an error names which one is not.
pub fn overlay(scenario: &str, under_test: &str) -> anyhow::Result<String> {
    let mut doc: Table =
        scenario.parse().map_err(|e| anyhow::anyhow!("the scenario's configuration is not TOML: {e}"))?;
    let tested: Table =
        under_test.parse().map_err(|e| anyhow::anyhow!("the configuration under test is not TOML: {e}"))?;

    replace_table(&mut doc, &tested, "risk", &[]);
    replace_table(&mut doc, &tested, "failover", &[]);
    replace_table(&mut doc, &tested, "global_risk", &["buckets"]);
    replace_table(&mut doc, &tested, "ess", &ESS_PLACES);

    let swap_policy = tested.get("engine").and_then(|e| e.get("swap_policy")).cloned();
    if let Some(Value::Table(engine)) = doc.get_mut("engine") {
        engine.remove("swap_policy");
        if let Some(policy) = swap_policy {
            engine.insert("swap_policy".into(), policy);
        }
    } else if let Some(policy) = swap_policy {
        doc.insert("engine".into(), Value::Table(Table::from_iter([("swap_policy".to_string(), policy)])));
    }

    let first = tested.get("accounts").and_then(Value::as_array).and_then(|a| a.first()).and_then(Value::as_table);
    if let Some(Value::Array(accounts)) = doc.get_mut("accounts") {
        for account in accounts.iter_mut().filter_map(Value::as_table_mut) {
            for key in ACCOUNT_RISK {
                account.remove(key);
                if let Some(value) = first.and_then(|f| f.get(key)) {
                    account.insert(key.into(), value.clone());
                }
            }
        }
    }
    Ok(toml::to_string(&doc)?)
}

/// `doc[name]` becomes `tested[name]` (absent if it is absent there), keeping `doc[name]`'s
/// `keep` keys.
fn replace_table(doc: &mut Table, tested: &Table, name: &str, keep: &[&str]) {
    let own = doc.remove(name);
    let mut table = match tested.get(name) {
        Some(Value::Table(t)) => t.clone(),
        _ => Table::new(),
    };
    for key in keep {
        table.remove(*key);
    }
    if let Some(Value::Table(own)) = own {
        for key in keep {
            if let Some(v) = own.get(*key) {
                table.insert((*key).into(), v.clone());
            }
        }
    }
    if !table.is_empty() {
        doc.insert(name.into(), Value::Table(table));
    }
}
