//! The end-to-end suite of the wijkpuls service: the real router on port 0 (and, where it
//! matters, the real `wijkpuls` binary), spoken to over HTTP and WebSocket the way clients do,
//! each test on a fresh database. Every test runs on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set (see [`helpers`]).
//!
//! - [`mutations`]: every mutation's success path and what it does to budgets;
//! - [`queries`]: reference data, budgets, pagination and filters, the city overview, events;
//! - [`errors`]: every error code, and that a refusal records nothing;
//! - [`idempotency`]: retries with an `idempotencyKey`;
//! - [`subscriptions`]: graphql-transport-ws: first the current state, then every change;
//! - [`permissions`]: who may do what, as a matrix over mutations and roles, and who sees
//!   personal data;
//! - [`personal_data`]: erasure, encryption at rest, logs;
//! - [`schema_file`]: `schema.graphql` matches the code;
//! - [`contention`]: many at once: racing fundings queue, deadlines, WebSocket limits, shared
//!   subscriptions;
//! - [`demo`]: `--demo` and `--demo-years`: dated demo years, loaded once, no dating by clients;
//! - [`request_ids`]: one request id in the response header, the errors and the events;
//! - [`cli`]: the binary: serve, token, errors, signals, log formats;
//! - [`cors_compression`]: CORS for named origins, gzip/br compression;
//! - [`ops`]: copy, export (NDJSON and open data) and import;
//! - [`verify`]: `wijkpuls verify` finds an altered log; erasure keeps the chain intact;
//! - [`abuse`]: what an attacker sends to make the service work hard, refused cheaply.
//! - [`metrics`]: `/metrics` counts what the service did, parsed strictly; it answers while the
//!   database hangs.
//! - [`facts`]: structured facts beside the Dutch text: linked initiatives, decision times,
//!   typed event facts, amounts after a withdrawal, counts per year, `orderBy`, the naming
//!   scheme and its deprecated old names.
//! - [`trends`]: `trends` and `trendsUpdated`: months and lead times on a back-dated log.
//! - [`similar`]: similar initiatives for a resident about to submit, and for staff.
//! - [`dashboards`]: time travel (`asOf`), the team's work list, range filters and cursors.
//! - [`generate`]: `wijkpuls generate`: exactly N valid events a server serves;
//! - [`snapshots`]: a start from a stored snapshot answers what a full replay answers; a
//!   snapshot of another fold version or a damaged one is not trusted.
//! - [`rebuild`]: `wijkpuls rebuild --check` agrees on a clean log, names an altered line.

#[macro_use]
mod helpers;

mod abuse;
mod cli;
mod contention;
mod cors_compression;
mod dashboards;
mod demo;
mod errors;
mod facts;
mod generate;
mod hardening;
mod idempotency;
mod metrics;
mod mutations;
mod one_commit;
mod ops;
mod permissions;
mod personal_data;
mod queries;
mod rebuild;
mod request_ids;
mod schema_file;
mod similar;
mod snapshots;
mod subscriptions;
mod trends;
mod verify;
