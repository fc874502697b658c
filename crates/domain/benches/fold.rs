//! Folding the log into every read model: the work a server does at start-up (replay) and for
//! each event it tails. The log is a realistic mix: Arnhem's reference data, then demo years
//! (allocations for all 24 × 8 budget lines, a few hundred initiatives per year moving through
//! every status).
//!
//! Run with `cargo bench -p wijkpuls-domain --bench fold`; the target is at least 1,000,000
//! events per second on one core.

use chrono::{Duration, TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use wijkpuls_domain::demo::demo_year;
use wijkpuls_domain::similar::{Profile, SimilarIndex};
use wijkpuls_domain::{
    decide, CityState, Command, Description, Recorded, ReferenceData, SealedInitiator, Title,
};

/// The log of Arnhem's reference data and `years` demo years, made through `decide`.
fn realistic_log(years: i32) -> Vec<Recorded> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut state = CityState::new();
    let mut records = Vec::new();
    let mut record = |state: &mut CityState, command: Command| {
        let decision = decide(state, command).expect("demo steps are legal");
        for event in decision.events {
            let position = records.len() as u64 + 1;
            let recorded = Recorded {
                position,
                recorded_at: start + Duration::seconds(position as i64),
                event,
            };
            state.apply(&recorded);
            records.push(recorded);
        }
    };
    record(
        &mut state,
        Command::RegisterReferenceData(ReferenceData::arnhem()),
    );
    for year in 2026..2026 + years {
        // The whole year, as it stands once it is over.
        let until = chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .expect("a valid date")
            .and_utc();
        for dated in demo_year(year, year as u64, until).expect("a valid year") {
            let command = dated.step.into_command(|name, _, _| {
                // Sized like the api's sealed data: a key id, and base64 of name, e-mail, phone.
                let ciphertext = "A".repeat(4 * (name.as_str().len() + 60) / 3 + 40);
                let key_id = "01900000-0000-7000-8000-000000000000".to_owned();
                (SealedInitiator { key_id, ciphertext }, "f".repeat(64))
            });
            record(&mut state, command);
        }
    }
    records
}

fn fold(c: &mut Criterion) {
    let log = realistic_log(40);
    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(log.len() as u64));
    // A replay keeps the state it builds: dropping it is not timed here...
    group.bench_function(format!("replay/{}_events", log.len()), |b| {
        b.iter_with_large_drop(|| CityState::fold(black_box(&log)))
    });
    // ...and is here, for comparison.
    group.bench_function(format!("replay_and_drop/{}_events", log.len()), |b| {
        b.iter(|| CityState::fold(black_box(&log)))
    });
    // What the live state also builds at start-up: the index of similar initiatives.
    group.bench_function(
        format!("replay_with_similar_index/{}_events", log.len()),
        |b| {
            b.iter_with_large_drop(|| {
                let mut state = CityState::new();
                let mut similar = SimilarIndex::new();
                for recorded in black_box(&log) {
                    state.apply(recorded);
                    similar.apply(recorded);
                }
                (state, similar)
            })
        },
    );
    group.finish();
}

/// One query against the index of every initiative of the log, as `similarInitiatives` asks it.
fn similar(c: &mut Criterion) {
    let log = realistic_log(40);
    let mut index = SimilarIndex::new();
    for recorded in &log {
        index.apply(recorded);
    }
    let query = Profile::of(
        &Title::parse("Speeltuin opknappen").unwrap(),
        &Description::parse("De glijbaan is kapot en de schommels roesten.").unwrap(),
    );
    c.bench_function(
        format!("similar/{}_initiatives", index.len()).as_str(),
        |b| b.iter(|| index.similar(black_box(&query), 5, |_| true)),
    );
}

criterion_group!(benches, fold, similar);
criterion_main!(benches);
