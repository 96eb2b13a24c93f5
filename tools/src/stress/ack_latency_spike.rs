//! The `ack_latency_spike` stress scenario (not built yet: it refuses to run, and counts as a failure).

use super::{StressCtx, Verdict};

/// Its name.
pub const NAME: &str = "ack_latency_spike";

/// What it injects and expects.
pub const ABOUT: &str = "not built yet";

/// Runs it.
pub fn run(_ctx: &StressCtx) -> anyhow::Result<Verdict> {
    anyhow::bail!("not built yet")
}
