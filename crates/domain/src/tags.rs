//! The tags events carry, by which the event store finds them across streams.
//!
//! Tags serve two purposes: queries ("everything about wijk WK020207") and the store's
//! consistency condition (a [`Decision`](crate::commands::Decision) lists the tags it read; the
//! append fails if an event carrying one of them was appended after the decision's position).
//! Every event that changes a budget line carries that line's tag, so two fundings of the same
//! line are serialised by the store while fundings of different lines never conflict.

use crate::budget::BudgetLineKey;
use crate::codes::{GebiedCode, MunicipalityCode, WijkCode};
use crate::ids::InitiativeId;

/// Carried by every event of the reference data (municipality, gebieden, wijken): registering
/// the reference data twice conflicts on it.
pub const REFERENCE_DATA: &str = "reference-data";

/// `initiative:<uuid>`
pub fn initiative(id: &InitiativeId) -> String {
    format!("initiative:{id}")
}

/// `wijk:WK020207`
pub fn wijk(code: &WijkCode) -> String {
    format!("wijk:{code}")
}

/// `gebied:W2`
pub fn gebied(code: &GebiedCode) -> String {
    format!("gebied:{code}")
}

/// `municipality:GM0202`
pub fn municipality(code: &MunicipalityCode) -> String {
    format!("municipality:{code}")
}

/// `line:WK020207/2026/groen`
pub fn line(key: &BudgetLineKey) -> String {
    format!("line:{key}")
}

/// `budget-year:2026`: carried by allocations only. An allocation reads the city's total for its
/// year (which must stay within [`Money::MAX`](crate::money::Money::MAX)), so allocations of
/// one year are serialised; fundings never carry it.
pub fn budget_year(year: i32) -> String {
    format!("budget-year:{year}")
}
