//! Budget lines: what a wijk may spend on one theme in one year, and how much of it is in use.
//!
//! A line is keyed by (wijk, year, theme). Its use is never stored in place but derived from the
//! events: `committed` is what funded initiatives hold and have not yet completed or withdrawn,
//! `spent` what completed ones reported, and `remaining = allocated − committed − spent`, which
//! the commands keep at or above zero.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::codes::WijkCode;
use crate::error::DomainError;
use crate::money::Money;
use crate::theme::Theme;

/// The budget years the domain accepts.
pub const YEARS: RangeInclusive<i32> = 2000..=2100;

/// Checks that `year` is a budget year (see [`YEARS`]).
pub fn check_year(year: i32) -> Result<i32, DomainError> {
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(DomainError::Invalid {
            field: "year",
            reason: format!(
                "{year} is not a budget year ({}-{})",
                YEARS.start(),
                YEARS.end()
            ),
        })
    }
}

/// Which budget line: a wijk's budget for one theme in one year. Prints as
/// `WK020207/2026/groen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BudgetLineKey {
    pub wijk: WijkCode,
    pub year: i32,
    pub theme: Theme,
}

impl BudgetLineKey {
    /// Parses the printed form `WK020207/2026/groen`.
    pub fn parse(text: &str) -> Result<BudgetLineKey, DomainError> {
        let mut parts = text.trim().split('/');
        let (Some(wijk), Some(year), Some(theme), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DomainError::Invalid {
                field: "line",
                reason: "a budget line is written wijk/year/theme, e.g. WK020207/2026/groen"
                    .to_owned(),
            });
        };
        let year = year.parse().map_err(|_| DomainError::Invalid {
            field: "year",
            reason: format!("{year:?} is not a year"),
        })?;
        Ok(BudgetLineKey {
            wijk: WijkCode::parse(wijk)?,
            year: check_year(year)?,
            theme: theme.parse()?,
        })
    }
}

impl fmt::Display for BudgetLineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.wijk, self.year, self.theme)
    }
}

impl FromStr for BudgetLineKey {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BudgetLineKey::parse(s)
    }
}

/// The amounts of one budget line, or a roll-up of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BudgetLine {
    pub allocated: Money,
    pub committed: Money,
    pub spent: Money,
}

impl BudgetLine {
    /// `allocated − committed − spent`. The commands keep it at or above zero; it reads zero
    /// rather than failing if a log written by something else broke that rule.
    pub fn remaining(&self) -> Money {
        self.allocated
            .saturating_sub(self.committed)
            .saturating_sub(self.spent)
    }

    /// What is committed or spent: the lowest the allocation may be set to.
    pub fn in_use(&self) -> Money {
        self.committed.saturating_add(self.spent)
    }

    /// Adds another line's amounts, for roll-ups (wijk, gebied, city). The commands keep a
    /// year's allocations for the whole city within [`Money::MAX`], so the sums are exact.
    pub fn add(&mut self, other: &BudgetLine) {
        self.allocated = self.allocated.saturating_add(other.allocated);
        self.committed = self.committed.saturating_add(other.committed);
        self.spent = self.spent.saturating_add(other.spent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prints_and_parses() {
        let key = BudgetLineKey {
            wijk: WijkCode::parse("WK020207").unwrap(),
            year: 2026,
            theme: Theme::Groen,
        };
        assert_eq!(key.to_string(), "WK020207/2026/groen");
        assert_eq!(BudgetLineKey::parse("WK020207/2026/groen").unwrap(), key);
        assert!(BudgetLineKey::parse("WK020207/2026").is_err());
        assert!(BudgetLineKey::parse("WK020207/1999/groen").is_err());
        assert!(BudgetLineKey::parse("WK020207/2026/groen/x").is_err());
    }

    #[test]
    fn years_outside_the_range_are_refused() {
        assert!(check_year(2000).is_ok());
        assert!(check_year(2100).is_ok());
        assert!(check_year(1999).is_err());
        assert!(check_year(2101).is_err());
    }

    #[test]
    fn remaining_is_allocated_minus_use() {
        let line = BudgetLine {
            allocated: Money::from_euros(1000).unwrap(),
            committed: Money::from_euros(300).unwrap(),
            spent: Money::from_euros(200).unwrap(),
        };
        assert_eq!(line.remaining(), Money::from_euros(500).unwrap());
        assert_eq!(line.in_use(), Money::from_euros(500).unwrap());
    }
}
