//! # wijkpuls-api
//!
//! The service: the GraphQL schema (async-graphql), the axum router, authentication, the live
//! read model in memory and the subscriptions that push it. It joins the two other crates —
//! [`wijkpuls_domain`] decides and folds, [`wijkpuls_event_store`] records and replays — and
//! neither of them knows about it.
//!
//! Where things live:
//! - [`app`]: [`Application::build`] opens the store, replays the log, binds the listener;
//! - [`live`]: the read model in memory and the one tailer task that keeps it current;
//! - [`service`]: carrying out a command (decide, append under the consistency condition,
//!   wait for read-your-writes);
//! - [`schema`]: queries, mutations, subscriptions; [`error`]: the one mapping from refusals
//!   to `extensions.code`;
//! - [`policy`]: every rule of who may do and see what; [`auth`]: who is asking (tokens);
//!   [`tracking`], [`personal`], [`ratelimit`]: tracking codes, personal data, rate limits;
//! - [`transport`]: GraphQL over HTTP and WebSocket, standards-exact;
//! - [`metrics`]: every series of `/metrics`;
//! - [`routes`]: HTTP; [`request`]: request ids and the per-request span; [`overview`]: the city-wide screen; [`feed`]: the public event lines; [`demo`]: `--demo`.

pub mod app;
pub mod auth;
pub mod codec;
pub mod cors_compression;
pub mod demo;
pub mod error;
pub mod feed;
pub mod graphiql;
pub mod live;
pub mod metrics;
pub mod overview;
pub mod personal;
pub mod policy;
pub mod ratelimit;
pub mod request;
pub mod routes;
pub mod schema;
pub mod service;
pub mod snapshot;
pub mod tracking;
pub mod transport;

pub use app::{Application, Config};
