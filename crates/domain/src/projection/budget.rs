//! Budget read models: a year's lines per theme, totalled for a wijk, a gebied or the city.

use crate::budget::BudgetLine;
use crate::theme::Theme;

/// The budget lines of one year for every theme, indexed by [`Theme::index`].
pub type ThemeLines = [BudgetLine; 8];

/// One year's budget of a wijk, a gebied or the city: a line per theme (all 8, also the empty
/// ones) and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSummary {
    pub year: i32,
    pub totals: BudgetLine,
    pub lines: Vec<(Theme, BudgetLine)>,
}

impl BudgetSummary {
    pub(crate) fn from_lines(year: i32, lines: &ThemeLines) -> BudgetSummary {
        let mut totals = BudgetLine::default();
        for line in lines {
            totals.add(line);
        }
        BudgetSummary {
            year,
            totals,
            lines: Theme::ALL.into_iter().zip(lines.iter().copied()).collect(),
        }
    }

    /// The line of one theme.
    pub fn line(&self, theme: Theme) -> BudgetLine {
        self.lines[theme.index()].1
    }
}

/// Adds `other`'s lines to `into`, theme by theme.
pub(crate) fn add_lines(into: &mut ThemeLines, other: &ThemeLines) {
    for (mine, theirs) in into.iter_mut().zip(other) {
        mine.add(theirs);
    }
}
