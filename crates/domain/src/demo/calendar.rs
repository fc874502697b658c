//! When the demo's steps happen: minutes from the start of the demo year (1 January, 00:00
//! UTC), never later than the moment the demo is made up to (`until`).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::rng::SplitMix64;

/// Minutes in a day.
pub(super) const DAY: i64 = 24 * 60;

/// The submission window of a year whose end the demo has seen: 10 January to early November,
/// so most lifecycles run their course.
const CLOSED_WINDOW_END: i64 = 310 * DAY;
/// The submission window of the current year: from 10 January up to `until`, at most to
/// mid-December.
const OPEN_WINDOW_END: i64 = 348 * DAY;
const WINDOW_START: i64 = 10 * DAY;

/// The demo year's calendar.
#[derive(Debug, Clone, Copy)]
pub(super) struct Calendar {
    start: DateTime<Utc>,
    /// `until`, in minutes from `start` (negative if the year has not begun).
    until: i64,
    /// The year is over at `until`: its initiatives mostly reached an end.
    pub(super) closed: bool,
}

impl Calendar {
    /// The calendar of `year` (a checked budget year) as seen at `until`.
    pub(super) fn new(year: i32, until: DateTime<Utc>) -> Calendar {
        let start = NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("a budget year has a first of January")
            .and_utc();
        let next = NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("a budget year has a next year")
            .and_utc();
        Calendar {
            start,
            until: (until - start).num_minutes(),
            closed: until >= next,
        }
    }

    /// The moment of `minute`.
    pub(super) fn time(&self, minute: i64) -> DateTime<Utc> {
        self.start + Duration::minutes(minute)
    }

    /// Whether a step at `minute` has happened by `until`.
    pub(super) fn has_happened(&self, minute: i64) -> bool {
        minute <= self.until
    }

    /// Allocation `n` of `count`: spread over 2–9 January during office hours (or at `until`,
    /// if that is earlier: a budget is set before anything is asked of it).
    pub(super) fn allocation(&self, n: usize, count: usize) -> i64 {
        let day = 1 + (n * 7 / count.max(1)) as i64;
        let minute = day * DAY + 9 * 60 + (n % 40) as i64 * 10;
        minute.min(self.until)
    }

    /// Submission `i` of `count`: evenly over the submission window with a random moment in its
    /// slot, so submissions follow `i`. A young year squeezes them into the days it has had.
    pub(super) fn submission(&self, i: u64, count: u64, rng: &mut SplitMix64) -> i64 {
        let end = if self.closed {
            CLOSED_WINDOW_END
        } else {
            OPEN_WINDOW_END.min(self.until)
        };
        let start = WINDOW_START.min(end);
        let slot = ((end - start) / count.max(1) as i64).max(1);
        let jitter = (rng.next_u64() % slot as u64) as i64;
        (start + i as i64 * slot + jitter).min(self.until)
    }

    /// The minute an id's timestamp uses for submission `i` of `count`: the same however far
    /// the year has gone, so an initiative keeps its id between two instances loading the demo
    /// at different moments.
    pub(super) fn id_minute(i: u64, count: u64) -> i64 {
        WINDOW_START + i as i64 * (CLOSED_WINDOW_END - WINDOW_START) / count.max(1) as i64
    }

    /// The start of the year in Unix milliseconds (0 before 1970).
    pub(super) fn start_millis(&self) -> u64 {
        self.start.timestamp_millis().max(0) as u64
    }
}

/// The minute of a staff member's next step on an initiative, `low` to `high` days (at least
/// one) after `from`, most often near the middle (the mean of two draws), during office hours
/// (08:00–17:00 UTC).
pub(super) fn after(rng: &mut SplitMix64, from: i64, low: u64, high: u64) -> i64 {
    let days = ((rng.between(low, high) + rng.between(low, high)) / 2).max(1);
    (from.div_euclid(DAY) + days as i64) * DAY + rng.between(8 * 60, 17 * 60) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_young_year_keeps_everything_before_until_and_in_order() {
        let until = at("2026-01-03T10:00:00Z");
        let calendar = Calendar::new(2026, until);
        assert!(!calendar.closed);
        let mut rng = SplitMix64::new(1);
        let minutes: Vec<i64> = (0..300)
            .map(|i| calendar.submission(i, 300, &mut rng))
            .collect();
        assert!(minutes.windows(2).all(|w| w[0] <= w[1]));
        assert!(minutes.iter().all(|&m| calendar.time(m) <= until));
        assert!(calendar.time(calendar.allocation(191, 192)) <= until);
    }

    #[test]
    fn a_next_step_is_later_on_another_day_during_office_hours() {
        let mut rng = SplitMix64::new(3);
        for from in [0, 17 * 60 + 59, 5 * DAY + 23 * 60, -30] {
            let next = after(&mut rng, from, 1, 3);
            assert!(next > from && next.div_euclid(DAY) > from.div_euclid(DAY));
            assert!((8 * 60..=17 * 60).contains(&next.rem_euclid(DAY)), "{next}");
        }
    }

    #[test]
    fn a_past_year_is_closed_and_its_window_ends_in_autumn() {
        let calendar = Calendar::new(2024, at("2026-11-29T03:00:00Z"));
        assert!(calendar.closed);
        let mut rng = SplitMix64::new(2);
        let last = calendar.submission(299, 300, &mut rng);
        assert_eq!(calendar.time(last).format("%Y").to_string(), "2024");
        assert!(last <= CLOSED_WINDOW_END);
    }
}
