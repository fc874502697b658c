//! Trends and lead times kept by the fold: per-month counts and amounts and lead-time samples,
//! on a log with back-dated events whose answers are worked out by hand below.

use chrono::{DateTime, Utc};
use wijkpuls_domain::projection::{TrendScope, YearTrends};
use wijkpuls_domain::text::{Note, PartyName, Reason, Report, SociaalWijkteam};
use wijkpuls_domain::{
    CityState, Command, ConnectionTarget, GebiedCode, PartyKind, Theme, WithdrawnBy,
};

use crate::support::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

impl Log {
    fn at(&mut self, time: &str, command: Command) {
        let decision = self
            .decide(command.clone())
            .unwrap_or_else(|err| panic!("{command:?} was refused: {err}"));
        self.record_dated(decision.events, Some(at(time)));
    }
}

fn allocate(wijk: &str, theme: Theme, amount: &str) -> Command {
    Command::AllocateBudget {
        wijk: self::wijk(wijk),
        year: 2026,
        theme,
        amount: money(amount),
    }
}

fn fund(n: u128, amount: &str) -> Command {
    Command::Fund {
        id: id(n),
        year: 2026,
        amount: money(amount),
    }
}

const KLARENDAL: &str = "WK020207";
const SONSBEEK: &str = "WK020206";
const CENTRUM: &str = "WK020201";

/// The story (UTC times; Arnhem is UTC+1 in winter, UTC+2 from 29 March to 25 October 2026):
/// 1. Klarendal groen 2026 gets € 10.000 in December 2025, sport € 5.000 in January.
/// 2. #1 (Klarendal, groen) submitted 5 Jan, connected 9 Jan (first answer: 4 days), funded
///    € 1.000 on 5 Feb (31 days after submission), completed 31 May 22:30 UTC — 1 June in
///    Arnhem — with € 800 spent (115 days 12.5 hours after funding).
/// 3. #2 (Klarendal, groen) submitted 20 Jan, rejected 31 Mar (first answer: 70 days).
/// 4. #3 (Centrum, sport) submitted 3 Feb, referred 13 Feb (first answer: 10 days).
/// 5. #4 (Klarendal, groen) submitted 1 Mar, funded € 200 on 3 Mar (2 days, its first answer),
///    withdrawn 10 Apr: the € 200 returns.
/// 6. #5 (Sonsbeek, groen) submitted 31 Dec 23:30 UTC: 1 January 2027 in Arnhem.
fn story() -> Log {
    let mut log = Log::arnhem();
    let k = wijk(KLARENDAL);
    log.at(
        "2025-12-15T09:00:00Z",
        allocate(KLARENDAL, Theme::Groen, "10000"),
    );
    log.at(
        "2026-01-10T09:00:00Z",
        allocate(KLARENDAL, Theme::Sport, "5000"),
    );
    log.at("2026-01-05T10:00:00Z", submit(1, k, Theme::Groen, "1000"));
    log.at(
        "2026-01-09T10:00:00Z",
        Command::Connect {
            id: id(1),
            target: ConnectionTarget::Party {
                name: PartyName::parse("Wijkraad Klarendal").unwrap(),
                kind: PartyKind::Organisation,
            },
            note: Note::parse("Samen sterker.").unwrap().into(),
        },
    );
    log.at("2026-01-20T10:00:00Z", submit(2, k, Theme::Groen, "500"));
    log.at(
        "2026-02-03T10:00:00Z",
        submit(3, wijk(CENTRUM), Theme::Sport, "300"),
    );
    log.at("2026-02-05T10:00:00Z", fund(1, "1000"));
    log.at(
        "2026-02-13T10:00:00Z",
        Command::Refer {
            id: id(3),
            sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Centrum").unwrap(),
            note: None,
        },
    );
    log.at("2026-03-01T10:00:00Z", submit(4, k, Theme::Groen, "200"));
    log.at("2026-03-03T10:00:00Z", fund(4, "200"));
    log.at(
        "2026-03-31T10:00:00Z",
        Command::Reject {
            id: id(2),
            reason: Reason::parse("Valt onder regulier onderhoud.").unwrap(),
        },
    );
    log.at(
        "2026-04-10T10:00:00Z",
        Command::Withdraw {
            id: id(4),
            by: WithdrawnBy::Staff,
            reason: None,
        },
    );
    log.at(
        "2026-05-31T22:30:00Z",
        Command::Complete {
            id: id(1),
            spent: money("800"),
            report: Report::parse("Uitgevoerd.").unwrap(),
        },
    );
    log.at(
        "2026-12-31T23:30:00Z",
        submit(5, wijk(SONSBEEK), Theme::Groen, "100"),
    );
    log
}

/// A month's figures: counts (submitted, funded, completed, rejected, referred, withdrawn) and
/// amounts in euros (allocated, committed, spent, remaining at the end).
fn month(trends: &YearTrends, m: usize) -> ([u64; 6], [i64; 4]) {
    let t = &trends.months[m - 1];
    assert_eq!(t.month as usize, m);
    (
        [
            t.submitted,
            t.funded,
            t.completed,
            t.rejected,
            t.referred,
            t.withdrawn,
        ],
        [t.allocated, t.committed, t.spent, t.remaining_at_end].map(|c| c / 100),
    )
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a lead time");
    assert!(
        (actual - expected).abs() < 1e-6,
        "{actual} is not {expected}"
    );
}

#[test]
fn a_years_months_hold_the_events_dated_in_them_in_arnhem_time() {
    let log = story();
    let city = log.state.trends(2026, TrendScope::City, None);
    assert_eq!(city.year, 2026);
    assert_eq!(city.months.len(), 12);
    assert_eq!(month(&city, 1), ([2, 0, 0, 0, 0, 0], [5000, 0, 0, 15000]));
    assert_eq!(month(&city, 2), ([1, 1, 0, 0, 1, 0], [0, 1000, 0, 14000]));
    assert_eq!(month(&city, 3), ([1, 1, 0, 1, 0, 0], [0, 200, 0, 13800]));
    assert_eq!(month(&city, 4), ([0, 0, 0, 0, 0, 1], [0, -200, 0, 14000]));
    assert_eq!(month(&city, 5), ([0; 6], [0, 0, 0, 14000]));
    assert_eq!(month(&city, 6), ([0, 0, 1, 0, 0, 0], [0, -200, 800, 14200]));
    for m in 7..=12 {
        assert_eq!(month(&city, m), ([0; 6], [0, 0, 0, 14200]), "month {m}");
    }
    // December's remaining is the year's budget remaining, as the budget rolls it up.
    let budget = log.state.city_budget(2026);
    assert_eq!(
        city.months[11].remaining_at_end,
        budget.totals.remaining().cents()
    );
    // Submitted at 23:30 UTC on New Year's Eve is 2027 in Arnhem.
    let next = log.state.trends(2027, TrendScope::City, None);
    assert_eq!(month(&next, 1).0, [1, 0, 0, 0, 0, 0]);
}

#[test]
fn the_months_add_up_to_the_status_counts() {
    let log = story();
    let years: Vec<YearTrends> = [2025, 2026, 2027]
        .map(|y| log.state.trends(y, TrendScope::City, None))
        .into();
    let total = |f: fn(&wijkpuls_domain::projection::MonthTrend) -> u64| -> u64 {
        years.iter().flat_map(|y| &y.months).map(f).sum()
    };
    let counts = log.state.city_counts();
    use wijkpuls_domain::InitiativeStatus as S;
    assert_eq!(total(|m| m.submitted), counts.total());
    assert_eq!(total(|m| m.rejected), counts.get(S::Rejected));
    assert_eq!(total(|m| m.referred), counts.get(S::Referred));
    assert_eq!(total(|m| m.withdrawn), counts.get(S::Withdrawn));
    assert_eq!(total(|m| m.completed), counts.get(S::Completed));
    // Every funding counts, also of one withdrawn later (#4); #1 went on to completed.
    assert_eq!(
        total(|m| m.funded),
        counts.get(S::Funded) + counts.get(S::Completed) + 1
    );
}

#[test]
fn lead_times_are_counted_with_median_and_p90_by_linear_interpolation() {
    let log = story();
    let lead = log.state.trends(2026, TrendScope::City, None).lead_times;
    // First answers: 2, 4, 10 and 70 days. Median (4 + 10) / 2 = 7; p90 at rank 0.9 × 3 = 2.7:
    // 10 + 0.7 × (70 − 10) = 52.
    assert_eq!(lead.to_first_answer.count, 4);
    close(lead.to_first_answer.median_days, 7.0);
    close(lead.to_first_answer.p90_days, 52.0);
    // Funded: 2 and 31 days. Median 16.5; p90 at rank 0.9: 2 + 0.9 × 29 = 28.1.
    assert_eq!(lead.to_funded.count, 2);
    close(lead.to_funded.median_days, 16.5);
    close(lead.to_funded.p90_days, 28.1);
    // Completed: 5 Feb 10:00 to 31 May 22:30 UTC is 115 days and 12.5 hours.
    let completed = 115.0 + 12.5 / 24.0;
    assert_eq!(lead.to_completed.count, 1);
    close(lead.to_completed.median_days, completed);
    close(lead.to_completed.p90_days, completed);
    // Nothing ended in 2025: no lead times, and no median or p90 to give.
    let none = log.state.trends(2025, TrendScope::City, None).lead_times;
    assert_eq!(none.to_first_answer.count, 0);
    assert_eq!(none.to_first_answer.median_days, None);
    assert_eq!(none.to_completed.p90_days, None);
}

#[test]
fn wijk_gebied_and_theme_select_their_buckets() {
    let log = story();
    let centrum = log
        .state
        .trends(2026, TrendScope::Wijk(wijk(CENTRUM)), None);
    assert_eq!(month(&centrum, 2), ([1, 0, 0, 0, 1, 0], [0, 0, 0, 0]));
    assert_eq!(centrum.lead_times.to_first_answer.count, 1);
    close(centrum.lead_times.to_first_answer.median_days, 10.0);

    let noordwest = log.state.trends(
        2026,
        TrendScope::Gebied(GebiedCode::parse("W2").unwrap()),
        None,
    );
    assert_eq!(
        month(&noordwest, 2),
        ([0, 1, 0, 0, 0, 0], [0, 1000, 0, 14000])
    );
    assert_eq!(noordwest.lead_times.to_first_answer.count, 3);

    let sport = log.state.trends(2026, TrendScope::City, Some(Theme::Sport));
    assert_eq!(month(&sport, 1), ([0; 6], [5000, 0, 0, 5000]));
    assert_eq!(month(&sport, 2), ([1, 0, 0, 0, 1, 0], [0, 0, 0, 5000]));
    let groen_klarendal =
        log.state
            .trends(2026, TrendScope::Wijk(wijk(KLARENDAL)), Some(Theme::Groen));
    assert_eq!(
        month(&groen_klarendal, 1),
        ([2, 0, 0, 0, 0, 0], [0, 0, 0, 10000])
    );
    assert_eq!(month(&groen_klarendal, 12).1, [0, 0, 0, 9200]);

    // An unknown wijk has no trends: all zero.
    let unknown = log
        .state
        .trends(2026, TrendScope::Wijk(wijk("WK999999")), None);
    assert!(unknown
        .months
        .iter()
        .all(|m| m.submitted == 0 && m.remaining_at_end == 0));
}

#[test]
fn the_fold_of_the_log_has_the_same_trends_as_the_live_state() {
    let log = story();
    let refolded = CityState::fold(&log.records);
    for year in [2026, 2027] {
        assert_eq!(
            refolded.trends(year, TrendScope::City, None),
            log.state.trends(year, TrendScope::City, None)
        );
    }
    // Folding up to the rejection shows the state then: #2 rejected, #1 not yet completed.
    let rejected = log
        .records
        .iter()
        .position(|r| r.event.event_type() == "InitiativeRejected")
        .unwrap();
    let then = CityState::fold(&log.records[..=rejected]).trends(2026, TrendScope::City, None);
    assert_eq!(then.months[2].rejected, 1);
    assert_eq!(then.months[5].completed, 0);
}
