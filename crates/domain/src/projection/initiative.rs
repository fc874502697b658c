//! The initiative read model: status, amounts, connections and a public history.
//!
//! The history holds no personal data: not the initiator's, not a connected person's name, not a
//! referral's note (which may describe an individual care question) and not a withdrawal's
//! reason. Each entry keeps what happened as typed data ([`HistoryDetail`]); its Dutch summary
//! for people is written when asked for ([`HistoryEntry::summary`], in
//! [`lines`](super::lines)), so folding the log does not format text it may never show.

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
use crate::personal::{SealedInitiator, StaffNote};
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
    pub connections: Vec<ConnectionView>,
    pub history: Vec<HistoryEntry>,
    /// Personal data, sealed; `None` once erased.
    pub initiator: Option<SealedInitiator>,
    pub tracking_code_hash: String,
    pub report: Option<Report>,
    pub rejection_reason: Option<Reason>,
    pub referral: Option<Referral>,
    pub withdrawal: Option<Withdrawal>,
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
    /// One of [`crate::DomainEvent::TYPES`] (a snapshot stores the name and gets it back from
    /// there).
    #[serde(deserialize_with = "event_type_name")]
    pub event_type: EventTypeName,
    pub status_after: InitiativeStatus,
    pub detail: HistoryDetail,
}

/// An event type's name, one of [`crate::DomainEvent::TYPES`]. (An alias, not `&'static str`
/// in the field: serde would take a `&str` field as borrowed from the input.)
pub type EventTypeName = &'static str;

/// Reads an event type's name back as the `'static` name the fold uses; an unknown one is an
/// error (a snapshot from other fold code is never trusted anyway).
fn event_type_name<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<&'static str, D::Error> {
    let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
    crate::events::DomainEvent::TYPES
        .iter()
        .copied()
        .find(|known| *known == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown event type {name:?}")))
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
            connections: Vec::new(),
            history: Vec::with_capacity(4),
            initiator: Some(e.initiator.clone()),
            tracking_code_hash: e.tracking_code_hash.clone(),
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
            "InitiativeSubmitted",
            HistoryDetail::Submitted {
                channel: e.channel,
                entered_by_staff: e.entered_by_staff,
                theme: e.theme,
                requested_amount: e.requested_amount,
            },
        );
        view
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
    pub(crate) fn record(&mut self, at: At, event_type: &'static str, detail: HistoryDetail) {
        self.updated_at = at.time;
        self.history.push(HistoryEntry {
            position: at.position,
            at: at.time,
            event_type,
            status_after: self.status,
            detail,
        });
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
        self.connections.push(ConnectionView {
            target,
            direction,
            note,
            position: at.position,
            at: at.time,
        });
        self.record(
            at,
            "InitiativeConnected",
            HistoryDetail::Connected { with, direction },
        );
    }

    pub(crate) fn funded(&mut self, e: &InitiativeFunded, at: At) {
        self.status = InitiativeStatus::Funded;
        self.funded_amount = Some(e.amount);
        self.funded_line = Some(e.line);
        self.funded_at = Some(at.time);
        self.decided_at = Some(at.time);
        self.record(
            at,
            "InitiativeFunded",
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
            "InitiativeCompleted",
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
            "InitiativeRejected",
            HistoryDetail::Rejected {
                reason: e.reason.clone(),
            },
        );
    }

    pub(crate) fn referred(&mut self, e: &InitiativeReferred, at: At) {
        self.status = InitiativeStatus::Referred;
        self.referral = Some(Referral {
            sociaal_wijkteam: e.sociaal_wijkteam.clone(),
            note: e.note.clone(),
        });
        self.decided_at = Some(at.time);
        self.record(
            at,
            "InitiativeReferred",
            HistoryDetail::Referred {
                sociaal_wijkteam: e.sociaal_wijkteam.clone(),
            },
        );
    }

    pub(crate) fn withdrawn(&mut self, e: &InitiativeWithdrawn, at: At) {
        self.status = InitiativeStatus::Withdrawn;
        self.withdrawal = Some(Withdrawal {
            by: e.by,
            reason: e.reason.clone(),
        });
        self.returned_amount = e.returned.map(|r| r.amount);
        self.record(
            at,
            "InitiativeWithdrawn",
            HistoryDetail::Withdrawn {
                by: e.by,
                returned: e.returned.map(|r| r.amount),
            },
        );
    }

    pub(crate) fn initiator_erased(&mut self, at: At) {
        self.initiator = None;
        self.record(
            at,
            "InitiatorDataErased",
            HistoryDetail::InitiatorDataErased,
        );
    }
}
