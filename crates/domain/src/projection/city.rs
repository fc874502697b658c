//! The whole city's state: one fold over the log that answers every query and checks every
//! command.
//!
//! Its large collections are persistent ([`imbl`]): a clone shares every initiative, index node
//! and list chunk with the state it was cloned from, and a change afterwards copies only what it
//! touches. So a clone costs microseconds and little memory, which is what lets the service
//! serialise a snapshot of a moment while the fold goes on. (Time travel keeps no past states:
//! it folds the [`Places`] of a moment on their own, see `places.rs`.) An initiative is kept behind an [`Arc`] so that changing one copies that one view,
//! not its neighbours in the list.
//!
//! [`CityState::apply`] is the fold's step. It trusts the log (the commands made sure every
//! event was legal) but never panics on one that is not: an event about an unknown wijk or
//! initiative is skipped, and amounts saturate instead of overflowing. It is built to be fast
//! (the log is replayed at every start): lookups are by hash or by small ordered maps, and
//! nothing larger than the event's own texts is copied.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::codes::WijkCode;
use crate::connection::ConnectionTarget;
use crate::events::{DomainEvent, InitiativeConnected, InitiativeSubmitted, Recorded};
use crate::ids::InitiativeId;
use crate::projection::initiative::{At, ConnectedTo, ConnectionDirection, InitiativeView};
use crate::projection::places::{Moved, Places};
use crate::projection::trends::TrendBuckets;

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CityState {
    position: u64,
    as_of: Option<DateTime<Utc>>,
    /// The latest moment any applied event is about (events may be back-dated, so this is not
    /// always the last one's).
    latest: Option<DateTime<Utc>>,
    /// The municipality, gebieden and wijken, with the wijken's counts and budget lines.
    places: Places,
    /// In submission order; `index` finds one by id.
    initiatives: imbl::Vector<Arc<InitiativeView>>,
    /// Ordered by id: ids are UUIDv7, so new ones go at the end and a clone shares the rest.
    index: imbl::OrdMap<InitiativeId, usize>,
    /// Each wijk's initiatives, in the order they were submitted (not in [`Places`]: a
    /// checkpoint of the places for `asOf` would copy the lists' ends).
    by_wijk: BTreeMap<WijkCode, imbl::Vector<InitiativeId>>,
    /// Per-month buckets and lead-time samples ([`super::trends`]).
    pub(super) trends: TrendBuckets,
}

impl CityState {
    /// The revision of the fold: what [`CityState::apply`] keeps and how. Raise it with every
    /// change to the fold or to the shape of the state, so that a stored snapshot of an older
    /// fold is not trusted (it is folded again from the log instead).
    pub const FOLD_REVISION: u64 = 7;

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
        // What the event did to its initiative; the places follow from that.
        let moved = match &recorded.event {
            DomainEvent::MunicipalityRegistered(_)
            | DomainEvent::GebiedRegistered(_)
            | DomainEvent::WijkRegistered(_)
            | DomainEvent::TeamContactChanged(_)
            | DomainEvent::BudgetAllocated(_) => None,
            DomainEvent::InitiativeSubmitted(e) => self.initiative_submitted(e, at),
            DomainEvent::InitiativeConnected(e) => {
                self.initiative_connected(&recorded.event, e, at)
            }
            DomainEvent::InitiativeFunded(_)
            | DomainEvent::InitiativeCompleted(_)
            | DomainEvent::InitiativeRejected(_)
            | DomainEvent::InitiativeReferred(_)
            | DomainEvent::InitiativeWithdrawn(_)
            | DomainEvent::InitiatorDataErased(_) => {
                let id = recorded.event.initiative_id();
                id.and_then(|id| self.change(&id, |view| view.apply_own(&recorded.event, at)))
            }
        };
        self.places.apply(&recorded.event, moved);
        self.observe_trends(before, recorded);
    }

    /// Skipped when the wijk is unknown or the initiative exists already.
    fn initiative_submitted(&mut self, e: &InitiativeSubmitted, at: At) -> Option<Moved> {
        let gebied = self.places.wijk(&e.wijk)?.gebied;
        if self.index.contains_key(&e.id) {
            return None;
        }
        let view = InitiativeView::submitted(e, gebied, at);
        let moved = Moved {
            wijk: e.wijk,
            year: view.year(),
            before: None,
            after: view.status,
        };
        self.index.insert(e.id, self.initiatives.len());
        self.initiatives.push_back(Arc::new(view));
        self.by_wijk.entry(e.wijk).or_default().push_back(e.id);
        Some(moved)
    }

    /// The link shows on both initiatives when it connects two.
    fn initiative_connected(
        &mut self,
        event: &DomainEvent,
        e: &InitiativeConnected,
        at: At,
    ) -> Option<Moved> {
        self.initiative(&e.id)?;
        if let ConnectionTarget::Initiative(target) = &e.target {
            // The other side records it as incoming (its status does not change).
            self.initiative_mut(target)?.connect(
                ConnectedTo::Initiative(e.id),
                ConnectionDirection::Incoming,
                at,
            );
        }
        self.change(&e.id, |view| view.apply_own(event, at))
    }

    /// Runs `f` on the initiative; what it did to it, `None` when the initiative is unknown.
    fn change(&mut self, id: &InitiativeId, f: impl FnOnce(&mut InitiativeView)) -> Option<Moved> {
        let &i = self.index.get(id)?;
        let view = Arc::make_mut(self.initiatives.get_mut(i)?);
        let before = view.status;
        f(view);
        Some(Moved {
            wijk: view.wijk,
            year: view.year(),
            before: Some(before),
            after: view.status,
        })
    }

    fn initiative_mut(&mut self, id: &InitiativeId) -> Option<&mut InitiativeView> {
        let &i = self.index.get(id)?;
        self.initiatives.get_mut(i).map(Arc::make_mut)
    }

    /// What the event at `position` did to initiative `id`, read from its history steps (each
    /// event applied to it and the status after); `None` when the fold did not apply that
    /// event to it. For the places of a past moment ([`Places::apply_past`]).
    pub(crate) fn moved_at(&self, id: &InitiativeId, position: u64) -> Option<Moved> {
        let view = self.initiative(id)?;
        let steps = &view.steps;
        // An event may make two steps on one initiative (connected to itself): the status
        // before the first, after the last.
        let first = steps.partition_point(|s| s.position() < position);
        let end = steps.partition_point(|s| s.position() <= position);
        let last = steps[first..end].last()?;
        Some(Moved {
            wijk: view.wijk,
            year: view.year(),
            before: first.checked_sub(1).map(|i| steps[i].status_after()),
            after: last.status_after(),
        })
    }

    /// The municipality, gebieden and wijken (the state also derefs to them).
    pub fn places(&self) -> &Places {
        &self.places
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
        self.by_wijk
            .get(wijk)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.initiative(id))
    }
}

/// A state is its places and its initiatives: a wijk, gebied or city figure is asked of the
/// state as of its [`Places`].
impl std::ops::Deref for CityState {
    type Target = Places;

    fn deref(&self) -> &Places {
        &self.places
    }
}
