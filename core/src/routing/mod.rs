//! Routing across venues: canonical instruments listed at several venues ([`canonical`]), a
//! health score per venue and per account × venue ([`health`]), and the router that sends each
//! new order to the first healthy venue of its account's chain ([`router`]). The policy and its
//! reasons: `docs/FAILOVER.md`.
//!
//! The engine holds one [`RoutingPlan`] ([`crate::Engine::set_routing`]); without one every
//! instrument goes to its own venue as before and health is connectivity only.
//!
//! ```text
//!  live timer (monotonic)                          core handlers (journaled, replayed)
//!  ┌─────────────────────────────────┐             ┌──────────────────────────────────┐
//!  │ health: gateway + feeds, answers,│ healthy     │ place: route (selected venue,    │
//!  │ ack p99, rejects, book age       │──bitmask──► │  sibling there) → gate → ring    │
//!  │ router.on_health (hysteresis)    │──Failover─► │ journal: Failover (input), Timer │
//!  └─────────────────────────────────┘             └──────────────────────────────────┘
//! ```

pub mod canonical;
pub mod health;
pub mod router;

pub use canonical::{GridMismatch, NO_SIBLINGS, SiblingError, Siblings, check_grid};
pub use health::{HealthSettings, RejectWindow, VenueHealth, Verdict};
pub use router::{Failover, Route, Router, RouterSettings};

use crate::ids::VenueId;

/// What the engine routes by: each account's chain, the canonical instruments, and the
/// thresholds.
#[derive(Debug, Clone, Default)]
pub struct RoutingPlan {
    /// Each account's venue chain, by account index (venue ids = the engine's venue links).
    pub chains: Vec<Vec<VenueId>>,
    /// Which instruments are one canonical instrument.
    pub siblings: Siblings,
    /// The router's hysteresis.
    pub router: RouterSettings,
    /// The health score's thresholds.
    pub health: HealthSettings,
}

impl HealthSettings {
    /// Connectivity only (every other component always passes): the engine's health when no
    /// [`RoutingPlan`] is set, as before routing existed.
    pub const fn connectivity_only() -> Self {
        Self {
            window: Nanos(i64::MAX),
            min_answers: u32::MAX,
            max_reject_permille: 1000,
            ack_timeout: Nanos(i64::MAX),
            max_ack_p99: Nanos(i64::MAX),
            max_md_age: None,
        }
    }
}

use crate::time::Nanos;
