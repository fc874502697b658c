//! Where an initiative is in its lifecycle, and which actions move it on.
//!
//! The transition table of docs/domain.md lives in one place, [`InitiativeStatus::after`]: the
//! command handlers ask it whether an action is allowed, so the rules cannot drift apart.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitiativeStatus {
    Submitted,
    Connected,
    Funded,
    Completed,
    Rejected,
    Withdrawn,
    Referred,
}

/// What staff or an initiator try to do with an existing initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Connect,
    Fund,
    Complete,
    Reject,
    Refer,
    Withdraw,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Connect,
        Action::Fund,
        Action::Complete,
        Action::Reject,
        Action::Refer,
        Action::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "connect",
            Action::Fund => "fund",
            Action::Complete => "complete",
            Action::Reject => "reject",
            Action::Refer => "refer",
            Action::Withdraw => "withdraw",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl InitiativeStatus {
    pub const ALL: [InitiativeStatus; 7] = [
        InitiativeStatus::Submitted,
        InitiativeStatus::Connected,
        InitiativeStatus::Funded,
        InitiativeStatus::Completed,
        InitiativeStatus::Rejected,
        InitiativeStatus::Withdrawn,
        InitiativeStatus::Referred,
    ];

    /// The lowercase English word: `"submitted"`.
    pub fn as_str(self) -> &'static str {
        match self {
            InitiativeStatus::Submitted => "submitted",
            InitiativeStatus::Connected => "connected",
            InitiativeStatus::Funded => "funded",
            InitiativeStatus::Completed => "completed",
            InitiativeStatus::Rejected => "rejected",
            InitiativeStatus::Withdrawn => "withdrawn",
            InitiativeStatus::Referred => "referred",
        }
    }

    /// The Dutch word residents read: `"ingediend"`.
    pub fn label_nl(self) -> &'static str {
        match self {
            InitiativeStatus::Submitted => "ingediend",
            InitiativeStatus::Connected => "verbonden",
            InitiativeStatus::Funded => "gefinancierd",
            InitiativeStatus::Completed => "afgerond",
            InitiativeStatus::Rejected => "afgewezen",
            InitiativeStatus::Withdrawn => "ingetrokken",
            InitiativeStatus::Referred => "doorverwezen",
        }
    }

    /// The position in [`InitiativeStatus::ALL`], for per-status arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// True when no action can move it on any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            InitiativeStatus::Completed
                | InitiativeStatus::Rejected
                | InitiativeStatus::Withdrawn
                | InitiativeStatus::Referred
        )
    }

    /// The status after `action`, or `None` when the action is not allowed from here.
    ///
    /// Connecting is allowed until the initiative is finished and moves a submitted one to
    /// connected; a funded one stays funded. Funding, rejecting and referring need an initiative
    /// that is not funded yet; completing needs a funded one; withdrawing is possible until the
    /// initiative is finished.
    pub fn after(self, action: Action) -> Option<InitiativeStatus> {
        use InitiativeStatus::*;
        match (self, action) {
            (Submitted | Connected, Action::Connect) => Some(Connected),
            (Funded, Action::Connect) => Some(Funded),
            (Submitted | Connected, Action::Fund) => Some(Funded),
            (Funded, Action::Complete) => Some(Completed),
            (Submitted | Connected, Action::Reject) => Some(Rejected),
            (Submitted | Connected, Action::Refer) => Some(Referred),
            (Submitted | Connected | Funded, Action::Withdraw) => Some(Withdrawn),
            _ => None,
        }
    }
}

impl fmt::Display for InitiativeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses_allow_nothing() {
        for status in InitiativeStatus::ALL {
            let allowed = Action::ALL
                .into_iter()
                .filter(|&a| status.after(a).is_some())
                .count();
            assert_eq!(status.is_terminal(), allowed == 0, "{status}");
        }
    }

    #[test]
    fn serde_and_index_follow_all() {
        for (i, status) in InitiativeStatus::ALL.into_iter().enumerate() {
            assert_eq!(status.index(), i);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
    }
}
