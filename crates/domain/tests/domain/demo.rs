//! The demo year is legal step by step, realistic, covers every status, spans time and is
//! deterministic.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use wijkpuls_domain::demo::{demo_year, DatedStep, DemoStep};
use wijkpuls_domain::{InitiativeId, InitiativeStatus, Money, SealedInitiator, Theme};

use crate::support::{money, Log};

/// The moment the tests make their demo years up to.
fn until() -> DateTime<Utc> {
    at("2026-11-29T03:00:00Z")
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Runs the steps through `decide` and `apply` on a fresh Arnhem store, each recorded as
/// having occurred at its time.
fn run(steps: Vec<DatedStep>) -> Log {
    let mut log = Log::arnhem();
    for (n, DatedStep { at, step }) in steps.into_iter().enumerate() {
        let command = step.into_command(|name, email, phone| {
            assert!(!name.as_str().is_empty() && email.as_str().contains('@'));
            assert!(!phone.as_str().is_empty());
            (
                SealedInitiator {
                    key_id: format!("demo-{n}"),
                    ciphertext: "sealed".to_owned(),
                },
                format!("{n:x}"),
            )
        });
        let decision = log
            .decide(command.clone())
            .unwrap_or_else(|err| panic!("step {n}: {command:?} was refused: {err}"));
        assert!(!decision.events.is_empty());
        log.record_dated(decision.events, Some(at));
    }
    log
}

/// The id of the initiative a step is about (`None` for an allocation).
fn initiative_of(step: &DemoStep) -> Option<InitiativeId> {
    match step {
        DemoStep::Allocate { .. } => None,
        DemoStep::Submit { id, .. }
        | DemoStep::Connect { id, .. }
        | DemoStep::Fund { id, .. }
        | DemoStep::Complete { id, .. }
        | DemoStep::Reject { id, .. }
        | DemoStep::Refer { id, .. }
        | DemoStep::Withdraw { id, .. } => Some(*id),
    }
}

/// Each initiative's own steps (kind and time), in the order given.
fn lives(steps: &[DatedStep]) -> HashMap<InitiativeId, Vec<(String, DateTime<Utc>)>> {
    let mut lives: HashMap<_, Vec<_>> = HashMap::new();
    for dated in steps {
        if let Some(id) = initiative_of(&dated.step) {
            let kind = dated.step.key().split('-').next().unwrap().to_owned();
            lives.entry(id).or_default().push((kind, dated.at));
        }
    }
    lives
}

#[test]
fn a_demo_year_is_legal_and_lively() {
    let steps = demo_year(2026, 42, until()).unwrap();
    let allocations: Vec<Money> = steps
        .iter()
        .filter_map(|s| match s.step {
            DemoStep::Allocate { amount, year, .. } => {
                assert_eq!(year, 2026);
                Some(amount)
            }
            _ => None,
        })
        .collect();
    assert_eq!(allocations.len(), 24 * Theme::ALL.len());
    assert!(allocations
        .iter()
        .all(|a| (money("2000.00")..=money("40000.99")).contains(a)));
    assert!(
        allocations.iter().any(|a| a.cents() % 100 != 0),
        "exact cents, not only round euros"
    );

    let log = run(steps);
    let state = &log.state;
    let count = state.initiatives().count();
    assert!((280..=360).contains(&count), "{count} initiatives");
    let statuses: HashSet<InitiativeStatus> = state.initiatives().map(|v| v.status).collect();
    assert_eq!(statuses.len(), InitiativeStatus::ALL.len(), "{statuses:?}");
    for view in state.initiatives() {
        let euros = view.requested_amount.cents() / 100;
        assert!((150..=25_000).contains(&euros), "{}", view.requested_amount);
    }
    assert!(state.initiatives().any(|v| v.connections.len() > 1));
    assert!(
        state.wijken().all(|w| w.counts.total() > 0),
        "every wijk has initiatives"
    );
    let city = state.city_budget(2026);
    assert!(city.totals.committed > Money::ZERO && city.totals.spent > Money::ZERO);
    assert!(city.totals.allocated > money("200000.00"));
}

#[test]
fn a_year_is_dated_in_order_and_never_after_until() {
    for (year, until) in [
        (2026, until()),
        (2025, until()),
        // A young year: everything squeezed into its first days, still in order.
        (2026, at("2026-01-03T10:00:00Z")),
        (2026, at("2026-01-01T00:30:00Z")),
    ] {
        let steps = demo_year(year, 7, until).unwrap();
        assert!(steps.iter().all(|s| s.at <= until), "{year} at {until}");
        assert!(
            steps.windows(2).all(|w| w[0].at <= w[1].at),
            "{year} at {until}: steps in time order"
        );
        let allocations = steps
            .iter()
            .filter(|s| matches!(s.step, DemoStep::Allocate { .. }))
            .count();
        assert_eq!(allocations, 24 * Theme::ALL.len(), "{year} at {until}");
        for (id, life) in lives(&steps) {
            assert_eq!(life[0].0, "submit", "{id} starts with its submission");
            assert!(
                life.windows(2).all(|w| w[0].1 < w[1].1),
                "{id}: its steps in strictly increasing time: {life:?}"
            );
        }
        run(steps);
    }
}

#[test]
fn a_past_year_spans_the_year_with_realistic_lead_times_and_mostly_closes() {
    let steps = demo_year(2025, 42, until()).unwrap();
    let allocated: Vec<DateTime<Utc>> = steps
        .iter()
        .filter(|s| matches!(s.step, DemoStep::Allocate { .. }))
        .map(|s| s.at)
        .collect();
    assert!(allocated.iter().all(|t| t.year() == 2025 && t.month() == 1));

    let lives = lives(&steps);
    let months: HashSet<u32> = lives
        .values()
        .map(|life| life[0].1)
        .inspect(|t| assert_eq!(t.year(), 2025))
        .map(|t| t.month())
        .collect();
    assert!(months.len() >= 9, "submitted in months {months:?}");

    let mut funding_days = HashSet::new();
    let mut completion_days = HashSet::new();
    for life in lives.values() {
        let time_of = |kind: &str| life.iter().find(|(k, _)| k == kind).map(|(_, t)| *t);
        let submitted = time_of("submit").unwrap();
        if let Some(connected) = time_of("connect") {
            // Counted in calendar days, answered during office hours.
            assert!(connected - submitted >= Duration::days(1), "{life:?}");
        }
        if let Some(funded) = time_of("fund") {
            assert!(funded - submitted >= Duration::days(6), "{life:?}");
            funding_days.insert((funded - submitted).num_days());
            if let Some(completed) = time_of("complete") {
                assert!(completed - funded >= Duration::days(44), "{life:?}");
                completion_days.insert((completed - funded).num_days());
            }
        }
    }
    assert!(
        funding_days.len() >= 20,
        "lead times vary: {funding_days:?}"
    );
    assert!(completion_days.len() >= 40, "{completion_days:?}");

    let log = run(steps);
    let views: Vec<_> = log.state.initiatives().collect();
    let ended = views.iter().filter(|v| v.status.is_terminal()).count();
    assert!(
        ended * 100 >= views.len() * 75,
        "{ended} of {} initiatives of a past year reached an end",
        views.len()
    );
}

#[test]
fn the_projections_show_the_time_the_steps_happened() {
    let steps = demo_year(2025, 3, until()).unwrap();
    let lives = lives(&steps);
    let log = run(steps);
    let mut months = HashSet::new();
    for view in log.state.initiatives() {
        let life = &lives[&view.id];
        assert_eq!(view.submitted_at, life[0].1);
        months.insert(view.submitted_at.month());
        assert!(view.updated_at >= life.last().unwrap().1);
        assert!(
            log.history(view).windows(2).all(|w| w[0].at <= w[1].at),
            "{}: history in time order",
            view.id
        );
    }
    assert!(months.len() >= 6, "{months:?}");
}

#[test]
fn other_seeds_and_years_are_legal_too() {
    for (year, seed) in [(2024, 1), (2025, 7), (2026, 0xDEAD_BEEF), (2026, u64::MAX)] {
        run(demo_year(year, seed, until()).unwrap());
    }
    // Years far from `until` are legal too.
    run(demo_year(2100, 5, at("2100-07-01T00:00:00Z")).unwrap());
    run(demo_year(2030, 5, at("2099-01-01T00:00:00Z")).unwrap());
}

#[test]
fn the_same_seed_gives_the_same_year() {
    let year = |year, seed| demo_year(year, seed, until()).unwrap();
    assert_eq!(year(2026, 42), year(2026, 42));
    assert_ne!(year(2026, 42), year(2026, 43));
    assert_ne!(year(2025, 42), year(2024, 42));
    assert!(demo_year(1999, 42, until()).is_err());
}

#[test]
fn a_later_until_gives_the_same_steps_and_more() {
    let earlier = demo_year(2026, 9, at("2026-06-01T12:00:00Z")).unwrap();
    let later = demo_year(2026, 9, at("2026-06-02T12:00:00Z")).unwrap();
    let by_key: HashMap<String, &DemoStep> =
        later.iter().map(|s| (s.step.key(), &s.step)).collect();
    assert_eq!(by_key.len(), later.len(), "keys are unique");
    assert!(later.len() > earlier.len());
    for dated in &earlier {
        assert_eq!(by_key.get(&dated.step.key()), Some(&&dated.step));
    }
}

#[test]
fn demo_ids_are_v7_and_in_submission_order() {
    let ids: Vec<_> = demo_year(2026, 5, until())
        .unwrap()
        .into_iter()
        .filter_map(|s| match s.step {
            DemoStep::Submit { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert!(ids.iter().all(|id| id.as_uuid().get_version_num() == 7));
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

/// The places of every moment, folded on their own from the final state's history steps
/// (`Places::apply_past`, what time travel does), are the places of the whole fold at that
/// moment; so is every initiative's view folded again from its own history
/// (`InitiativeView::as_at`). After every event of two demo years, and of events the fold skips
/// or that touch one initiative twice.
#[test]
fn a_past_moment_folds_alone_as_in_the_whole_fold() {
    use wijkpuls_domain::events::InitiativeConnected;
    use wijkpuls_domain::{ConnectionTarget, DomainEvent, Places};

    let mut steps = demo_year(2025, 3, until()).unwrap();
    steps.extend(demo_year(2026, 11, until()).unwrap());
    steps.sort_by_key(|s| s.at);
    let mut log = run(steps);
    let submitted = log
        .records
        .iter()
        .find(|r| matches!(r.event, DomainEvent::InitiativeSubmitted(_)))
        .unwrap()
        .event
        .clone();
    let connected = log
        .records
        .iter()
        .find_map(|r| match &r.event {
            DomainEvent::InitiativeConnected(e) => Some(e.clone()),
            _ => None,
        })
        .unwrap();
    let unknown = InitiativeId::parse("0190f0f0-0000-7000-8000-000000000042").unwrap();
    let funded_unknown = log
        .records
        .iter()
        .find_map(|r| match &r.event {
            DomainEvent::InitiativeFunded(e) => Some(DomainEvent::InitiativeFunded(
                wijkpuls_domain::events::InitiativeFunded {
                    id: unknown,
                    ..e.clone()
                },
            )),
            _ => None,
        })
        .unwrap();
    log.record([
        // Submitted again: skipped.
        submitted,
        // About an unknown initiative, or connecting to one: skipped.
        funded_unknown,
        DomainEvent::InitiativeConnected(InitiativeConnected {
            target: ConnectionTarget::Initiative(unknown),
            ..connected.clone()
        }),
        // Connected to itself: two steps on one initiative at one position.
        DomainEvent::InitiativeConnected(InitiativeConnected {
            target: ConnectionTarget::Initiative(connected.id),
            ..connected
        }),
    ]);
    let later = &log.state;
    let mut state = wijkpuls_domain::CityState::new();
    let mut places = Places::default();
    let own_events = |id: &InitiativeId| -> Vec<&wijkpuls_domain::Recorded> {
        let view = later.initiative(id).unwrap();
        view.history_positions()
            .map(|p| &log.records[p as usize - 1])
            .collect()
    };
    let (mut views_checked, mut incoming) = (0, 0);
    for record in &log.records {
        let mut about: Vec<InitiativeId> = record.event.initiative_id().into_iter().collect();
        if let DomainEvent::InitiativeConnected(e) = &record.event {
            if let ConnectionTarget::Initiative(target) = &e.target {
                about.push(*target);
                incoming += 1;
            }
        }
        for id in &about {
            if state.initiative(id).is_none() && later.initiative(id).is_some() {
                // Before its submission there is none.
                let events = own_events(id);
                assert_eq!(
                    later
                        .initiative(id)
                        .unwrap()
                        .as_at(record.position - 1, &events),
                    None
                );
            }
        }
        state.apply(record);
        places.apply_past(record, later);
        assert_eq!(
            &places,
            state.places(),
            "after position {}",
            record.position
        );
        for id in &about {
            let Some(now) = later.initiative(id) else {
                continue;
            };
            let past = now.as_at(record.position, &own_events(id));
            assert_eq!(
                past.as_ref(),
                state.initiative(id),
                "{id} after {}",
                record.position
            );
            views_checked += 1;
        }
    }
    assert!(
        places.city_counts().total() > 100,
        "{:?}",
        places.city_counts()
    );
    assert!(
        views_checked > 500 && incoming > 10,
        "{views_checked} {incoming}"
    );
}
