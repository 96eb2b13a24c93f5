//! The simulated exchange, one engine with two faces: a matching engine with price-time priority
//! ([`matching`]), seeded synthetic background order flow ([`flow`]) with its optional shock schedule
//! ([`shock`]), one instrument's market
//! ([`sim_exchange`]), the client desk that carries out orders on them ([`desk`]), and the
//! in-process lockstep venue thread `qt run` puts behind the core's queues ([`venue`]). The
//! other face, the venues' TLS wire protocols for `qt venue-sim`, serves the same engine through
//! [`crate::market`].

pub mod desk;
pub mod flow;
pub mod matching;
pub mod shock;
pub mod sim_exchange;
pub mod venue;
