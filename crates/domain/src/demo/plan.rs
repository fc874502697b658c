//! The demo's steps with their times, collected in any order and handed out in time order.

use super::calendar::Calendar;
use super::{DatedStep, DemoStep};

/// Steps at minutes of the demo year. A step that has not happened by the calendar's `until`
/// is left out; an initiative's steps have increasing minutes, so what is left of it is the
/// beginning of its life — always a legal history.
pub(super) struct Plan {
    calendar: Calendar,
    steps: Vec<(i64, usize, DemoStep)>,
}

impl Plan {
    pub(super) fn new(calendar: Calendar) -> Plan {
        Plan {
            calendar,
            steps: Vec::new(),
        }
    }

    pub(super) fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Adds `step` at `minute` if it has happened by then.
    pub(super) fn at(&mut self, minute: i64, step: DemoStep) {
        if self.calendar.has_happened(minute) {
            let seq = self.steps.len();
            self.steps.push((minute, seq, step));
        }
    }

    /// The steps in time order (in the order they were added at equal minutes).
    pub(super) fn into_steps(mut self) -> Vec<DatedStep> {
        self.steps.sort_by_key(|&(minute, seq, _)| (minute, seq));
        let calendar = self.calendar;
        self.steps
            .into_iter()
            .map(|(minute, _, step)| DatedStep {
                at: calendar.time(minute),
                step,
            })
            .collect()
    }
}
