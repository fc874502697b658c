//! The whole city's state: one fold over the log that answers every query and checks every
//! command.
//!
//! Its large collections are persistent ([`imbl`]): a clone shares every initiative, index node
//! and list chunk with the state it was cloned from, and a change afterwards copies only what it
//! touches. So a clone costs microseconds and little memory, which is what lets the service keep
//! many past states for time travel (`asOf`) and serialise a snapshot of a moment while the fold
//! goes on. An initiative is kept behind an [`Arc`] so that changing one copies that one view,
//! not its neighbours in the list.
//!
//! [`CityState::apply`] is the fold's step. It trusts the log (the commands made sure every
//! event was legal) but never panics on one that is not: an event about an unknown wijk or
//! initiative is skipped, and amounts saturate instead of overflowing. It is built to be fast
//! (the log is replayed at every start): lookups are by hash or by small ordered maps, and
//! nothing larger than the event's own texts is copied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::budget::{BudgetLine, BudgetLineKey};
use crate::codes::{GebiedCode, WijkCode};
use crate::connection::ConnectionTarget;
use crate::events::{
    BudgetAllocated, DomainEvent, GebiedRegistered, InitiativeCompleted, InitiativeConnected,
    InitiativeFunded, InitiativeSubmitted, InitiativeWithdrawn, MunicipalityRegistered, Recorded,
    TeamContactChanged, WijkRegistered,
};
use crate::ids::InitiativeId;
use crate::projection::budget::{add_lines, BudgetSummary, ThemeLines};
use crate::projection::counts::StatusCounts;
use crate::projection::initiative::{At, ConnectedTo, ConnectionDirection, InitiativeView};
use crate::projection::place::{GebiedView, MunicipalityView, WijkView};
use crate::projection::trends::TrendBuckets;
use crate::reference::TeamContact;

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CityState {
    position: u64,
    as_of: Option<DateTime<Utc>>,
    /// The latest moment any applied event is about (events may be back-dated, so this is not
    /// always the last one's).
    latest: Option<DateTime<Utc>>,
    municipality: Option<MunicipalityView>,
    gebieden: BTreeMap<GebiedCode, GebiedView>,
    wijken: BTreeMap<WijkCode, WijkView>,
    /// In submission order; `index` finds one by id.
    initiatives: imbl::Vector<Arc<InitiativeView>>,
    /// Ordered by id: ids are UUIDv7, so new ones go at the end and a clone shares the rest.
    index: imbl::OrdMap<InitiativeId, usize>,
    /// Per-month buckets and lead-time samples ([`super::trends`]).
    pub(super) trends: TrendBuckets,
}

impl CityState {
    /// The revision of the fold: what [`CityState::apply`] keeps and how. Raise it with every
    /// change to the fold or to the shape of the state, so that a stored snapshot of an older
    /// fold is not trusted (it is folded again from the log instead).
    pub const FOLD_REVISION: u64 = 5;

    /// The state before any event.
    pub fn new() -> CityState {
        CityState::default()
    }

    /// Folds the events in order.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Recorded>) -> CityState {
        let mut state = CityState::new();
        for event in events {
            state.apply(event);
        }
        state
    }

    /// The state as it was at `position`: the fold of the events up to and including it.
    pub fn at_position<'a>(events: impl IntoIterator<Item = &'a Recorded>, position: u64) -> Self {
        CityState::fold(events.into_iter().take_while(|r| r.position <= position))
    }

    /// The state as it was at `time`: the fold of the log up to the first event recorded after
    /// it. A prefix of the log, so the state is one that really existed even if clocks made
    /// recording times not quite follow positions.
    pub fn at_time<'a>(
        events: impl IntoIterator<Item = &'a Recorded>,
        time: DateTime<Utc>,
    ) -> Self {
        CityState::fold(events.into_iter().take_while(|r| r.recorded_at <= time))
    }

    /// The position of the last event applied; 0 before the first (the store's positions start
    /// at 1). A decision made on this state is valid only if no event it read was appended after
    /// this position.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// When the last event applied was recorded.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// The latest moment any applied event is about: the state is the state at every moment
    /// from this one until the next event's.
    pub fn latest(&self) -> Option<DateTime<Utc>> {
        self.latest
    }

    /// Applies one event. An event at or before [`CityState::position`] was applied already and
    /// is ignored, so replaying an overlap is harmless.
    pub fn apply(&mut self, recorded: &Recorded) {
        if self.position != 0 && recorded.position <= self.position {
            return;
        }
        self.position = recorded.position;
        self.as_of = Some(recorded.recorded_at);
        self.latest = Some(
            self.latest
                .map_or(recorded.recorded_at, |l| l.max(recorded.recorded_at)),
        );
        let at = At {
            position: recorded.position,
            time: recorded.recorded_at,
        };
        let before = self.before_trends(&recorded.event);
        match &recorded.event {
            DomainEvent::MunicipalityRegistered(e) => self.municipality_registered(e),
            DomainEvent::GebiedRegistered(e) => self.gebied_registered(e),
            DomainEvent::WijkRegistered(e) => self.wijk_registered(e),
            DomainEvent::TeamContactChanged(e) => self.team_contact_changed(e),
            DomainEvent::BudgetAllocated(e) => self.budget_allocated(e),
            DomainEvent::InitiativeSubmitted(e) => self.initiative_submitted(e, at),
            DomainEvent::InitiativeConnected(e) => self.initiative_connected(e, at),
            DomainEvent::InitiativeFunded(e) => self.initiative_funded(e, at),
            DomainEvent::InitiativeCompleted(e) => self.initiative_completed(e, at),
            DomainEvent::InitiativeRejected(e) => {
                self.change(&e.id, |view| view.rejected(e, at));
            }
            DomainEvent::InitiativeReferred(e) => {
                self.change(&e.id, |view| view.referred(e, at));
            }
            DomainEvent::InitiativeWithdrawn(e) => self.initiative_withdrawn(e, at),
            DomainEvent::InitiatorDataErased(e) => {
                self.change(&e.id, |view| view.initiator_erased(at));
            }
        }
        self.observe_trends(before, recorded);
    }

    fn municipality_registered(&mut self, e: &MunicipalityRegistered) {
        self.municipality = Some(MunicipalityView {
            code: e.code,
            name: e.name.clone(),
            provenance: e.provenance.clone(),
        });
    }

    fn gebied_registered(&mut self, e: &GebiedRegistered) {
        let gebied = self.gebieden.entry(e.code).or_insert_with(|| GebiedView {
            code: e.code,
            name: e.name.clone(),
            team: e.team.clone(),
            wijken: Vec::new(),
        });
        gebied.name = e.name.clone();
        gebied.team = e.team.clone();
    }

    /// Skipped when its gebied is unknown or the wijk is registered already.
    fn wijk_registered(&mut self, e: &WijkRegistered) {
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

    fn team_contact_changed(&mut self, e: &TeamContactChanged) {
        if let Some(gebied) = self.gebieden.get_mut(&e.gebied) {
            gebied.team = e.team.clone();
        }
    }

    fn budget_allocated(&mut self, e: &BudgetAllocated) {
        self.with_line(&e.line, |line| line.allocated = e.allocated);
    }

    /// Skipped when the wijk is unknown or the initiative exists already.
    fn initiative_submitted(&mut self, e: &InitiativeSubmitted, at: At) {
        let Some(wijk) = self.wijken.get_mut(&e.wijk) else {
            return;
        };
        if self.index.contains_key(&e.id) {
            return;
        }
        let view = InitiativeView::submitted(e, wijk.gebied, at);
        wijk.counts.enter(view.status);
        wijk.counts_by_year
            .entry(view.year())
            .or_default()
            .enter(view.status);
        wijk.initiatives.push_back(e.id);
        self.index.insert(e.id, self.initiatives.len());
        self.initiatives.push_back(Arc::new(view));
    }

    /// The link shows on both initiatives when it connects two.
    fn initiative_connected(&mut self, e: &InitiativeConnected, at: At) {
        if self.initiative(&e.id).is_none() {
            return;
        }
        if let ConnectionTarget::Initiative(target) = &e.target {
            let Some(target_view) = self.initiative_mut(target) else {
                return;
            };
            // The other side records it as incoming (its status does not change).
            target_view.connect(
                ConnectedTo::Initiative(e.id),
                ConnectionDirection::Incoming,
                at,
            );
        }
        self.change(&e.id, |view| {
            view.connect(
                ConnectedTo::of(&e.target),
                ConnectionDirection::Outgoing,
                at,
            )
        });
    }

    fn initiative_funded(&mut self, e: &InitiativeFunded, at: At) {
        if self.change(&e.id, |view| view.funded(e, at)) {
            self.with_line(&e.line, |line| {
                line.committed = line.committed.saturating_add(e.amount)
            });
        }
    }

    fn initiative_completed(&mut self, e: &InitiativeCompleted, at: At) {
        if self.change(&e.id, |view| view.completed(e, at)) {
            self.with_line(&e.line, |line| {
                line.committed = line.committed.saturating_sub(e.funded);
                line.spent = line.spent.saturating_add(e.spent);
            });
        }
    }

    fn initiative_withdrawn(&mut self, e: &InitiativeWithdrawn, at: At) {
        if self.change(&e.id, |view| view.withdrawn(e, at)) {
            if let Some(returned) = &e.returned {
                self.with_line(&returned.line, |line| {
                    line.committed = line.committed.saturating_sub(returned.amount)
                });
            }
        }
    }

    /// Runs `f` on the initiative and keeps its wijk's status counts in step. False when the
    /// initiative is unknown.
    fn change(&mut self, id: &InitiativeId, f: impl FnOnce(&mut InitiativeView)) -> bool {
        let Some(&i) = self.index.get(id) else {
            return false;
        };
        let Some(view) = self.initiatives.get_mut(i) else {
            return false;
        };
        let view = Arc::make_mut(view);
        let before = view.status;
        f(view);
        let after = view.status;
        if before != after {
            if let Some(wijk) = self.wijken.get_mut(&view.wijk) {
                wijk.counts.leave(before);
                wijk.counts.enter(after);
                let of_year = wijk.counts_by_year.entry(view.year()).or_default();
                of_year.leave(before);
                of_year.enter(after);
            }
        }
        true
    }

    fn with_line(&mut self, key: &BudgetLineKey, f: impl FnOnce(&mut BudgetLine)) {
        if let Some(wijk) = self.wijken.get_mut(&key.wijk) {
            f(wijk.line_mut(key.year, key.theme));
        }
    }

    fn initiative_mut(&mut self, id: &InitiativeId) -> Option<&mut InitiativeView> {
        let &i = self.index.get(id)?;
        self.initiatives.get_mut(i).map(Arc::make_mut)
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

    pub fn initiative(&self, id: &InitiativeId) -> Option<&InitiativeView> {
        self.index.get(id).map(|&i| &*self.initiatives[i])
    }

    /// All initiatives, in the order they were submitted.
    pub fn initiatives(
        &self,
    ) -> impl DoubleEndedIterator<Item = &InitiativeView> + ExactSizeIterator {
        self.initiatives.iter().map(|view| &**view)
    }

    /// A wijk's initiatives, in the order they were submitted.
    pub fn initiatives_in_wijk<'a>(
        &'a self,
        wijk: &WijkCode,
    ) -> impl Iterator<Item = &'a InitiativeView> + 'a {
        self.wijken
            .get(wijk)
            .into_iter()
            .flat_map(|w| w.initiatives.iter())
            .filter_map(|id| self.initiative(id))
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
