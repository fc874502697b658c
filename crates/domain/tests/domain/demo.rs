//! The demo year is legal step by step, realistic, covers every status and is deterministic.

use std::collections::HashSet;

use wijkpuls_domain::demo::{demo_year, DemoStep};
use wijkpuls_domain::{InitiativeStatus, Money, SealedInitiator, Theme};

use crate::support::{money, Log};

/// Runs the steps through `decide` and `apply` on a fresh Arnhem store.
fn run(steps: Vec<DemoStep>) -> Log {
    let mut log = Log::arnhem();
    for (n, step) in steps.into_iter().enumerate() {
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
        log.record(decision.events);
    }
    log
}

#[test]
fn a_demo_year_is_legal_and_lively() {
    let steps = demo_year(2026, 42).unwrap();
    let allocations: Vec<Money> = steps
        .iter()
        .filter_map(|s| match s {
            DemoStep::Allocate { amount, year, .. } => {
                assert_eq!(*year, 2026);
                Some(*amount)
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
fn other_seeds_and_years_are_legal_too() {
    for (year, seed) in [(2024, 1), (2025, 7), (2030, 0xDEAD_BEEF), (2100, u64::MAX)] {
        run(demo_year(year, seed).unwrap());
    }
}

#[test]
fn the_same_seed_gives_the_same_year() {
    assert_eq!(demo_year(2026, 42).unwrap(), demo_year(2026, 42).unwrap());
    assert_ne!(demo_year(2026, 42).unwrap(), demo_year(2026, 43).unwrap());
    assert_ne!(demo_year(2026, 42).unwrap(), demo_year(2027, 42).unwrap());
    assert!(demo_year(1999, 42).is_err());
}

#[test]
fn demo_ids_are_v7_and_in_submission_order() {
    let ids: Vec<_> = demo_year(2026, 5)
        .unwrap()
        .into_iter()
        .filter_map(|s| match s {
            DemoStep::Submit { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert!(ids.iter().all(|id| id.as_uuid().get_version_num() == 7));
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}
