//! The domain's integration tests, in one binary (one link instead of many).

mod concurrency;
mod demo;
mod events;
mod invariants;
mod lifecycle;
mod projections;
mod reference_data;
mod support;
mod trends;
