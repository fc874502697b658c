//! The event store's test suite: every guarantee of docs/design.md ("The event store's guarantees")
//! with a test that fails without it, run once against SQLite and once against PostgreSQL.
//!
//! Each concern is a module; each test in it is written once as an `async fn(TestDatabase)` and
//! instantiated for both backends by [`backend_tests!`], so it shows up as e.g.
//! `concurrency::postgres::fifty_threads_race_on_expected_version`. PostgreSQL tests need
//! `TEST_DATABASE_URL` and say they were skipped without it. Every test gets a fresh database.

#[macro_use]
#[path = "store/common.rs"]
mod common;

#[path = "store/append.rs"]
mod append;
#[path = "store/append_only.rs"]
mod append_only;
#[path = "store/bad_input.rs"]
mod bad_input;
#[path = "store/chain.rs"]
mod chain;
#[path = "store/concurrency.rs"]
mod concurrency;
#[path = "store/durability.rs"]
mod durability;
#[path = "store/faults.rs"]
mod faults;
#[path = "store/keys.rs"]
mod keys;
#[path = "store/lifecycle.rs"]
mod lifecycle;
#[path = "store/postgres_only.rs"]
mod postgres_only;
#[path = "store/snapshots.rs"]
mod snapshots;
#[path = "store/sqlite_only.rs"]
mod sqlite_only;
#[path = "store/subscribe.rs"]
mod subscribe;
#[path = "store/transfer.rs"]
mod transfer;
