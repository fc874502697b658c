//! The places of the city: the municipality, its gebieden and its wijken, each wijk with its
//! initiatives per status and its budget lines per year. Everything a wijk, gebied or city
//! figure (budget, counts) is made of, and nothing of the initiatives themselves.
//!
//! The places are part of the [`CityState`] fold, which hands them every event together with
//! what it did to the initiative it is about (a [`Moved`]). They are also a fold of their own, for
//! time travel: [`Places::apply_past`] folds the places of a past moment forward, learning what
//! each event did to its initiative from a later state's history steps
//! ([`InitiativeView::steps`](crate::InitiativeView::steps): each event's position and the
//! status after it) instead of from the initiative views of that time. So the service keeps
//! small checkpoints of the places for `asOf`, not whole past states; both folds run the same
//! [`Places::apply`], so they cannot disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::budget::{BudgetLine, BudgetLineKey};
use crate::codes::{GebiedCode, WijkCode};
use crate::events::{DomainEvent, Recorded};
use crate::projection::budget::{add_lines, BudgetSummary, ThemeLines};
use crate::projection::counts::StatusCounts;
use crate::projection::place::{GebiedView, MunicipalityView, WijkView};
use crate::projection::CityState;
use crate::reference::TeamContact;
use crate::status::InitiativeStatus;

/// The municipality, gebieden and wijken (see the module docs).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Places {
    municipality: Option<MunicipalityView>,
    gebieden: BTreeMap<GebiedCode, GebiedView>,
    wijken: BTreeMap<WijkCode, WijkView>,
}

/// What an event did to the initiative it is about, as far as the places count it: the fold
/// applied the event to that initiative, which is in `wijk` and counted in `year`, and its
/// status went from `before` (`None`: the event submitted it) to `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moved {
    pub wijk: WijkCode,
    pub year: i32,
    pub before: Option<InitiativeStatus>,
    pub after: InitiativeStatus,
}

impl Places {
    /// Applies an event's effect on the places. For an event about an initiative, `moved` says
    /// what it did to that initiative; `None` when the fold did not apply it (an unknown
    /// initiative, say), and then it changes nothing here either.
    pub(crate) fn apply(&mut self, event: &DomainEvent, moved: Option<Moved>) {
        match event {
            DomainEvent::MunicipalityRegistered(e) => {
                self.municipality = Some(MunicipalityView {
                    code: e.code,
                    name: e.name.clone(),
                    provenance: e.provenance.clone(),
                });
            }
            DomainEvent::GebiedRegistered(e) => {
                let gebied = self.gebieden.entry(e.code).or_insert_with(|| GebiedView {
                    code: e.code,
                    name: e.name.clone(),
                    team: e.team.clone(),
                    wijken: Vec::new(),
                });
                gebied.name = e.name.clone();
                gebied.team = e.team.clone();
            }
            // Skipped when its gebied is unknown or the wijk is registered already.
            DomainEvent::WijkRegistered(e) => {
                let Some(gebied) = self.gebieden.get_mut(&e.gebied) else {
                    return;
                };
                if self.wijken.contains_key(&e.code) {
                    return;
                }
                if let Err(place) = gebied.wijken.binary_search(&e.code) {
                    gebied.wijken.insert(place, e.code);
                }
                self.wijken
                    .insert(e.code, WijkView::new(e.code, e.name.clone(), e.gebied));
            }
            DomainEvent::TeamContactChanged(e) => {
                if let Some(gebied) = self.gebieden.get_mut(&e.gebied) {
                    gebied.team = e.team.clone();
                }
            }
            DomainEvent::BudgetAllocated(e) => {
                self.with_line(&e.line, |line| line.allocated = e.allocated);
            }
            DomainEvent::InitiativeSubmitted(_)
            | DomainEvent::InitiativeConnected(_)
            | DomainEvent::InitiativeFunded(_)
            | DomainEvent::InitiativeCompleted(_)
            | DomainEvent::InitiativeRejected(_)
            | DomainEvent::InitiativeReferred(_)
            | DomainEvent::InitiativeWithdrawn(_)
            | DomainEvent::InitiatorDataErased(_) => {
                let Some(moved) = moved else {
                    return;
                };
                self.count(moved);
                match event {
                    DomainEvent::InitiativeFunded(e) => self.with_line(&e.line, |line| {
                        line.committed = line.committed.saturating_add(e.amount)
                    }),
                    DomainEvent::InitiativeCompleted(e) => self.with_line(&e.line, |line| {
                        line.committed = line.committed.saturating_sub(e.funded);
                        line.spent = line.spent.saturating_add(e.spent);
                    }),
                    DomainEvent::InitiativeWithdrawn(e) => {
                        if let Some(returned) = &e.returned {
                            self.with_line(&returned.line, |line| {
                                line.committed = line.committed.saturating_sub(returned.amount)
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Applies `recorded` to the places of the moment just before it. `later` is a state that
    /// has applied it too (the live state, any time after): the history steps of the
    /// initiative it is about tell whether the fold applied it and what it did to the status.
    pub fn apply_past(&mut self, recorded: &Recorded, later: &CityState) {
        let moved = recorded
            .event
            .initiative_id()
            .and_then(|id| later.moved_at(&id, recorded.position));
        self.apply(&recorded.event, moved);
    }

    /// Keeps a wijk's status counts in step: a submitted initiative joins its wijk's counts;
    /// one whose status changed leaves one count for another.
    fn count(&mut self, moved: Moved) {
        let Some(wijk) = self.wijken.get_mut(&moved.wijk) else {
            return;
        };
        match moved.before {
            None => {
                wijk.counts.enter(moved.after);
                Arc::make_mut(wijk.counts_by_year.entry(moved.year).or_default())
                    .enter(moved.after);
            }
            Some(before) if before != moved.after => {
                wijk.counts.leave(before);
                wijk.counts.enter(moved.after);
                let of_year = Arc::make_mut(wijk.counts_by_year.entry(moved.year).or_default());
                of_year.leave(before);
                of_year.enter(moved.after);
            }
            Some(_) => {}
        }
    }

    fn with_line(&mut self, key: &BudgetLineKey, f: impl FnOnce(&mut BudgetLine)) {
        if let Some(wijk) = self.wijken.get_mut(&key.wijk) {
            f(wijk.line_mut(key.year, key.theme));
        }
    }

    /// The municipality, once the reference data is registered.
    pub fn municipality(&self) -> Option<&MunicipalityView> {
        self.municipality.as_ref()
    }

    /// True once reference data is registered.
    pub fn has_reference_data(&self) -> bool {
        self.municipality.is_some() || !self.gebieden.is_empty()
    }

    /// All gebieden, ordered by code.
    pub fn gebieden(&self) -> impl Iterator<Item = &GebiedView> {
        self.gebieden.values()
    }

    pub fn gebied(&self, code: &GebiedCode) -> Option<&GebiedView> {
        self.gebieden.get(code)
    }

    /// All wijken, ordered by code.
    pub fn wijken(&self) -> impl Iterator<Item = &WijkView> {
        self.wijken.values()
    }

    pub fn wijk(&self, code: &WijkCode) -> Option<&WijkView> {
        self.wijken.get(code)
    }

    /// Whom to contact about a wijk: its gebied's team Leefomgeving ("Mijn wijk").
    pub fn team_for(&self, wijk: &WijkCode) -> Option<&TeamContact> {
        let wijk = self.wijken.get(wijk)?;
        self.gebieden.get(&wijk.gebied).map(|g| &g.team)
    }

    /// One budget line (all zero when nothing was allocated or the wijk is unknown).
    pub fn budget_line(&self, key: &BudgetLineKey) -> BudgetLine {
        self.wijken
            .get(&key.wijk)
            .map(|w| w.budget_line(key.year, key.theme))
            .unwrap_or_default()
    }

    /// A wijk's budget for a year, per theme and in total.
    pub fn wijk_budget(&self, wijk: &WijkCode, year: i32) -> BudgetSummary {
        let lines = self
            .wijken
            .get(wijk)
            .map(|w| w.lines(year))
            .unwrap_or_default();
        BudgetSummary::from_lines(year, &lines)
    }

    /// A gebied's budget for a year: its wijken's lines added up per theme.
    pub fn gebied_budget(&self, gebied: &GebiedCode, year: i32) -> BudgetSummary {
        let mut lines = ThemeLines::default();
        for wijk in self.wijken_of(gebied) {
            add_lines(&mut lines, &wijk.lines(year));
        }
        BudgetSummary::from_lines(year, &lines)
    }

    /// The city's budget for a year: every wijk's lines added up per theme.
    pub fn city_budget(&self, year: i32) -> BudgetSummary {
        let mut lines = ThemeLines::default();
        for wijk in self.wijken.values() {
            add_lines(&mut lines, &wijk.lines(year));
        }
        BudgetSummary::from_lines(year, &lines)
    }

    /// The years in which any wijk has a budget line, in order.
    pub fn budget_years(&self) -> BTreeSet<i32> {
        self.wijken
            .values()
            .flat_map(|w| w.budget_years())
            .collect()
    }

    /// Initiatives per status in a wijk (all zero for an unknown wijk).
    pub fn wijk_counts(&self, wijk: &WijkCode) -> StatusCounts {
        self.wijken.get(wijk).map(|w| w.counts).unwrap_or_default()
    }

    /// Initiatives per status in a gebied's wijken.
    pub fn gebied_counts(&self, gebied: &GebiedCode) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for wijk in self.wijken_of(gebied) {
            counts.add(&wijk.counts);
        }
        counts
    }

    /// Initiatives per status in the whole city.
    pub fn city_counts(&self) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for wijk in self.wijken.values() {
            counts.add(&wijk.counts);
        }
        counts
    }

    /// Initiatives per status in a wijk, of `year` (submitted in it) or, for `None`, of all
    /// years.
    pub fn wijk_counts_in(&self, wijk: &WijkCode, year: Option<i32>) -> StatusCounts {
        self.wijken
            .get(wijk)
            .map(|w| w.counts_in(year))
            .unwrap_or_default()
    }

    /// Initiatives per status in a gebied's wijken, of `year` or of all years.
    pub fn gebied_counts_in(&self, gebied: &GebiedCode, year: Option<i32>) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for wijk in self.wijken_of(gebied) {
            counts.add(&wijk.counts_in(year));
        }
        counts
    }

    /// Initiatives per status in the whole city, of `year` or of all years.
    pub fn city_counts_in(&self, year: Option<i32>) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for wijk in self.wijken.values() {
            counts.add(&wijk.counts_in(year));
        }
        counts
    }

    fn wijken_of<'a>(&'a self, gebied: &GebiedCode) -> impl Iterator<Item = &'a WijkView> + 'a {
        self.gebieden
            .get(gebied)
            .into_iter()
            .flat_map(|g| g.wijken.iter())
            .filter_map(|code| self.wijken.get(code))
    }
}
