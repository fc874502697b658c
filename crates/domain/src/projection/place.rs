//! Read models of places: the municipality, its gebieden and its wijken.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::budget::BudgetLine;
use crate::codes::{GebiedCode, MunicipalityCode, WijkCode};
use crate::projection::budget::{BudgetSummary, ThemeLines};
use crate::projection::counts::StatusCounts;
use crate::reference::TeamContact;
use crate::text::PlaceName;
use crate::theme::Theme;

/// The municipality whose reference data was loaded, and where that list came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MunicipalityView {
    pub code: MunicipalityCode,
    pub name: PlaceName,
    pub provenance: String,
}

/// A gebied with its team Leefomgeving and its wijken (ordered by code).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GebiedView {
    pub code: GebiedCode,
    pub name: PlaceName,
    pub team: TeamContact,
    pub wijken: Vec<WijkCode>,
}

/// A wijk: its initiatives per status and its budget lines per year.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WijkView {
    pub code: WijkCode,
    pub name: PlaceName,
    pub gebied: GebiedCode,
    pub counts: StatusCounts,
    /// The same per year an initiative belongs to: the year (in Arnhem) it was submitted in.
    /// Behind an `Arc` per year, like `budgets`.
    pub counts_by_year: BTreeMap<i32, Arc<StatusCounts>>,
    /// A year's lines behind an `Arc`: a checkpoint of the places for `asOf` shares the years
    /// that did not change since the last one (most of them).
    pub(crate) budgets: BTreeMap<i32, Arc<ThemeLines>>,
}

impl WijkView {
    pub(crate) fn new(code: WijkCode, name: PlaceName, gebied: GebiedCode) -> WijkView {
        WijkView {
            code,
            name,
            gebied,
            counts: StatusCounts::default(),
            counts_by_year: BTreeMap::new(),
            budgets: BTreeMap::new(),
        }
    }

    /// Its initiatives of `year` (submitted in it) per status; of all years for `None`.
    pub fn counts_in(&self, year: Option<i32>) -> StatusCounts {
        match year {
            None => self.counts,
            Some(year) => self
                .counts_by_year
                .get(&year)
                .map_or_else(StatusCounts::default, |counts| **counts),
        }
    }

    /// The line for one theme and year (all zero when nothing was allocated).
    pub fn budget_line(&self, year: i32, theme: Theme) -> BudgetLine {
        self.budgets
            .get(&year)
            .map(|lines| lines[theme.index()])
            .unwrap_or_default()
    }

    /// The year's budget, per theme and in total.
    pub fn budget(&self, year: i32) -> BudgetSummary {
        BudgetSummary::from_lines(year, &self.lines(year))
    }

    /// The years with any budget line, in order.
    pub fn budget_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.budgets.keys().copied()
    }

    pub(crate) fn lines(&self, year: i32) -> ThemeLines {
        self.budgets
            .get(&year)
            .map_or_else(ThemeLines::default, |lines| **lines)
    }

    pub(crate) fn line_mut(&mut self, year: i32, theme: Theme) -> &mut BudgetLine {
        &mut Arc::make_mut(self.budgets.entry(year).or_default())[theme.index()]
    }
}
