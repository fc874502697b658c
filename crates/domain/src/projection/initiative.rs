//! The initiative read model: status, amounts, connections and a public history.
//!
//! The history holds no personal data: not the initiator's, not a connected person's name, not a
//! referral's note (which may describe an individual care question) and not a withdrawal's
//! reason. Each entry keeps what happened as typed data ([`HistoryDetail`]); its Dutch summary
//! for people is written when asked for ([`HistoryEntry::summary`], in
//! [`lines`](super::lines)), so folding the log does not format text it may never show.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::budget::BudgetLineKey;
use crate::channel::Channel;
use crate::codes::{GebiedCode, WijkCode};
use crate::connection::ConnectionTarget;
use crate::events::{
    InitiativeCompleted, InitiativeFunded, InitiativeReferred, InitiativeRejected,
    InitiativeSubmitted, InitiativeWithdrawn, WithdrawnBy,
};
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::personal::StaffNote;
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
    pub connections: Arc<[ConnectionView]>,
    /// What happened, oldest first; shared like `connections`.
    pub history: Arc<[HistoryEntry]>,
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

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionView {
    pub target: ConnectionTarget,
    pub direction: ConnectionDirection,
    /// Staff's note, sealed (see [`StaffNote`]).
    pub note: StaffNote,
    pub position: u64,
    pub at: DateTime<Utc>,
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
            connections: Arc::from([]),
            history: Arc::from([]),
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
        view.record(
            at,
            HistoryDetail::Submitted {
                channel: e.channel,
                entered_by_staff: e.entered_by_staff,
                theme: e.theme,
                requested_amount: e.requested_amount,
            },
        );
        view
    }

    /// The position of its `InitiativeSubmitted` event in the log (its first history entry),
    /// which holds the initiator's sealed personal data.
    pub fn submitted_position(&self) -> u64 {
        self.history.first().map_or(0, |entry| entry.position)
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

    /// Adds a history entry with the current status and marks the view updated.
    ///
    /// The history is a new slice of exactly its length, not a `Vec` grown in place: most
    /// initiatives have a few entries, a `Vec` would keep room for more in each of hundreds of
    /// thousands, and a copy of the view (the fold keeps past states for `asOf`) shares the
    /// slice instead of copying it. An entry costs copying the earlier ones: a handful.
    pub(crate) fn record(&mut self, at: At, detail: HistoryDetail) {
        self.updated_at = at.time;
        let entry = HistoryEntry {
            position: at.position,
            at: at.time,
            status_after: self.status,
            detail,
        };
        self.history = appended(&self.history, entry);
    }

    pub(crate) fn connect(
        &mut self,
        target: ConnectionTarget,
        direction: ConnectionDirection,
        note: StaffNote,
        with: ConnectedWith,
        at: At,
    ) {
        if direction == ConnectionDirection::Outgoing {
            if let Some(next) = self.status.after(Action::Connect) {
                self.status = next;
            }
        }
        let connection = ConnectionView {
            target,
            direction,
            note,
            position: at.position,
            at: at.time,
        };
        self.connections = appended(&self.connections, connection);
        self.record(at, HistoryDetail::Connected { with, direction });
    }

    pub(crate) fn funded(&mut self, e: &InitiativeFunded, at: At) {
        self.status = InitiativeStatus::Funded;
        self.funded_amount = Some(e.amount);
        self.funded_line = Some(e.line);
        self.funded_at = Some(at.time);
        self.decided_at = Some(at.time);
        self.record(
            at,
            HistoryDetail::Funded {
                line: e.line,
                amount: e.amount,
            },
        );
    }

    pub(crate) fn completed(&mut self, e: &InitiativeCompleted, at: At) {
        self.status = InitiativeStatus::Completed;
        self.spent_amount = Some(e.spent);
        self.returned_amount = Some(e.funded.saturating_sub(e.spent));
        self.completed_at = Some(at.time);
        self.report = Some(e.report.clone());
        self.record(
            at,
            HistoryDetail::Completed {
                spent: e.spent,
                returned: e.funded.saturating_sub(e.spent),
            },
        );
    }

    pub(crate) fn rejected(&mut self, e: &InitiativeRejected, at: At) {
        self.status = InitiativeStatus::Rejected;
        self.rejection_reason = Some(e.reason.clone());
        self.decided_at = Some(at.time);
        self.record(
            at,
            HistoryDetail::Rejected {
                reason: e.reason.clone(),
            },
        );
    }

    pub(crate) fn referred(&mut self, e: &InitiativeReferred, at: At) {
        self.status = InitiativeStatus::Referred;
        self.referral = Some(Box::new(Referral {
            sociaal_wijkteam: e.sociaal_wijkteam.clone(),
            note: e.note.clone(),
        }));
        self.decided_at = Some(at.time);
        self.record(
            at,
            HistoryDetail::Referred {
                sociaal_wijkteam: e.sociaal_wijkteam.clone(),
            },
        );
    }

    pub(crate) fn withdrawn(&mut self, e: &InitiativeWithdrawn, at: At) {
        self.status = InitiativeStatus::Withdrawn;
        self.withdrawal = Some(Box::new(Withdrawal {
            by: e.by,
            reason: e.reason.clone(),
        }));
        self.returned_amount = e.returned.map(|r| r.amount);
        self.record(
            at,
            HistoryDetail::Withdrawn {
                by: e.by,
                returned: e.returned.map(|r| r.amount),
            },
        );
    }

    pub(crate) fn initiator_erased(&mut self, at: At) {
        self.initiator_erased = true;
        self.record(at, HistoryDetail::InitiatorDataErased);
    }
}

/// `items` and `item` after them, as a new slice of exactly that length.
fn appended<T: Clone>(items: &[T], item: T) -> Arc<[T]> {
    items.iter().cloned().chain(std::iter::once(item)).collect()
}
