//! The demo's budget: an allocation for every line of every wijk early in January, and what
//! is left on each line for the fundings.

use crate::codes::WijkCode;
use crate::theme::Theme;

use super::plan::Plan;
use super::rng::SplitMix64;
use super::{money, DemoStep};

/// What is left on each budget line (wijk × theme) of the year.
pub(super) struct Lines {
    remaining: Vec<i64>,
}

impl Lines {
    /// Allocates thousands to tens of thousands of euros, exact cents, to every line of
    /// `wijken`, and plans the allocations.
    pub(super) fn allocate(
        plan: &mut Plan,
        rng: &mut SplitMix64,
        year: i32,
        wijken: &[WijkCode],
    ) -> Lines {
        let count = wijken.len() * Theme::ALL.len();
        let mut remaining = vec![0; count];
        for (w, &wijk) in wijken.iter().enumerate() {
            for theme in Theme::ALL {
                let n = w * Theme::ALL.len() + theme.index();
                let cents = rng.between(2_000, 40_000) as i64 * 100 + rng.between(0, 99) as i64;
                remaining[n] = cents;
                let minute = plan.calendar().allocation(n, count);
                plan.at(
                    minute,
                    DemoStep::Allocate {
                        wijk,
                        year,
                        theme,
                        amount: money(cents),
                    },
                );
            }
        }
        Lines { remaining }
    }

    /// Takes the funding for `requested` cents from line (`wijk`, `theme`): all of it, or what
    /// is left if that is at least € 100, or nothing (`None`). Only fundings take from a line,
    /// so every order of the fundings stays within the allocations.
    pub(super) fn take(&mut self, wijk: usize, theme: Theme, requested: i64) -> Option<i64> {
        let left = &mut self.remaining[wijk * Theme::ALL.len() + theme.index()];
        let amount = if requested <= *left {
            requested
        } else if *left >= 10_000 {
            *left
        } else {
            return None;
        };
        *left -= amount;
        Some(amount)
    }
}
