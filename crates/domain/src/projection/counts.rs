//! How many initiatives are in each status: per wijk, rolled up per gebied and for the city.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::status::InitiativeStatus;

/// The calendar year in Arnhem at `time`. New Year falls in winter time (CET, UTC+1), so
/// adding one hour is exact at the year's boundaries whatever the season.
pub fn arnhem_year(time: DateTime<Utc>) -> i32 {
    (time + Duration::hours(1)).year()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StatusCounts([u64; 7]);

impl StatusCounts {
    pub fn get(&self, status: InitiativeStatus) -> u64 {
        self.0[status.index()]
    }

    /// All initiatives, whatever their status.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every status with its count, in the order of [`InitiativeStatus::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (InitiativeStatus, u64)> + '_ {
        InitiativeStatus::ALL.into_iter().map(|s| (s, self.get(s)))
    }

    pub fn add(&mut self, other: &StatusCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub(crate) fn enter(&mut self, status: InitiativeStatus) {
        self.0[status.index()] += 1;
    }

    pub(crate) fn leave(&mut self, status: InitiativeStatus) {
        let count = &mut self.0[status.index()];
        *count = count.saturating_sub(1);
    }
}
