//! The commands that change a budget line: allocating it, and funding an initiative from it.

use super::{find_initiative, not_found, transition, Decision};
use crate::budget::{check_year, BudgetLineKey};
use crate::codes::WijkCode;
use crate::error::DomainError;
use crate::events::{BudgetAllocated, InitiativeFunded};
use crate::ids::InitiativeId;
use crate::money::Money;
use crate::projection::CityState;
use crate::status::Action;
use crate::tags;
use crate::theme::Theme;

/// [`Command::AllocateBudget`](super::Command::AllocateBudget).
pub(super) fn allocate(
    state: &CityState,
    wijk: WijkCode,
    year: i32,
    theme: Theme,
    amount: Money,
) -> Result<Decision, DomainError> {
    let year = check_year(year)?;
    let Some(wijk_view) = state.wijk(&wijk) else {
        return Err(not_found("wijk", wijk));
    };
    let line = BudgetLineKey { wijk, year, theme };
    let read = vec![tags::line(&line), tags::budget_year(year)];
    let current = wijk_view.budget_line(year, theme);
    if amount == current.allocated {
        // Already so: nothing happened, so nothing is recorded (no second ticker line).
        return Ok(Decision::on(state, Vec::new(), read));
    }
    if amount < current.in_use() {
        return Err(DomainError::AllocationBelowUse {
            line,
            requested: amount,
            in_use: current.in_use(),
        });
    }
    // Every roll-up is a Money too: keep the whole city's allocation for the year within
    // Money::MAX, so no total can overflow.
    let city_total = state.city_budget(year).totals.allocated;
    let new_total = city_total.cents() - current.allocated.cents() + amount.cents();
    if new_total > Money::MAX.cents() {
        return Err(DomainError::Invalid {
            field: "amount",
            reason: format!(
                "the city's total allocation for {year} would exceed {}",
                Money::MAX
            ),
        });
    }
    let event = BudgetAllocated {
        line,
        allocated: amount,
    };
    Ok(Decision::on(state, vec![event.into()], read))
}

/// [`Command::Fund`](super::Command::Fund): commits money from the line (initiative's wijk,
/// `year`, initiative's theme), never more than it has left.
pub(super) fn fund(
    state: &CityState,
    id: InitiativeId,
    year: i32,
    amount: Money,
) -> Result<Decision, DomainError> {
    let year = check_year(year)?;
    if amount.is_zero() {
        return Err(DomainError::Invalid {
            field: "amount",
            reason: "funding must be more than 0.00".to_owned(),
        });
    }
    let view = find_initiative(state, &id)?;
    transition(view, Action::Fund)?;
    let line = BudgetLineKey {
        wijk: view.wijk,
        year,
        theme: view.theme,
    };
    let remaining = state.budget_line(&line).remaining();
    if amount > remaining {
        return Err(DomainError::BudgetExceeded {
            line,
            requested: amount,
            remaining,
        });
    }
    Ok(Decision::on(
        state,
        vec![InitiativeFunded { id, line, amount }.into()],
        vec![tags::initiative(&id), tags::line(&line)],
    ))
}
