//! Trends and lead times: per-month buckets and lead-time samples, kept by the fold.
//!
//! [`CityState::apply`] hands every event here ([`CityState::observe_trends`]), which adds it to
//! a bucket keyed by (wijk, theme, year, month), so [`CityState::trends`] answers a year for the
//! city, a gebied, a wijk and/or a theme by adding at most 24 × 8 × 12 buckets, never by reading
//! the log. The log stays the truth: the buckets are a fold like every other read model.
//!
//! # Which month
//!
//! An event belongs to the month of the time it is about (`Recorded::recorded_at`, the store's
//! `occurred_at`), in Arnhem's local time, Europe/Amsterdam: CET (UTC+1), and CEST (UTC+2)
//! from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC (the EU rule
//! in force since 1996; [`amsterdam`]). An initiative funded at 23:30 UTC on 31 May is funded
//! in June.
//!
//! # What a month holds
//!
//! - Counts, by the initiative's wijk and theme, of the calendar month: initiatives submitted,
//!   funded, completed, rejected, referred and withdrawn.
//! - Amounts, by the budget line's wijk and theme, for a **budget year**: the flows on that
//!   year's lines dated in the month. `allocated` is the change of the lines' allocation (an
//!   allocation sets a line's amount, so lowering one makes a negative change); `committed` is
//!   what was taken from the lines net of what came back: fundings, less the part of a funded
//!   amount a completion did not spend, less what a withdrawal returned (so it can be
//!   negative); `spent` is what completions reported spent (part of what was committed
//!   earlier). `remaining_at_end` is `allocated − committed` over all flows on the year's lines
//!   dated up to the end of the month, including those dated before the year began (an
//!   allocation made in December for the next year), which equals the lines'
//!   `allocated − committed − spent` at that moment. Flows dated after the year are in no month
//!   of it.
//!
//! # Lead times
//!
//! A lead time belongs to the calendar year (and the initiative's wijk and theme) of the event
//! that ends it:
//! - to the first answer: from submission to the first of connected (by staff, to something),
//!   funded, rejected or referred; a withdrawal is no answer;
//! - to funded: from submission to funding;
//! - to completed: from funding to completion.
//!
//! Samples are kept as durations in seconds, appended as events come; a question selects from
//! them. Median and 90th percentile use **linear interpolation** between closest ranks (the
//! definition of numpy's default and Excel's `PERCENTILE.INC`): over `n` sorted durations the
//! `p`-quantile is at rank `h = (n − 1) · p` (from 0), `x[⌊h⌋] + (h − ⌊h⌋) · (x[⌊h⌋+1] − x[⌊h⌋])`,
//! so the median of an even number is the mean of the middle two.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};

use crate::budget::BudgetLineKey;
use crate::codes::{GebiedCode, WijkCode};
use crate::events::{DomainEvent, Recorded};
use crate::money::Money;
use crate::projection::CityState;
use crate::status::InitiativeStatus;
use crate::theme::Theme;

/// Which part of the city a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendScope {
    City,
    Gebied(GebiedCode),
    Wijk(WijkCode),
}

/// A year's trends: twelve months and the year's lead times.
#[derive(Debug, Clone, PartialEq)]
pub struct YearTrends {
    pub year: i32,
    /// January to December.
    pub months: Vec<MonthTrend>,
    pub lead_times: LeadTimes,
}

/// One month (see the module docs for what each figure means). Amounts in cents, signed: an
/// allocation lowered or more returned than committed makes a month's change negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonthTrend {
    /// 1 to 12.
    pub month: u32,
    pub submitted: u64,
    pub funded: u64,
    pub completed: u64,
    pub rejected: u64,
    pub referred: u64,
    pub withdrawn: u64,
    pub allocated: i64,
    pub committed: i64,
    pub spent: i64,
    pub remaining_at_end: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadTimes {
    pub to_first_answer: LeadTime,
    pub to_funded: LeadTime,
    pub to_completed: LeadTime,
}

/// How long something took: how often, the median and the 90th percentile in days (`None`
/// when it never happened).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadTime {
    pub count: usize,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
}

impl LeadTime {
    /// The lead time of these durations in seconds (reordered in place).
    pub fn of_seconds(samples: &mut [u32]) -> LeadTime {
        let mut days = |p| quantile(samples, p).map(|s| s / SECONDS_PER_DAY);
        let median_days = days(0.5);
        let p90_days = days(0.9);
        LeadTime {
            count: samples.len(),
            median_days,
            p90_days,
        }
    }
}

const SECONDS_PER_DAY: f64 = 86_400.0;

/// The `p`-quantile (0 ≤ p ≤ 1) by linear interpolation between closest ranks; `None` for no
/// samples. Reorders `samples` (a selection, not a sort: linear time).
pub fn quantile(samples: &mut [u32], p: f64) -> Option<f64> {
    let n = samples.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let low = (h.floor() as usize).min(n - 1);
    let fraction = h - low as f64;
    let (_, &mut below, above) = samples.select_nth_unstable(low);
    let below = f64::from(below);
    let next = if fraction > 0.0 {
        above.iter().min().map_or(below, |&v| f64::from(v))
    } else {
        below
    };
    Some(below + fraction * (next - below))
}

/// Arnhem's local time at `t`: UTC+2 from the last Sunday of March 01:00 UTC to the last Sunday
/// of October 01:00 UTC, UTC+1 otherwise (Europe/Amsterdam under the EU rule since 1996).
pub fn amsterdam(t: DateTime<Utc>) -> chrono::NaiveDateTime {
    // Only March and October need the switch's day; the fold asks this for every event.
    let switch = |month| {
        last_sunday(t.year(), month)
            .and_hms_opt(1, 0, 0)
            .map(|d| d.and_utc())
    };
    let summer = match t.month() {
        4..=9 => true,
        3 => switch(3).is_some_and(|start| t >= start),
        10 => switch(10).is_some_and(|end| t < end),
        _ => false,
    };
    (t + Duration::hours(if summer { 2 } else { 1 })).naive_utc()
}

/// The last Sunday of a month of 31 days (March, October).
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let last = NaiveDate::from_ymd_opt(year, month, 31).unwrap_or_default();
    last - Days::new(u64::from(last.weekday().num_days_from_sunday()))
}

/// The (year, month) of `t` in Arnhem.
pub fn local_month(t: DateTime<Utc>) -> (i32, u32) {
    let local = amsterdam(t);
    (local.year(), local.month())
}

/// What the fold keeps for trends: one [`WijkYear`] per (wijk, year) that has any.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct TrendBuckets {
    /// Behind an `Arc`: a clone of the state shares every (wijk, year), and the fold copies one
    /// only when it changes (in practice the current year's).
    years: HashMap<(WijkCode, i32), Arc<WijkYear>>,
}

/// The counted events, as indices into a month's counts.
#[derive(Clone, Copy)]
enum Counted {
    Submitted = 0,
    Funded,
    Completed,
    Rejected,
    Referred,
    Withdrawn,
}

/// The three lead times, as indices.
#[derive(Clone, Copy)]
enum Lead {
    FirstAnswer = 0,
    Funded,
    Completed,
}

/// Flows on a year's lines in one slot: 0 before the year, 1–12 its months, 13 after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
struct Flows {
    allocated: i64,
    committed: i64,
    spent: i64,
}

/// One wijk's buckets of one year, per theme: counts of the calendar year's months, flows on
/// the budget year's lines, lead-time samples of the year (seconds).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
struct WijkYear {
    counts: [[[u32; 6]; 12]; 8],
    flows: [[Flows; 14]; 8],
    leads: [[Vec<u32>; 3]; 8],
}

impl TrendBuckets {
    fn year(&mut self, wijk: WijkCode, year: i32) -> &mut WijkYear {
        Arc::make_mut(self.years.entry((wijk, year)).or_default())
    }

    fn count(&mut self, wijk: WijkCode, theme: Theme, at: (i32, u32), what: Counted) {
        let (year, month) = at;
        let slot =
            &mut self.year(wijk, year).counts[theme.index()][month as usize - 1][what as usize];
        *slot = slot.saturating_add(1);
    }

    /// The flows of `line` dated `at`.
    fn flows(&mut self, line: &BudgetLineKey, at: (i32, u32)) -> &mut Flows {
        let slot = match at.0.cmp(&line.year) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Equal => at.1 as usize,
            std::cmp::Ordering::Greater => 13,
        };
        &mut self.year(line.wijk, line.year).flows[line.theme.index()][slot]
    }

    fn sample(&mut self, wijk: WijkCode, theme: Theme, year: i32, lead: Lead, seconds: i64) {
        let seconds = u32::try_from(seconds.max(0)).unwrap_or(u32::MAX);
        self.year(wijk, year).leads[theme.index()][lead as usize].push(seconds);
    }
}

/// What the trends need to know from before an event is applied.
pub(super) enum Before {
    Nothing,
    /// The line's allocation before a `BudgetAllocated`.
    Allocation(Money),
    /// The initiative's status before one of its events (`None`: unknown).
    Status(Option<InitiativeStatus>),
}

impl CityState {
    /// What [`CityState::observe_trends`] needs of the state before `event` is applied.
    pub(super) fn before_trends(&self, event: &DomainEvent) -> Before {
        let status = |id| Before::Status(self.initiative(id).map(|v| v.status));
        match event {
            DomainEvent::BudgetAllocated(e) => {
                Before::Allocation(self.budget_line(&e.line).allocated)
            }
            DomainEvent::InitiativeSubmitted(e) => status(&e.id),
            DomainEvent::InitiativeConnected(e) => status(&e.id),
            DomainEvent::InitiativeFunded(e) => status(&e.id),
            DomainEvent::InitiativeCompleted(e) => status(&e.id),
            DomainEvent::InitiativeRejected(e) => status(&e.id),
            DomainEvent::InitiativeReferred(e) => status(&e.id),
            DomainEvent::InitiativeWithdrawn(e) => status(&e.id),
            _ => Before::Nothing,
        }
    }

    /// Adds an event just applied to the buckets (see the module docs).
    pub(super) fn observe_trends(&mut self, before: Before, recorded: &Recorded) {
        let prior = match before {
            Before::Nothing => return,
            Before::Allocation(old) => {
                let at = local_month(recorded.recorded_at);
                if let DomainEvent::BudgetAllocated(e) = &recorded.event {
                    if self.wijk(&e.line.wijk).is_some() {
                        self.trends.flows(&e.line, at).allocated +=
                            e.allocated.cents() - old.cents();
                    }
                }
                return;
            }
            Before::Status(prior) => prior,
        };
        let id = match &recorded.event {
            DomainEvent::InitiativeSubmitted(e) => e.id,
            DomainEvent::InitiativeConnected(e) => e.id,
            DomainEvent::InitiativeFunded(e) => e.id,
            DomainEvent::InitiativeCompleted(e) => e.id,
            DomainEvent::InitiativeRejected(e) => e.id,
            DomainEvent::InitiativeReferred(e) => e.id,
            DomainEvent::InitiativeWithdrawn(e) => e.id,
            _ => return,
        };
        let Some(view) = self.initiative(&id) else {
            return;
        };
        let time = recorded.recorded_at;
        let at = local_month(time);
        let (wijk, theme, status) = (view.wijk, view.theme, view.status);
        let since_submitted = (time - view.submitted_at).num_seconds();
        let since_funded = view.funded_at.map(|f| (time - f).num_seconds());
        let first_answer = prior == Some(InitiativeStatus::Submitted)
            && matches!(
                status,
                InitiativeStatus::Connected
                    | InitiativeStatus::Funded
                    | InitiativeStatus::Rejected
                    | InitiativeStatus::Referred
            );
        let trends = &mut self.trends;
        if first_answer {
            trends.sample(wijk, theme, at.0, Lead::FirstAnswer, since_submitted);
        }
        match (&recorded.event, prior) {
            (DomainEvent::InitiativeSubmitted(_), None) => {
                trends.count(wijk, theme, at, Counted::Submitted);
            }
            (_, None) => {}
            (DomainEvent::InitiativeFunded(e), Some(_)) => {
                trends.count(wijk, theme, at, Counted::Funded);
                trends.sample(wijk, theme, at.0, Lead::Funded, since_submitted);
                trends.flows(&e.line, at).committed += e.amount.cents();
            }
            (DomainEvent::InitiativeCompleted(e), Some(_)) => {
                trends.count(wijk, theme, at, Counted::Completed);
                if let Some(seconds) = since_funded {
                    trends.sample(wijk, theme, at.0, Lead::Completed, seconds);
                }
                let flows = trends.flows(&e.line, at);
                flows.committed -= e.funded.saturating_sub(e.spent).cents();
                flows.spent += e.spent.cents();
            }
            (DomainEvent::InitiativeRejected(_), Some(_)) => {
                trends.count(wijk, theme, at, Counted::Rejected);
            }
            (DomainEvent::InitiativeReferred(_), Some(_)) => {
                trends.count(wijk, theme, at, Counted::Referred);
            }
            (DomainEvent::InitiativeWithdrawn(e), Some(_)) => {
                trends.count(wijk, theme, at, Counted::Withdrawn);
                if let Some(returned) = &e.returned {
                    trends.flows(&returned.line, at).committed -= returned.amount.cents();
                }
            }
            _ => {}
        }
    }

    /// The trends of `year` for the scope and, if given, one theme: per month the counts of
    /// that calendar month and the flows on that budget year's lines, and the year's lead
    /// times (see the module docs). An unknown wijk or gebied has none: all zero. Adds at most
    /// (wijken × themes × 12) buckets and selects over the year's samples.
    pub fn trends(&self, year: i32, scope: TrendScope, theme: Option<Theme>) -> YearTrends {
        let wijken: Vec<WijkCode> = match scope {
            TrendScope::City => self.wijken().map(|w| w.code).collect(),
            TrendScope::Gebied(code) => self
                .gebied(&code)
                .map(|g| g.wijken.clone())
                .unwrap_or_default(),
            TrendScope::Wijk(code) => self.wijk(&code).map(|w| w.code).into_iter().collect(),
        };
        let themes = match theme {
            Some(t) => t.index()..t.index() + 1,
            None => 0..Theme::ALL.len(),
        };
        let mut counts = [[0u64; 6]; 12];
        let mut flows = [Flows::default(); 14];
        let mut samples: [Vec<u32>; 3] = Default::default();
        for wijk in wijken {
            let Some(bucket) = self.trends.years.get(&(wijk, year)) else {
                continue;
            };
            for t in themes.clone() {
                for (month, theirs) in counts.iter_mut().zip(&bucket.counts[t]) {
                    for (mine, their) in month.iter_mut().zip(theirs) {
                        *mine += u64::from(*their);
                    }
                }
                for (mine, theirs) in flows.iter_mut().zip(&bucket.flows[t]) {
                    mine.allocated += theirs.allocated;
                    mine.committed += theirs.committed;
                    mine.spent += theirs.spent;
                }
                for (mine, theirs) in samples.iter_mut().zip(&bucket.leads[t]) {
                    mine.extend_from_slice(theirs);
                }
            }
        }
        let mut remaining = flows[0].allocated - flows[0].committed;
        let months = (1..=12u32)
            .map(|month| {
                let c = counts[month as usize - 1];
                let f = flows[month as usize];
                remaining += f.allocated - f.committed;
                MonthTrend {
                    month,
                    submitted: c[Counted::Submitted as usize],
                    funded: c[Counted::Funded as usize],
                    completed: c[Counted::Completed as usize],
                    rejected: c[Counted::Rejected as usize],
                    referred: c[Counted::Referred as usize],
                    withdrawn: c[Counted::Withdrawn as usize],
                    allocated: f.allocated,
                    committed: f.committed,
                    spent: f.spent,
                    remaining_at_end: remaining,
                }
            })
            .collect();
        let [first_answer, funded, completed] = &mut samples;
        YearTrends {
            year,
            months,
            lead_times: LeadTimes {
                to_first_answer: LeadTime::of_seconds(first_answer),
                to_funded: LeadTime::of_seconds(funded),
                to_completed: LeadTime::of_seconds(completed),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn quantiles_interpolate_linearly_between_closest_ranks() {
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [7], 0.5), Some(7.0));
        assert_eq!(quantile(&mut [7], 0.9), Some(7.0));
        // Even count: the mean of the middle two (nearest-rank would say 2).
        assert_eq!(quantile(&mut [4, 1, 3, 2], 0.5), Some(2.5));
        // Rank (10 − 1) × 0.9 = 8.1 of 1..=10: 9 + 0.1 × (10 − 9).
        let p90 = quantile(&mut [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 0.9).unwrap();
        assert!((p90 - 9.1).abs() < 1e-9, "{p90}");
        // Duplicates and the ends.
        assert_eq!(quantile(&mut [5, 5, 5, 9], 0.5), Some(5.0));
        assert_eq!(quantile(&mut [3, 1, 2], 0.0), Some(1.0));
        assert_eq!(quantile(&mut [3, 1, 2], 1.0), Some(3.0));
    }

    #[test]
    fn lead_times_are_in_days() {
        let day = 86_400;
        let lead = LeadTime::of_seconds(&mut [day, 3 * day, day / 2]);
        assert_eq!(lead.count, 3);
        assert_eq!(lead.median_days, Some(1.0));
        // Rank 1.8: 1 + 0.8 × (3 − 1) = 2.6 days.
        assert!((lead.p90_days.unwrap() - 2.6).abs() < 1e-9);
        assert_eq!(LeadTime::of_seconds(&mut []), LeadTime::default());
    }

    #[test]
    fn arnhem_switches_to_summer_time_on_the_last_sundays_of_march_and_october() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC; 2025: 30 March
        // and 26 October.
        for (utc, local) in [
            (utc(2026, 3, 29, 0, 59), "2026-03-29 01:59:00"),
            (utc(2026, 3, 29, 1, 0), "2026-03-29 03:00:00"),
            (utc(2026, 10, 25, 0, 59), "2026-10-25 02:59:00"),
            (utc(2026, 10, 25, 1, 0), "2026-10-25 02:00:00"),
            (utc(2025, 3, 30, 1, 0), "2025-03-30 03:00:00"),
            (utc(2025, 10, 26, 0, 30), "2025-10-26 02:30:00"),
        ] {
            assert_eq!(amsterdam(utc).to_string(), local, "{utc}");
        }
    }

    #[test]
    fn a_month_is_arnhems_month() {
        assert_eq!(local_month(utc(2026, 5, 31, 21, 59)), (2026, 5));
        assert_eq!(local_month(utc(2026, 5, 31, 22, 0)), (2026, 6));
        assert_eq!(local_month(utc(2026, 1, 31, 22, 59)), (2026, 1));
        assert_eq!(local_month(utc(2026, 1, 31, 23, 0)), (2026, 2));
        assert_eq!(local_month(utc(2026, 12, 31, 23, 0)), (2027, 1));
    }
}
