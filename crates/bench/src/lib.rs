//! `wijkpuls-bench ...`: measurements with a baseline taken in the same run, on the same
//! machine and database, so a figure means something on its own. A program of its own, apart
//! from the service binary, which therefore carries no load generator or WebSocket client (its
//! one HTTP client is `rebuild --check --server`'s, asking a running server what it shows).

pub mod abuse;
pub mod append;
pub mod asof;
pub mod chain;
pub mod contention;
pub mod fanout;
pub mod graphql;
pub mod memory;
