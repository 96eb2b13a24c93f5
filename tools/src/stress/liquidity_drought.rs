//! The `liquidity_drought` stress scenario (not built yet: it refuses to run, and counts as a failure).

use super::{StressCtx, Verdict};

/// Its name.
pub const NAME: &str = "liquidity_drought";

/// What it injects and expects.
pub const ABOUT: &str = "not built yet";

/// Runs it.
pub fn run(_ctx: &StressCtx) -> anyhow::Result<Verdict> {
    anyhow::bail!("not built yet")
}
