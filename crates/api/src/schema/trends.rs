//! `trends` and `trendsUpdated`: a year month by month, and its lead times, for the city, a
//! gebied or a wijk and optionally one theme. Answered from the buckets the fold keeps
//! ([`wijkpuls_domain::projection::TrendScope`]; what each figure means is in the domain's
//! `projection/trends.rs` and `docs/api.md`, "Trends and lead times").

use std::sync::Arc;

use async_graphql::{
    Context, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value, ID,
};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::WatchStream;
use wijkpuls_domain::projection::{self as domain, TrendScope};
use wijkpuls_domain::{CityState, GebiedCode, WijkCode};

use super::scalars::{Money, Theme};
use super::{app, AppState};
use crate::error::{ApiError, ApiResult};

/// A year month by month, with its lead times.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct Trends {
    /// The year asked for: the calendar year of the counts and lead times, the budget year of
    /// the amounts.
    pub year: i32,
    /// January to December, twelve entries.
    pub months: Vec<MonthTrend>,
    /// How long initiatives waited, over the lead times that ended in the year.
    pub lead_times: LeadTimes,
}

/// One month. Counts are of events dated in the month in Arnhem's time (Europe/Amsterdam);
/// amounts are the changes on the year's budget lines dated in the month.
#[derive(SimpleObject, Clone, Copy, Debug, PartialEq)]
pub struct MonthTrend {
    /// The month, 1 (January) to 12 (December).
    pub month: u32,
    /// Initiatives submitted in the month.
    pub submitted: u64,
    /// Initiatives funded in the month (also those withdrawn or completed later).
    pub funded: u64,
    /// Initiatives reported completed in the month.
    pub completed: u64,
    /// Initiatives rejected in the month.
    pub rejected: u64,
    /// Initiatives referred to a sociaal wijkteam in the month.
    pub referred: u64,
    /// Initiatives withdrawn in the month.
    pub withdrawn: u64,
    /// The change of the year's allocations in the month (negative when one was lowered).
    pub allocated: MoneyChange,
    /// What fundings took from the year's lines in the month, net of what came back in it (the
    /// unspent part of a completed initiative's funding, a withdrawn one's funding): negative
    /// in a month that returned more than it committed.
    pub committed: MoneyChange,
    /// What completions in the month reported spent (taken from the line when it was
    /// committed).
    pub spent: Money,
    /// allocated − committed over the year's lines at the end of the month, counting what was
    /// dated before the year began: the budget that was still free then.
    pub remaining_at_end: MoneyChange,
}

/// How long initiatives waited, in days, over the lead times that ended in the year.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct LeadTimes {
    /// From submission to the first answer: connected, funded, rejected or referred (whichever
    /// came first; a withdrawal is no answer). Counted in the year of that answer.
    pub to_first_answer: LeadTime,
    /// From submission to funding, counted in the year of the funding.
    pub to_funded: LeadTime,
    /// From funding to completion, counted in the year of the completion.
    pub to_completed: LeadTime,
}

/// How many times something took how long: median and 90th percentile in days (fractions of a
/// day included), by linear interpolation between the closest ranks (the median of an even
/// number of durations is the mean of the middle two); null when the count is 0.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct LeadTime {
    /// How many lead times ended in the year.
    pub count: u64,
    /// The median in days; null when the count is 0.
    pub median_days: Option<f64>,
    /// The 90th percentile in days; null when the count is 0.
    pub p90_days: Option<f64>,
}

/// A signed amount in cents (the `MoneyChange` scalar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyChange(pub i64);

/// A change of an amount in euros, as a decimal string with exactly two decimals and a minus
/// sign when it went down: `"1250.00"`, `"-200.00"`. Exact (whole cents). Output only in
/// practice (the same form is accepted as input). In TypeScript: `string`.
#[Scalar(name = "MoneyChange")]
impl ScalarType for MoneyChange {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(text) => text.trim(),
            _ => {
                return Err(InputValueError::custom(
                    "a change of money is a string, e.g. \"-200.00\"",
                ))
            }
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let amount = wijkpuls_domain::Money::parse(digits)
            .map_err(|e| InputValueError::custom(format!("invalid amount {text:?}: {e}")))?;
        Ok(MoneyChange(if negative {
            -amount.cents()
        } else {
            amount.cents()
        }))
    }

    fn to_value(&self) -> Value {
        let sign = if self.0 < 0 { "-" } else { "" };
        let cents = self.0.unsigned_abs();
        Value::String(format!("{sign}{}.{:02}", cents / 100, cents % 100))
    }
}

impl From<domain::YearTrends> for Trends {
    fn from(t: domain::YearTrends) -> Trends {
        Trends {
            year: t.year,
            months: t
                .months
                .into_iter()
                .map(|m| MonthTrend {
                    month: m.month,
                    submitted: m.submitted,
                    funded: m.funded,
                    completed: m.completed,
                    rejected: m.rejected,
                    referred: m.referred,
                    withdrawn: m.withdrawn,
                    allocated: MoneyChange(m.allocated),
                    committed: MoneyChange(m.committed),
                    spent: Money(
                        wijkpuls_domain::Money::from_cents(m.spent)
                            .unwrap_or(wijkpuls_domain::Money::MAX),
                    ),
                    remaining_at_end: MoneyChange(m.remaining_at_end),
                })
                .collect(),
            lead_times: LeadTimes {
                to_first_answer: t.lead_times.to_first_answer.into(),
                to_funded: t.lead_times.to_funded.into(),
                to_completed: t.lead_times.to_completed.into(),
            },
        }
    }
}

impl From<domain::LeadTime> for LeadTime {
    fn from(l: domain::LeadTime) -> LeadTime {
        LeadTime {
            count: l.count as u64,
            median_days: l.median_days,
            p90_days: l.p90_days,
        }
    }
}

/// What a `trends` question asks for, checked.
#[derive(Debug, Clone, Copy)]
struct Question {
    year: i32,
    scope: TrendScope,
    theme: Option<wijkpuls_domain::Theme>,
}

impl Question {
    /// Checks the arguments: the year within 2000–2100, well-formed codes, and a wijk within the
    /// gebied when both are given (all `BAD_USER_INPUT`). An unknown wijk or gebied is allowed
    /// here: a query answers all zero for it (like an empty list for a filter), a subscription
    /// refuses it ([`Question::must_exist`]).
    fn new(
        state: &CityState,
        year: i32,
        wijk: Option<&str>,
        gebied: Option<&str>,
        theme: Option<Theme>,
    ) -> ApiResult<Question> {
        let year = wijkpuls_domain::check_year(year)?;
        let wijk = wijk.map(WijkCode::parse).transpose()?;
        let gebied = gebied.map(GebiedCode::parse).transpose()?;
        let scope = match (wijk, gebied) {
            (Some(w), Some(g)) => {
                if let Some(view) = state.wijk(&w) {
                    if view.gebied != g {
                        return Err(ApiError::BadInput(format!(
                            "wijk {w} is not in gebied {g} (it is in {}); give one of them, or both consistent",
                            view.gebied
                        )));
                    }
                }
                TrendScope::Wijk(w)
            }
            (Some(w), None) => TrendScope::Wijk(w),
            (None, Some(g)) => TrendScope::Gebied(g),
            (None, None) => TrendScope::City,
        };
        Ok(Question {
            year,
            scope,
            theme: theme.map(Into::into),
        })
    }

    /// `NOT_FOUND` when the wijk or gebied asked for does not exist (for subscriptions).
    fn must_exist(self, state: &CityState) -> ApiResult<Question> {
        match self.scope {
            TrendScope::Wijk(w) if state.wijk(&w).is_none() => {
                Err(ApiError::NotFound(format!("wijk {w} was not found")))
            }
            TrendScope::Gebied(g) if state.gebied(&g).is_none() => {
                Err(ApiError::NotFound(format!("gebied {g} was not found")))
            }
            _ => Ok(self),
        }
    }

    fn answer(&self, state: &CityState) -> domain::YearTrends {
        state.trends(self.year, self.scope, self.theme)
    }
}

/// The `trends` query.
pub fn trends(
    ctx: &Context<'_>,
    year: i32,
    wijk: Option<ID>,
    gebied: Option<ID>,
    theme: Option<Theme>,
) -> ApiResult<Trends> {
    let state = app(ctx).live.read();
    let question = Question::new(
        &state,
        year,
        wijk.as_deref().map(String::as_str),
        gebied.as_deref().map(String::as_str),
        theme,
    )?;
    Ok(question.answer(&state).into())
}

/// The `trendsUpdated` subscription: the trends now, then again after every change that
/// changes them (a change elsewhere, or one outside the year, sends nothing).
pub fn trends_updated(
    ctx: &Context<'_>,
    year: i32,
    wijk: Option<ID>,
    gebied: Option<ID>,
    theme: Option<Theme>,
) -> ApiResult<impl Stream<Item = Trends>> {
    let app: Arc<AppState> = ctx.data_unchecked::<Arc<AppState>>().clone();
    let question = {
        let state = app.live.read();
        Question::new(
            &state,
            year,
            wijk.as_deref().map(String::as_str),
            gebied.as_deref().map(String::as_str),
            theme,
        )?
        .must_exist(&state)?
    };
    let mut last: Option<domain::YearTrends> = None;
    Ok(
        WatchStream::new(app.live.city_changes()).filter_map(move |_| {
            let now = question.answer(&app.live.read());
            let changed = last.as_ref() != Some(&now);
            let send = changed.then(|| {
                last = Some(now.clone());
                Trends::from(now)
            });
            futures::future::ready(send)
        }),
    )
}
