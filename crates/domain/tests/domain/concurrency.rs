//! Decisions made at the same time on several servers: the event store's consistency condition
//! (as [`Decision`] states it) keeps every budget line from being overspent, while fundings of
//! different lines never conflict. The store is modelled here by its one rule: an append fails
//! if an event carrying one of the decision's tags was appended after the decision's position.

use proptest::prelude::*;
use wijkpuls_domain::{
    BudgetLineKey, CityState, Command, Decision, DomainError, Report, Theme, WithdrawnBy,
};

use crate::support::{id, klarendal, line, money, submit, wijk, Log};

#[derive(Debug, PartialEq)]
struct Conflict;

/// Appends `decision` if nothing it read changed after its position.
fn append(log: &mut Log, decision: &Decision) -> Result<(), Conflict> {
    let changed = log
        .records
        .iter()
        .filter(|r| r.position > decision.position)
        .any(|r| {
            r.event
                .tags()
                .iter()
                .any(|tag| decision.consistency_tags.contains(tag))
        });
    if changed {
        return Err(Conflict);
    }
    log.record(decision.events.clone());
    Ok(())
}

fn schuytgraaf() -> wijkpuls_domain::WijkCode {
    wijk("WK020224")
}

fn lines() -> [BudgetLineKey; 2] {
    [
        line(klarendal(), 2026, Theme::Groen),
        line(schuytgraaf(), 2026, Theme::Groen),
    ]
}

/// Arnhem with 1000.00 on both groen lines, and initiatives 1–2 in Klarendal, 3–4 in
/// Schuytgraaf.
fn setting() -> Log {
    let mut log = Log::arnhem();
    for key in lines() {
        log.execute(Command::AllocateBudget {
            wijk: key.wijk,
            year: 2026,
            theme: Theme::Groen,
            amount: money("1000.00"),
        });
    }
    for n in 1..=4 {
        let wijk = if n <= 2 { klarendal() } else { schuytgraaf() };
        log.execute(submit(n, wijk, Theme::Groen, "700.00"));
    }
    log
}

fn fund(n: u128, amount: &str) -> Command {
    Command::Fund {
        id: id(n),
        year: 2026,
        amount: money(amount),
    }
}

#[test]
fn two_fundings_of_one_line_at_once_commit_once() {
    let mut log = setting();
    let stale = log.state.clone();
    let a = wijkpuls_domain::decide(&stale, fund(1, "700.00")).unwrap();
    let b = wijkpuls_domain::decide(&stale, fund(2, "700.00")).unwrap();

    // Each fits on its own; both would overspend the line (a store ignoring the condition).
    let mut careless = log.clone();
    careless.record(a.events.clone());
    careless.record(b.events.clone());
    let line = careless.state.budget_line(&lines()[0]);
    assert!(line.committed > line.allocated);

    assert_eq!(append(&mut log, &a), Ok(()));
    assert_eq!(append(&mut log, &b), Err(Conflict));
    // Decided again on fresh state, the second is refused with what is left.
    assert_eq!(
        log.decide(fund(2, "700.00")),
        Err(DomainError::BudgetExceeded {
            line: lines()[0],
            requested: money("700.00"),
            remaining: money("300.00"),
        })
    );
}

#[test]
fn fundings_in_different_wijken_never_conflict() {
    let mut log = setting();
    let stale = log.state.clone();
    let a = wijkpuls_domain::decide(&stale, fund(1, "700.00")).unwrap();
    let b = wijkpuls_domain::decide(&stale, fund(3, "700.00")).unwrap();
    assert_eq!(append(&mut log, &a), Ok(()));
    assert_eq!(append(&mut log, &b), Ok(()));
}

#[test]
fn lowering_an_allocation_while_funding_conflicts() {
    let mut log = setting();
    let stale = log.state.clone();
    let lower = wijkpuls_domain::decide(
        &stale,
        Command::AllocateBudget {
            wijk: klarendal(),
            year: 2026,
            theme: Theme::Groen,
            amount: money("100.00"),
        },
    )
    .unwrap();
    let funding = wijkpuls_domain::decide(&stale, fund(1, "700.00")).unwrap();
    assert_eq!(append(&mut log, &funding), Ok(()));
    assert_eq!(append(&mut log, &lower), Err(Conflict));
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Refresh {
        server: usize,
    },
    Fund {
        server: usize,
        who: u128,
        euros: i64,
    },
    Complete {
        server: usize,
        who: u128,
        percent: i64,
    },
    Withdraw {
        server: usize,
        who: u128,
    },
    Allocate {
        server: usize,
        line: usize,
        euros: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let server = 0..3usize;
    let who = 1..=4u128;
    prop_oneof![
        1 => server.clone().prop_map(|server| Step::Refresh { server }),
        4 => (server.clone(), who.clone(), 1..800i64)
            .prop_map(|(server, who, euros)| Step::Fund { server, who, euros }),
        1 => (server.clone(), who.clone(), 0..=100i64)
            .prop_map(|(server, who, percent)| Step::Complete { server, who, percent }),
        1 => (server.clone(), who).prop_map(|(server, who)| Step::Withdraw { server, who }),
        2 => (server, 0..2usize, 0..1_500i64)
            .prop_map(|(server, line, euros)| Step::Allocate { server, line, euros }),
    ]
}

/// Catches a server's state up with the log, applying only what it has not seen.
fn refresh(state: &mut CityState, log: &Log) {
    for record in log.records.iter().skip(state.position() as usize) {
        state.apply(record);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_interleaving_overspends_a_line(steps in proptest::collection::vec(step(), 1..80)) {
        let mut log = setting();
        let mut servers = vec![log.state.clone(); 3];
        for step in steps {
            let (server, command) = match step {
                Step::Refresh { server } => {
                    refresh(&mut servers[server], &log);
                    continue;
                }
                Step::Fund { server, who, euros } => (server, Command::Fund {
                    id: id(who),
                    year: 2026,
                    amount: money(&euros.to_string()),
                }),
                Step::Complete { server, who, percent } => {
                    let funded = servers[server]
                        .initiative(&id(who))
                        .and_then(|v| v.funded_amount)
                        .map_or(0, |m| m.cents());
                    (server, Command::Complete {
                        id: id(who),
                        spent: wijkpuls_domain::Money::from_cents(funded * percent / 100).unwrap(),
                        report: Report::parse("").unwrap(),
                    })
                }
                Step::Withdraw { server, who } => (server, Command::Withdraw {
                    id: id(who),
                    by: WithdrawnBy::Staff,
                    reason: None,
                }),
                Step::Allocate { server, line, euros } => {
                    let key = lines()[line];
                    (server, Command::AllocateBudget {
                        wijk: key.wijk,
                        year: 2026,
                        theme: Theme::Groen,
                        amount: money(&euros.to_string()),
                    })
                }
            };
            let Ok(decision) = wijkpuls_domain::decide(&servers[server], command) else {
                continue;
            };
            if append(&mut log, &decision).is_err() {
                refresh(&mut servers[server], &log);
            }
            for key in lines() {
                let line = log.state.budget_line(&key);
                prop_assert!(
                    line.committed.cents() + line.spent.cents() <= line.allocated.cents(),
                    "{} overspent: {:?}", key, line
                );
            }
        }
        // Every server that catches up agrees with the log.
        for mut state in servers {
            refresh(&mut state, &log);
            prop_assert_eq!(&state, &log.state);
        }
    }
}
