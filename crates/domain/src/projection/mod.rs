//! Projections: pure folds of the events into read models.
//!
//! [`CityState`] is the one fold: it holds the registry (municipality, gebieden, wijken), every
//! initiative's view and every budget line, and rolls them up per wijk, gebied and city on
//! request. The same state answers queries and is what [`decide`](crate::commands::decide) checks
//! commands against. Folding a prefix of the log (up to a position or a moment) gives the state
//! at that time. The same state tells what an event touched ([`CityState::touched_by`]) and
//! writes the Dutch lines about events (`lines`: [`CityState::event_line`] and
//! [`HistoryEntry::summary`]). It keeps per-month buckets and lead-time samples as it goes, so
//! [`CityState::trends`] answers a year without reading the log (`trends`).

mod budget;
mod city;
mod counts;
mod facts;
mod initiative;
mod lines;
mod place;
mod places;
mod touched;
mod trends;

pub use budget::{BudgetSummary, ThemeLines};
pub use city::CityState;
pub use counts::{arnhem_year, StatusCounts};
pub use facts::EventFacts;
pub use initiative::{
    ConnectedTo, ConnectedWith, ConnectionDirection, ConnectionView, HistoryDetail, HistoryEntry,
    HistoryStep, InitiativeView, Referral, Shared, Withdrawal,
};
pub use place::{GebiedView, MunicipalityView, WijkView};
pub use places::Places;
pub use touched::Touched;
pub use trends::{
    amsterdam, local_month, quantile, LeadTime, LeadTimes, MonthTrend, TrendScope, YearTrends,
};
