//! The built-in simulated venue: a matching engine with price-time priority, seeded synthetic
//! background order flow, and the venue thread that connects them to the core's queues.

pub mod desk;
pub mod exchange;
pub mod flow;
pub mod matching;
pub mod venue;
