//! The pure domain of wijkpuls: Arnhem's wijken and gebieden, money, the initiative lifecycle,
//! budget rules, commands → events, and the projections that fold events into read models.
//!
//! This crate is pure: no I/O, no clock except in [`InitiativeId::new`], no database, no web. It
//! knows neither the event store nor the api; the api crate wires them together. Everything that
//! enters is parsed once into types that cannot hold invalid values ([`Money`], [`WijkCode`],
//! [`Title`], ...) and is trusted from then on.
//!
//! # Layout
//!
//! - Values: [`money`] (exact euro cents), [`theme`], [`status`] (the lifecycle's transition
//!   table), [`channel`], [`codes`] (wijk, gebied and municipality codes), [`ids`], [`text`]
//!   (texts with limits), [`budget`] (budget lines and years), [`connection`], [`personal`]
//!   (the initiator's sealed personal data).
//! - Reference data: [`reference`](mod@reference) (the wijken file format; Arnhem's list ships in
//!   `data/wijken-arnhem.json` with its provenance).
//! - What happened: [`events`] (with their stream ids, [`tags`] and JSON payloads).
//! - What is asked: [`commands`] (`decide(state, command)` → events plus the consistency
//!   condition the append must meet).
//! - What is known: [`projection`] ([`CityState`], one fold answering queries and checking
//!   commands; fold a prefix of the log for the state at a position or a moment).
//! - [`demo`]: a realistic, deterministic demo year.
//! - [`error`]: why the domain refuses something.

pub mod budget;
pub mod channel;
pub mod codes;
pub mod commands;
pub mod connection;
pub mod demo;
pub mod error;
pub mod events;
pub mod ids;
pub mod money;
pub mod personal;
pub mod projection;
pub mod reference;
pub mod similar;
pub mod status;
pub mod tags;
pub mod text;
pub mod theme;

pub use budget::{check_year, BudgetLine, BudgetLineKey};
pub use channel::Channel;
pub use codes::{GebiedCode, MunicipalityCode, WijkCode};
pub use commands::{decide, Command, Decision};
pub use connection::{ConnectionTarget, PartyKind};
pub use error::DomainError;
pub use events::{DomainEvent, Recorded, ReturnedFunds, WithdrawnBy};
pub use ids::InitiativeId;
pub use money::{Money, MoneyError};
pub use personal::{SealedInitiator, StaffNote};
pub use projection::{
    BudgetSummary, CityState, ConnectedWith, ConnectionDirection, ConnectionView, GebiedView,
    HistoryDetail, HistoryEntry, InitiativeView, MunicipalityView, Places, Referral, StatusCounts,
    Touched, WijkView, Withdrawal,
};
pub use reference::{ReferenceData, TeamContact};
pub use status::{Action, InitiativeStatus};
pub use text::{
    Description, Email, Note, PartyName, PersonName, Phone, PlaceName, Reason, Report,
    SociaalWijkteam, Title,
};
pub use theme::Theme;
