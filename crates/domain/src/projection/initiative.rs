//! The initiative read model: status, amounts, connections and a public history.
//!
//! The history holds no personal data: not the initiator's, not a connected person's name, not a
//! referral's note (which may describe an individual care question) and not a withdrawal's
//! reason. The read model keeps of it only where each entry's event is in the log and the status
//! after it ([`HistoryStep`], 8 bytes); the entries, what happened as typed data
//! ([`HistoryDetail`]), are made from those events when someone asks
//! ([`InitiativeView::history`]), and their Dutch summary for people after that
//! ([`HistoryEntry::summary`], in [`lines`](super::lines)). So folding the log neither keeps
//! nor formats what it may never show.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::budget::BudgetLineKey;
use crate::channel::Channel;
use crate::codes::{GebiedCode, WijkCode};
use crate::connection::{ConnectionTarget, PartyKind};
use crate::events::{
    DomainEvent, InitiativeCompleted, InitiativeFunded, InitiativeReferred, InitiativeRejected,
    InitiativeSubmitted, InitiativeWithdrawn, Recorded, WithdrawnBy,
};
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::StaffNote;
use crate::projection::CityState;
use crate::status::{Action, InitiativeStatus};
use crate::text::{Description, PartyName, Reason, Report, SociaalWijkteam, Title};
use crate::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InitiativeView {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub gebied: GebiedCode,
    pub title: Title,
    pub description: Description,
    pub theme: Theme,
    pub status: InitiativeStatus,
    pub channel: Channel,
    pub entered_by_staff: bool,
    pub requested_amount: Money,
    /// What was committed from the budget line, once funded. It stays set after completion or
    /// withdrawal, as what was funded; the line's `committed` is what still holds money.
    pub funded_amount: Option<Money>,
    pub funded_line: Option<BudgetLineKey>,
    /// What was reported spent on completion.
    pub spent_amount: Option<Money>,
    /// What went back to the budget line: on completion the funded amount less what was spent,
    /// on a withdrawal after funding all of it. `None` while nothing could go back.
    pub returned_amount: Option<Money>,
    /// Links to other initiatives (both ways) and to organisations or persons, in order.
    /// Shared, not copied, by a copy of the view (see [`InitiativeView::record`]).
    pub connections: Shared<ConnectionView>,
    /// What happened, oldest first, as where in the log and the status after; shared like
    /// `connections`. The entries themselves: [`InitiativeView::history`].
    pub steps: Shared<HistoryStep>,
    /// Whether the initiator's personal data was erased. The data itself, sealed, is not kept
    /// in the read model: it stays in the log's `InitiativeSubmitted` event (at
    /// [`InitiativeView::submitted_position`]), read from there when someone allowed to see it
    /// asks, so hundreds of thousands of ciphertexts do not sit in memory and in snapshots.
    pub initiator_erased: bool,
    pub report: Option<Report>,
    pub rejection_reason: Option<Reason>,
    /// Boxed, like `withdrawal`: few initiatives have one, and every view has the field.
    pub referral: Option<Box<Referral>>,
    pub withdrawal: Option<Box<Withdrawal>>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was funded (the time of the `InitiativeFunded` event).
    pub funded_at: Option<DateTime<Utc>>,
    /// When it was decided on: funded, rejected or referred (a withdrawal is no decision).
    pub decided_at: Option<DateTime<Utc>>,
    /// When it was reported completed.
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ConnectionDirection {
    /// This initiative was connected to the target.
    Outgoing,
    /// Another initiative (the target here) was connected to this one.
    Incoming,
}

/// A connection as the read model keeps it. The staff's note and a connected person's sealed
/// name stay in the log's `InitiativeConnected` event at `position` (the same event on both
/// sides of a link between two initiatives), read when someone allowed to see them asks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionView {
    pub target: ConnectedTo,
    pub direction: ConnectionDirection,
    pub position: u64,
    pub at: DateTime<Utc>,
}

/// The other side of a connection, without what is read from the log only when asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnectedTo {
    Initiative(InitiativeId),
    /// An organisation, or a person as earlier versions recorded them (by name, plain).
    Party {
        name: PartyName,
        kind: PartyKind,
    },
    /// A person whose name is sealed in the event; the fingerprint as recorded there (a keyed
    /// hash of the name, to refuse connecting the same person twice).
    SealedPerson {
        fingerprint: Box<str>,
    },
}

impl ConnectedTo {
    pub fn of(target: &ConnectionTarget) -> ConnectedTo {
        match target {
            ConnectionTarget::Initiative(id) => ConnectedTo::Initiative(*id),
            ConnectionTarget::Party { name, kind } => ConnectedTo::Party {
                name: name.clone(),
                kind: *kind,
            },
            ConnectionTarget::SealedPerson { fingerprint, .. } => ConnectedTo::SealedPerson {
                fingerprint: fingerprint.as_str().into(),
            },
        }
    }

    /// True when `other` names the same initiative, the same kind of party by the same name
    /// (ignoring case), or the same sealed person (by fingerprint): connecting twice to the same
    /// target is refused.
    pub fn same_as(&self, other: &ConnectionTarget) -> bool {
        match (self, other) {
            (ConnectedTo::Initiative(a), ConnectionTarget::Initiative(b)) => a == b,
            (
                ConnectedTo::Party { name: a, kind: ka },
                ConnectionTarget::Party { name: b, kind: kb },
            ) => ka == kb && a.as_str().to_lowercase() == b.as_str().to_lowercase(),
            (
                ConnectedTo::SealedPerson { fingerprint: a },
                ConnectionTarget::SealedPerson { fingerprint: b, .. },
            ) => **a == **b,
            _ => false,
        }
    }

    /// The initiative on the other side, if it is one.
    pub fn initiative(&self) -> Option<InitiativeId> {
        match self {
            ConnectedTo::Initiative(id) => Some(*id),
            _ => None,
        }
    }
}

/// Where one entry of an initiative's history is in the log, and the initiative's status after
/// it: what the read model keeps of the history. The position and the status share one `u64`
/// (the status in the low byte), so 300,000 initiatives' histories take a few MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct HistoryStep(u64);

impl HistoryStep {
    pub fn new(position: u64, status_after: InitiativeStatus) -> HistoryStep {
        debug_assert!(position < 1 << 56, "a log of 2^56 events");
        HistoryStep(position << 8 | status_after.index() as u64)
    }

    /// The position of its event in the log.
    pub fn position(self) -> u64 {
        self.0 >> 8
    }

    /// The initiative's status after its event.
    pub fn status_after(self) -> InitiativeStatus {
        let index = (self.0 & 0xff) as usize;
        InitiativeStatus::ALL
            .get(index)
            .copied()
            .unwrap_or(InitiativeStatus::Submitted)
    }
}

/// One line of an initiative's history: public, without personal data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub position: u64,
    pub at: DateTime<Utc>,
    pub status_after: InitiativeStatus,
    /// What happened; it also says which event it was ([`HistoryEntry::event_type`]).
    pub detail: HistoryDetail,
}

impl HistoryEntry {
    /// The event's type, one of [`crate::DomainEvent::TYPES`]: each kind of detail comes from
    /// one type of event.
    pub fn event_type(&self) -> &'static str {
        match self.detail {
            HistoryDetail::Submitted { .. } => "InitiativeSubmitted",
            HistoryDetail::Connected { .. } => "InitiativeConnected",
            HistoryDetail::Funded { .. } => "InitiativeFunded",
            HistoryDetail::Completed { .. } => "InitiativeCompleted",
            HistoryDetail::Rejected { .. } => "InitiativeRejected",
            HistoryDetail::Referred { .. } => "InitiativeReferred",
            HistoryDetail::Withdrawn { .. } => "InitiativeWithdrawn",
            HistoryDetail::InitiatorDataErased => "InitiatorDataErased",
        }
    }
}

/// What a history entry is about, in data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HistoryDetail {
    Submitted {
        channel: Channel,
        entered_by_staff: bool,
        theme: Theme,
        requested_amount: Money,
    },
    Connected {
        with: ConnectedWith,
        direction: ConnectionDirection,
    },
    Funded {
        line: BudgetLineKey,
        amount: Money,
    },
    Completed {
        spent: Money,
        /// What went back to the budget line.
        returned: Money,
    },
    Rejected {
        reason: Reason,
    },
    Referred {
        sociaal_wijkteam: SociaalWijkteam,
    },
    Withdrawn {
        by: WithdrawnBy,
        /// What went back to the budget line, if it was funded.
        returned: Option<Money>,
    },
    InitiatorDataErased,
}

impl HistoryDetail {
    /// What `event` was for initiative `id`, as its history shows it; `None` when the event is
    /// not about it. `state` names a connected initiative (its title never changes).
    pub fn of(event: &DomainEvent, id: &InitiativeId, state: &CityState) -> Option<HistoryDetail> {
        let mine = event.initiative_id().as_ref() == Some(id);
        let detail = match event {
            DomainEvent::InitiativeSubmitted(e) if mine => HistoryDetail::Submitted {
                channel: e.channel,
                entered_by_staff: e.entered_by_staff,
                theme: e.theme,
                requested_amount: e.requested_amount,
            },
            DomainEvent::InitiativeConnected(e) => {
                let (with, direction) = match &e.target {
                    ConnectionTarget::Initiative(target) if mine => (
                        connected_initiative(state, target)?,
                        ConnectionDirection::Outgoing,
                    ),
                    ConnectionTarget::Initiative(target) if target == id => (
                        connected_initiative(state, &e.id)?,
                        ConnectionDirection::Incoming,
                    ),
                    _ if !mine => return None,
                    ConnectionTarget::Initiative(_) => return None,
                    ConnectionTarget::Party {
                        name,
                        kind: PartyKind::Organisation,
                    } => (
                        ConnectedWith::Organisation { name: name.clone() },
                        ConnectionDirection::Outgoing,
                    ),
                    ConnectionTarget::Party {
                        kind: PartyKind::Person,
                        ..
                    }
                    | ConnectionTarget::SealedPerson { .. } => {
                        (ConnectedWith::Person, ConnectionDirection::Outgoing)
                    }
                };
                HistoryDetail::Connected { with, direction }
            }
            DomainEvent::InitiativeFunded(e) if mine => HistoryDetail::Funded {
                line: e.line,
                amount: e.amount,
            },
            DomainEvent::InitiativeCompleted(e) if mine => HistoryDetail::Completed {
                spent: e.spent,
                returned: e.funded.saturating_sub(e.spent),
            },
            DomainEvent::InitiativeRejected(e) if mine => HistoryDetail::Rejected {
                reason: e.reason.clone(),
            },
            DomainEvent::InitiativeReferred(e) if mine => HistoryDetail::Referred {
                sociaal_wijkteam: e.sociaal_wijkteam.clone(),
            },
            DomainEvent::InitiativeWithdrawn(e) if mine => HistoryDetail::Withdrawn {
                by: e.by,
                returned: e.returned.map(|r| r.amount),
            },
            DomainEvent::InitiatorDataErased(_) if mine => HistoryDetail::InitiatorDataErased,
            _ => return None,
        };
        Some(detail)
    }
}

fn connected_initiative(state: &CityState, id: &InitiativeId) -> Option<ConnectedWith> {
    Some(ConnectedWith::Initiative {
        id: *id,
        title: state.initiative(id)?.title.clone(),
    })
}

/// The other side of a connection, as the public history shows it: a person stays nameless.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnectedWith {
    Initiative { id: InitiativeId, title: Title },
    Organisation { name: PartyName },
    Person,
}

/// To which sociaal wijkteam it was referred. The note is for staff only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Referral {
    pub sociaal_wijkteam: SociaalWijkteam,
    pub note: Option<StaffNote>,
}

/// Who withdrew it, and why. The reason is for staff and the initiator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Withdrawal {
    pub by: WithdrawnBy,
    pub reason: Option<Reason>,
}

/// Where and when an event happened, for history entries.
#[derive(Clone, Copy)]
pub(crate) struct At {
    pub position: u64,
    pub time: DateTime<Utc>,
}

impl InitiativeView {
    pub(crate) fn submitted(e: &InitiativeSubmitted, gebied: GebiedCode, at: At) -> Self {
        let mut view = InitiativeView {
            id: e.id,
            wijk: e.wijk,
            gebied,
            title: e.title.clone(),
            description: e.description.clone(),
            theme: e.theme,
            status: InitiativeStatus::Submitted,
            channel: e.channel,
            entered_by_staff: e.entered_by_staff,
            requested_amount: e.requested_amount,
            funded_amount: None,
            funded_line: None,
            spent_amount: None,
            returned_amount: None,
            connections: Shared::default(),
            steps: Shared::default(),
            initiator_erased: false,
            report: None,
            rejection_reason: None,
            referral: None,
            withdrawal: None,
            submitted_at: at.time,
            updated_at: at.time,
            funded_at: None,
            decided_at: None,
            completed_at: None,
        };
        view.record(at);
        view
    }

    /// The position of its `InitiativeSubmitted` event in the log (its first history entry),
    /// which holds the initiator's sealed personal data.
    pub fn submitted_position(&self) -> u64 {
        self.steps.first().map_or(0, |step| step.position())
    }

    /// The position of the latest event about it (its last history entry).
    pub fn last_position(&self) -> u64 {
        self.steps.last().map_or(0, |step| step.position())
    }

    /// Its status just after the event at `position`, if that event is in its history.
    pub fn status_after(&self, position: u64) -> Option<InitiativeStatus> {
        self.steps
            .iter()
            .find(|step| step.position() == position)
            .map(|step| step.status_after())
    }

    /// The latest step of its history at or before `position`; `None` before its submission.
    pub fn step_at(&self, position: u64) -> Option<HistoryStep> {
        let after = self
            .steps
            .partition_point(|step| step.position() <= position);
        after.checked_sub(1).map(|i| self.steps[i])
    }

    /// Its status at `position`: after the latest event of its history at or before it;
    /// `None` before its submission.
    pub fn status_at(&self, position: u64) -> Option<InitiativeStatus> {
        self.step_at(position).map(HistoryStep::status_after)
    }

    /// When it became connected: the time of the connection that made it so (`None` if it
    /// never was).
    pub fn connected_at(&self) -> Option<DateTime<Utc>> {
        let step = self
            .steps
            .iter()
            .find(|step| step.status_after() == InitiativeStatus::Connected)?;
        self.connections
            .iter()
            .find(|c| c.position == step.position())
            .map(|c| c.at)
    }

    /// Its history, oldest first: an entry for each of its [`steps`](InitiativeView::steps),
    /// made from the step's event among `events` (the log's events at the steps' positions, in
    /// position order: [`InitiativeView::history_positions`]; others are ignored). `state` is a
    /// state this view is part of, or a later one; it names the initiatives it was connected
    /// with. A step whose event is missing, or not about this initiative, is left out.
    pub fn history<R: std::borrow::Borrow<Recorded>>(
        &self,
        state: &CityState,
        events: &[R],
    ) -> Vec<HistoryEntry> {
        self.steps
            .iter()
            .filter_map(|step| {
                let found = events
                    .binary_search_by_key(&step.position(), |r| r.borrow().position)
                    .ok()?;
                let recorded: &Recorded = events[found].borrow();
                Some(HistoryEntry {
                    position: step.position(),
                    at: recorded.recorded_at,
                    status_after: step.status_after(),
                    detail: HistoryDetail::of(&recorded.event, &self.id, state)?,
                })
            })
            .collect()
    }

    /// The view as it was just after the event at `position`, folded again from its own
    /// history: `events` are the log's events at its
    /// [`history_positions`](InitiativeView::history_positions) (in position order; those after
    /// `position`, and any not in its history, are ignored). `None` before its submission. The
    /// same steps as the city's fold ([`CityState::apply`]), for time travel to one initiative
    /// without folding the whole city.
    pub fn as_at<R: std::borrow::Borrow<Recorded>>(
        &self,
        position: u64,
        events: &[R],
    ) -> Option<InitiativeView> {
        let mut past: Option<InitiativeView> = None;
        let mut positions = self.history_positions().peekable();
        let mut done = 0;
        for recorded in events.iter().map(|r| r.borrow()) {
            if recorded.position > position {
                break;
            }
            while positions.next_if(|&p| p < recorded.position).is_some() {}
            // Each event once (it may be given twice: two steps of one event).
            if positions.peek() != Some(&recorded.position) || recorded.position <= done {
                continue;
            }
            done = recorded.position;
            let at = At {
                position: recorded.position,
                time: recorded.recorded_at,
            };
            match (&mut past, &recorded.event) {
                (None, DomainEvent::InitiativeSubmitted(e)) if e.id == self.id => {
                    past = Some(InitiativeView::submitted(e, self.gebied, at));
                }
                (Some(view), DomainEvent::InitiativeConnected(e)) => {
                    // Another initiative connected to this one (or this one to itself: the
                    // incoming side first, as in the city's fold).
                    if matches!(&e.target, ConnectionTarget::Initiative(t) if *t == self.id) {
                        view.connect(
                            ConnectedTo::Initiative(e.id),
                            ConnectionDirection::Incoming,
                            at,
                        );
                    }
                    if e.id == self.id {
                        view.apply_own(&recorded.event, at);
                    }
                }
                (Some(view), event) if event.initiative_id() == Some(self.id) => {
                    view.apply_own(event, at);
                }
                _ => {}
            }
        }
        past
    }

    /// The positions of its history's events, oldest first.
    pub fn history_positions(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.steps.iter().map(|step| step.position())
    }

    /// The year the initiative belongs to: the year (in Arnhem) it was submitted in. Counts
    /// per year ([`crate::StatusCounts`] of a year) count it in this one.
    pub fn year(&self) -> i32 {
        super::counts::arnhem_year(self.submitted_at)
    }

    /// What it holds or used of the budget line: the funded amount while funded and after
    /// completion (of which `spent_amount` was spent and `returned_amount` went back); zero
    /// after a withdrawal, which gave all of it back; `None` when never funded.
    pub fn funded_amount_now(&self) -> Option<Money> {
        match self.status {
            InitiativeStatus::Withdrawn => self.funded_amount.map(|_| Money::ZERO),
            _ => self.funded_amount,
        }
    }

    /// Adds a history step with the current status and marks the view updated.
    ///
    /// The steps are a new slice of exactly their length, not a `Vec` grown in place: most
    /// initiatives have a few, a `Vec` would keep room for more in each of hundreds of
    /// thousands, and a copy of the view (a copy of the state, for a snapshot) shares the
    /// slice instead of copying it. A step costs copying the earlier ones: a handful.
    pub(crate) fn record(&mut self, at: At) {
        self.updated_at = at.time;
        self.steps = appended(&self.steps, HistoryStep::new(at.position, self.status));
    }

    /// Applies an event about this initiative (its subject) that follows its submission: what
    /// the event does to its own view (a connection's other side: [`InitiativeView::connect`]).
    pub(crate) fn apply_own(&mut self, event: &DomainEvent, at: At) {
        match event {
            DomainEvent::InitiativeConnected(e) => self.connect(
                ConnectedTo::of(&e.target),
                ConnectionDirection::Outgoing,
                at,
            ),
            DomainEvent::InitiativeFunded(e) => self.funded(e, at),
            DomainEvent::InitiativeCompleted(e) => self.completed(e, at),
            DomainEvent::InitiativeRejected(e) => self.rejected(e, at),
            DomainEvent::InitiativeReferred(e) => self.referred(e, at),
            DomainEvent::InitiativeWithdrawn(e) => self.withdrawn(e, at),
            DomainEvent::InitiatorDataErased(_) => self.initiator_erased(at),
            DomainEvent::InitiativeSubmitted(_)
            | DomainEvent::MunicipalityRegistered(_)
            | DomainEvent::GebiedRegistered(_)
            | DomainEvent::WijkRegistered(_)
            | DomainEvent::TeamContactChanged(_)
            | DomainEvent::BudgetAllocated(_) => {}
        }
    }

    pub(crate) fn connect(&mut self, target: ConnectedTo, direction: ConnectionDirection, at: At) {
        if direction == ConnectionDirection::Outgoing {
            if let Some(next) = self.status.after(Action::Connect) {
                self.status = next;
            }
        }
        let connection = ConnectionView {
            target,
            direction,
            position: at.position,
            at: at.time,
        };
        self.connections = appended(&self.connections, connection);
        self.record(at);
    }

    pub(crate) fn funded(&mut self, e: &InitiativeFunded, at: At) {
        self.status = InitiativeStatus::Funded;
        self.funded_amount = Some(e.amount);
        self.funded_line = Some(e.line);
        self.funded_at = Some(at.time);
        self.decided_at = Some(at.time);
        self.record(at);
    }

    pub(crate) fn completed(&mut self, e: &InitiativeCompleted, at: At) {
        self.status = InitiativeStatus::Completed;
        self.spent_amount = Some(e.spent);
        self.returned_amount = Some(e.funded.saturating_sub(e.spent));
        self.completed_at = Some(at.time);
        self.report = Some(e.report.clone());
        self.record(at);
    }

    pub(crate) fn rejected(&mut self, e: &InitiativeRejected, at: At) {
        self.status = InitiativeStatus::Rejected;
        self.rejection_reason = Some(e.reason.clone());
        self.decided_at = Some(at.time);
        self.record(at);
    }

    pub(crate) fn referred(&mut self, e: &InitiativeReferred, at: At) {
        self.status = InitiativeStatus::Referred;
        self.referral = Some(Box::new(Referral {
            sociaal_wijkteam: e.sociaal_wijkteam.clone(),
            note: e.note.clone(),
        }));
        self.decided_at = Some(at.time);
        self.record(at);
    }

    pub(crate) fn withdrawn(&mut self, e: &InitiativeWithdrawn, at: At) {
        self.status = InitiativeStatus::Withdrawn;
        self.withdrawal = Some(Box::new(Withdrawal {
            by: e.by,
            reason: e.reason.clone(),
        }));
        self.returned_amount = e.returned.map(|r| r.amount);
        self.record(at);
    }

    pub(crate) fn initiator_erased(&mut self, at: At) {
        self.initiator_erased = true;
        self.record(at);
    }
}

/// A slice shared by the copies of a view (a copy of the state, for a snapshot), of exactly
/// its length; an empty one allocates nothing (most initiatives have no connections).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Shared<T>(Option<Arc<[T]>>);

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared(None)
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

/// `items` and `item` after them, as a new slice of exactly that length.
fn appended<T: Clone>(items: &[T], item: T) -> Shared<T> {
    Shared(Some(
        items.iter().cloned().chain(std::iter::once(item)).collect(),
    ))
}
