//! `trends` on a large log: folds about 1,000,000 events of demo years (Arnhem, 2000–2025,
//! many seeds per year, every event dated when it happened) and times a city year's trends
//! against a baseline measured in the same run: the city's budget of the same year (what
//! `cityOverview { totals }` adds up). Also times a gebied's and a wijk's trends, and, to show
//! what the buckets save, counting the same year's months by scanning the log.
//!
//! Run with `cargo bench -p wijkpuls-domain --bench trends` (`TRENDS_EVENTS=200000` for a
//! smaller log). Prints the figures; the target is a city year under 100 ms.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use wijkpuls_domain::demo::{demo_year, DemoStep};
use wijkpuls_domain::projection::{local_month, TrendScope};
use wijkpuls_domain::{
    decide, BudgetLineKey, CityState, Command, DomainEvent, GebiedCode, Recorded, ReferenceData,
    SealedInitiator, WijkCode,
};

const FIRST_YEAR: i32 = 2000;
const LAST_YEAR: i32 = 2025;
/// The year the trends are asked for.
const YEAR: i32 = 2025;

/// Reference data, then demo years 2000–2025 over and over with new seeds until `target`
/// events, each recorded at the time the demo gives it. A later seed's allocation raises the
/// line by the demo's amount, so every seed's fundings fit.
fn large_log(target: usize) -> (Vec<Recorded>, CityState) {
    let mut state = CityState::new();
    let mut records: Vec<Recorded> = Vec::with_capacity(target + 10_000);
    let mut refused = 0usize;
    let first = NaiveDate::from_ymd_opt(FIRST_YEAR - 1, 12, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a date")
        .and_utc();
    let record =
        |state: &mut CityState, records: &mut Vec<Recorded>, command: Command, at| -> bool {
            match decide(state, command) {
                Ok(decision) => {
                    for event in decision.events {
                        let recorded = Recorded {
                            position: records.len() as u64 + 1,
                            recorded_at: at,
                            event,
                        };
                        state.apply(&recorded);
                        records.push(recorded);
                    }
                    true
                }
                Err(_) => false,
            }
        };
    record(
        &mut state,
        &mut records,
        Command::RegisterReferenceData(ReferenceData::arnhem()),
        first,
    );
    let mut seed = 0u64;
    'fill: loop {
        for year in FIRST_YEAR..=LAST_YEAR {
            let until = NaiveDate::from_ymd_opt(year + 1, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("a date")
                .and_utc();
            for dated in demo_year(year, seed, until).expect("a budget year") {
                let step = match dated.step {
                    DemoStep::Allocate {
                        wijk,
                        year,
                        theme,
                        amount,
                    } => {
                        let now = state
                            .budget_line(&BudgetLineKey { wijk, year, theme })
                            .allocated;
                        DemoStep::Allocate {
                            wijk,
                            year,
                            theme,
                            amount: now.saturating_add(amount),
                        }
                    }
                    other => other,
                };
                let command = step.into_command(|_, _, _| {
                    let sealed = SealedInitiator {
                        key_id: "01900000-0000-7000-8000-000000000000".to_owned(),
                        ciphertext: "A".repeat(120),
                    };
                    (sealed, "f".repeat(64))
                });
                if !record(&mut state, &mut records, command, dated.at) {
                    refused += 1;
                }
            }
            if records.len() >= target {
                break 'fill;
            }
        }
        seed += 1;
    }
    eprintln!(
        "log: {} events from {} seeds × {} years ({refused} demo steps refused and left out)",
        records.len(),
        seed + 1,
        LAST_YEAR - FIRST_YEAR + 1
    );
    (records, state)
}

/// The median and the slowest of `runs` timings of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[runs / 2], times[runs - 1])
}

/// What the buckets save: counting a year's submissions per month by scanning the log.
fn scan_counts(records: &[Recorded], year: i32) -> [u64; 12] {
    let mut months = [0u64; 12];
    for r in records {
        if let DomainEvent::InitiativeSubmitted(_) = r.event {
            let (y, m) = local_month(r.recorded_at);
            if y == year {
                months[m as usize - 1] += 1;
            }
        }
    }
    months
}

fn main() {
    let target = std::env::var("TRENDS_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (records, state) = large_log(target);

    let start = Instant::now();
    let folded = CityState::fold(black_box(&records));
    let fold = start.elapsed();
    assert_eq!(
        folded.trends(YEAR, TrendScope::City, None),
        state.trends(YEAR, TrendScope::City, None),
        "the fold of the log has the live state's trends"
    );
    drop(folded);
    // The fold's extra work per event for trends is mostly finding the event's month in
    // Arnhem's time: timed alone, as an upper bound of what the buckets add to a replay.
    let (months, _) = time(3, || {
        records
            .iter()
            .map(|r| u64::from(local_month(r.recorded_at).1))
            .sum::<u64>()
    });

    let city = state.trends(YEAR, TrendScope::City, None);
    let scanned = scan_counts(&records, YEAR);
    let bucketed: Vec<u64> = city.months.iter().map(|m| m.submitted).collect();
    assert_eq!(bucketed, scanned, "the buckets count what the log holds");

    const RUNS: usize = 200;
    let (baseline, baseline_max) = time(RUNS, || state.city_budget(YEAR));
    let (trends_city, trends_city_max) = time(RUNS, || state.trends(YEAR, TrendScope::City, None));
    let gebied = GebiedCode::parse("W2").expect("a gebied");
    let (trends_gebied, _) = time(RUNS, || {
        state.trends(YEAR, TrendScope::Gebied(gebied), None)
    });
    let wijk = WijkCode::parse("WK020207").expect("a wijk");
    let (trends_wijk, _) = time(RUNS, || state.trends(YEAR, TrendScope::Wijk(wijk), None));
    let (scan, _) = time(5, || scan_counts(&records, YEAR));

    let per = |d: Duration| format!("{:>9.1} µs", d.as_secs_f64() * 1e6);
    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    let lead = &city.lead_times;
    println!("events folded:                  {}", records.len());
    println!(
        "fold (replay) of the log:       {:>9.1} ms ({:.0} events/s)",
        fold.as_secs_f64() * 1e3,
        records.len() as f64 / fold.as_secs_f64()
    );
    println!(
        "  of which at most (Arnhem month of every event): {:>6.1} ms",
        months.as_secs_f64() * 1e3
    );
    println!(
        "initiatives {YEAR}: {} submitted; lead-time samples: {} first answers, {} funded, {} completed",
        bucketed.iter().sum::<u64>(),
        lead.to_first_answer.count,
        lead.to_funded.count,
        lead.to_completed.count
    );
    println!("median of {RUNS} runs (max):");
    println!(
        "  baseline city_budget({YEAR}):   {} (max {})   1.0×",
        per(baseline),
        per(baseline_max)
    );
    println!(
        "  trends city {YEAR}:             {} (max {})   {:.1}× baseline",
        per(trends_city),
        per(trends_city_max),
        ratio(trends_city)
    );
    println!(
        "  trends gebied W2 {YEAR}:        {}   {:.1}× baseline",
        per(trends_gebied),
        ratio(trends_gebied)
    );
    println!(
        "  trends wijk WK020207 {YEAR}:    {}   {:.1}× baseline",
        per(trends_wijk),
        ratio(trends_wijk)
    );
    println!(
        "  scan of the log (submissions only, median of 5): {}   {:.1}× baseline, {:.1}× trends city",
        per(scan),
        ratio(scan),
        scan.as_secs_f64() / trends_city.as_secs_f64()
    );
    let verdict = if trends_city_max < Duration::from_millis(100) {
        "within"
    } else {
        "OVER"
    };
    println!(
        "a city year's trends: max {} — {verdict} the 100 ms target",
        per(trends_city_max)
    );
}
