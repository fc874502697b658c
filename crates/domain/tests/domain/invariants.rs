//! Property tests over random command sequences: a small independent model predicts every
//! outcome, and the budget and projection invariants hold after every step.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use wijkpuls_domain::{
    BudgetLineKey, CityState, Command, ConnectionTarget, DomainError, InitiativeId,
    InitiativeStatus, Money, Note, PartyKind, PartyName, Reason, Report, SociaalWijkteam, Theme,
    WijkCode, WithdrawnBy,
};

use crate::support::{id, line, submit, time_of, wijk, Log};

const WIJKEN: [&str; 3] = ["WK020207", "WK020206", "WK020224"];
const YEARS: [i32; 2] = [2025, 2026];
const THEMES: [Theme; 2] = [Theme::Groen, Theme::Sport];

#[derive(Debug, Clone, Copy)]
enum Op {
    Submit {
        wijk: usize,
        theme: usize,
    },
    Allocate {
        wijk: usize,
        year: usize,
        theme: usize,
        euros: i64,
    },
    Connect {
        who: usize,
        to: Option<usize>,
    },
    Fund {
        who: usize,
        year: usize,
        euros: i64,
    },
    Complete {
        who: usize,
        percent: i64,
    },
    Reject {
        who: usize,
    },
    Refer {
        who: usize,
    },
    Withdraw {
        who: usize,
    },
    Erase {
        who: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..2usize).prop_map(|(wijk, theme)| Op::Submit { wijk, theme }),
        3 => (0..3usize, 0..2usize, 0..2usize, 0..6_000i64)
            .prop_map(|(wijk, year, theme, euros)| Op::Allocate { wijk, year, theme, euros }),
        2 => (any::<usize>(), proptest::option::of(any::<usize>()))
            .prop_map(|(who, to)| Op::Connect { who, to }),
        4 => (any::<usize>(), 0..2usize, 0..2_500i64)
            .prop_map(|(who, year, euros)| Op::Fund { who, year, euros }),
        2 => (any::<usize>(), 0..=120i64).prop_map(|(who, percent)| Op::Complete { who, percent }),
        1 => any::<usize>().prop_map(|who| Op::Reject { who }),
        1 => any::<usize>().prop_map(|who| Op::Refer { who }),
        1 => any::<usize>().prop_map(|who| Op::Withdraw { who }),
        1 => any::<usize>().prop_map(|who| Op::Erase { who }),
    ]
}

/// What the model knows of one initiative.
#[derive(Debug, Clone)]
struct Initiative {
    id: InitiativeId,
    wijk: WijkCode,
    theme: Theme,
    status: InitiativeStatus,
    funding: Option<(BudgetLineKey, i64)>,
    erased: bool,
}

/// The budget rules of docs/domain.md, written again as simply as possible, in cents.
#[derive(Default)]
struct Model {
    initiatives: Vec<Initiative>,
    /// allocated, committed, spent
    lines: BTreeMap<BudgetLineKey, (i64, i64, i64)>,
    links: BTreeSet<(InitiativeId, InitiativeId)>,
    parties: BTreeSet<(InitiativeId, String)>,
}

fn cents(euros: i64) -> Money {
    Money::from_cents(euros * 100).unwrap()
}

fn kind(err: &DomainError) -> &'static str {
    match err {
        DomainError::InvalidTransition { .. } => "InvalidTransition",
        DomainError::BudgetExceeded { .. } => "BudgetExceeded",
        DomainError::AllocationBelowUse { .. } => "AllocationBelowUse",
        DomainError::NotFound { .. } => "NotFound",
        DomainError::AlreadyExists { .. } => "AlreadyExists",
        DomainError::Invalid { .. } => "Invalid",
        DomainError::InvalidReferenceData { .. } => "InvalidReferenceData",
        DomainError::UnreadableEvent { .. } => "UnreadableEvent",
    }
}

impl Model {
    fn pick(&self, who: usize) -> Option<usize> {
        (!self.initiatives.is_empty()).then(|| who % self.initiatives.len())
    }

    fn line(&self, key: &BudgetLineKey) -> (i64, i64, i64) {
        self.lines.get(key).copied().unwrap_or_default()
    }

    /// The command for `op`, and what the model expects: `Ok(())` or the kind of refusal.
    fn expect(&self, op: &Op) -> (Command, Result<(), &'static str>) {
        let unknown = id(9_999);
        let subject = |who: usize| self.pick(who).map(|i| &self.initiatives[i]);
        let id_of = |who: usize| subject(who).map_or(unknown, |i| i.id);
        let transition = |who: usize, action| match subject(who) {
            None => Err("NotFound"),
            Some(i) if i.status.after(action).is_none() => Err("InvalidTransition"),
            Some(_) => Ok(()),
        };
        use wijkpuls_domain::Action;
        match *op {
            Op::Submit { wijk: w, theme } => {
                let n = self.initiatives.len() as u128 + 1;
                (submit(n, wijk(WIJKEN[w]), THEMES[theme], "100.00"), Ok(()))
            }
            Op::Allocate {
                wijk: w,
                year,
                theme,
                euros,
            } => {
                let key = line(wijk(WIJKEN[w]), YEARS[year], THEMES[theme]);
                let (_, committed, spent) = self.line(&key);
                let command = Command::AllocateBudget {
                    wijk: key.wijk,
                    year: key.year,
                    theme: key.theme,
                    amount: cents(euros),
                };
                let expected = if euros * 100 < committed + spent {
                    Err("AllocationBelowUse")
                } else {
                    Ok(())
                };
                (command, expected)
            }
            Op::Connect { who, to } => {
                let target = match to {
                    Some(to) => ConnectionTarget::Initiative(id_of(to)),
                    None => ConnectionTarget::Party {
                        name: PartyName::parse(&format!("Partij {}", who % 3)).unwrap(),
                        kind: PartyKind::Organisation,
                    },
                };
                let command = Command::Connect {
                    id: id_of(who),
                    target: target.clone(),
                    note: Note::parse("n").unwrap().into(),
                };
                let expected = transition(who, Action::Connect).and_then(|()| {
                    let me = id_of(who);
                    match target {
                        ConnectionTarget::Initiative(other) if other == me => Err("Invalid"),
                        ConnectionTarget::Initiative(other)
                            if self.links.contains(&(me.min(other), me.max(other))) =>
                        {
                            Err("Invalid")
                        }
                        ConnectionTarget::Party { name, .. }
                            if self.parties.contains(&(me, name.as_str().to_owned())) =>
                        {
                            Err("Invalid")
                        }
                        _ => Ok(()),
                    }
                });
                (command, expected)
            }
            Op::Fund { who, year, euros } => {
                let command = Command::Fund {
                    id: id_of(who),
                    year: YEARS[year],
                    amount: cents(euros),
                };
                let expected = if euros == 0 {
                    Err("Invalid")
                } else {
                    transition(who, Action::Fund).and_then(|()| {
                        let i = subject(who).unwrap();
                        let (allocated, committed, spent) =
                            self.line(&line(i.wijk, YEARS[year], i.theme));
                        if euros * 100 > allocated - committed - spent {
                            Err("BudgetExceeded")
                        } else {
                            Ok(())
                        }
                    })
                };
                (command, expected)
            }
            Op::Complete { who, percent } => {
                let funded = subject(who).and_then(|i| i.funding).map_or(0, |f| f.1);
                let spent = funded * percent / 100;
                let command = Command::Complete {
                    id: id_of(who),
                    spent: Money::from_cents(spent).unwrap(),
                    report: Report::parse("klaar").unwrap(),
                };
                let within = if spent > funded {
                    Err("Invalid")
                } else {
                    Ok(())
                };
                let expected = transition(who, Action::Complete).and(within);
                (command, expected)
            }
            Op::Reject { who } => (
                Command::Reject {
                    id: id_of(who),
                    reason: Reason::parse("nee").unwrap(),
                },
                transition(who, Action::Reject),
            ),
            Op::Refer { who } => (
                Command::Refer {
                    id: id_of(who),
                    sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Noord").unwrap(),
                    note: None,
                },
                transition(who, Action::Refer),
            ),
            Op::Withdraw { who } => (
                Command::Withdraw {
                    id: id_of(who),
                    by: WithdrawnBy::Initiator,
                    reason: None,
                },
                transition(who, Action::Withdraw),
            ),
            Op::Erase { who } => (
                Command::EraseInitiatorData { id: id_of(who) },
                subject(who).map(|_| ()).ok_or("NotFound"),
            ),
        }
    }

    /// Applies an accepted `op` to the model.
    fn accept(&mut self, op: &Op, command: &Command) {
        match (*op, command) {
            (Op::Submit { wijk: w, theme }, Command::Submit { id, .. }) => {
                self.initiatives.push(Initiative {
                    id: *id,
                    wijk: wijk(WIJKEN[w]),
                    theme: THEMES[theme],
                    status: InitiativeStatus::Submitted,
                    funding: None,
                    erased: false,
                })
            }
            (
                Op::Allocate { .. },
                Command::AllocateBudget {
                    wijk,
                    year,
                    theme,
                    amount,
                },
            ) => {
                let key = line(*wijk, *year, *theme);
                self.lines.entry(key).or_default().0 = amount.cents();
            }
            (Op::Connect { who, .. }, Command::Connect { id: me, target, .. }) => {
                let i = self.pick(who).unwrap();
                match target {
                    ConnectionTarget::Initiative(other) => {
                        self.links.insert(((*me).min(*other), (*me).max(*other)));
                    }
                    ConnectionTarget::Party { name, .. } => {
                        self.parties.insert((*me, name.as_str().to_owned()));
                    }
                    // This model only generates plain parties.
                    ConnectionTarget::SealedPerson { fingerprint, .. } => {
                        self.parties.insert((*me, fingerprint.clone()));
                    }
                }
                let status = &mut self.initiatives[i].status;
                *status = status.after(wijkpuls_domain::Action::Connect).unwrap();
            }
            (Op::Fund { who, year, .. }, Command::Fund { amount, .. }) => {
                let i = self.pick(who).unwrap();
                let init = &mut self.initiatives[i];
                let key = line(init.wijk, YEARS[year], init.theme);
                init.status = InitiativeStatus::Funded;
                init.funding = Some((key, amount.cents()));
                self.lines.entry(key).or_default().1 += amount.cents();
            }
            (Op::Complete { who, .. }, Command::Complete { spent, .. }) => {
                let i = self.pick(who).unwrap();
                let init = &mut self.initiatives[i];
                init.status = InitiativeStatus::Completed;
                let (key, funded) = init.funding.unwrap();
                let l = self.lines.entry(key).or_default();
                l.1 -= funded;
                l.2 += spent.cents();
            }
            (Op::Reject { who }, _) => {
                let i = self.pick(who).unwrap();
                self.initiatives[i].status = InitiativeStatus::Rejected;
            }
            (Op::Refer { who }, _) => {
                let i = self.pick(who).unwrap();
                self.initiatives[i].status = InitiativeStatus::Referred;
            }
            (Op::Withdraw { who }, _) => {
                let i = self.pick(who).unwrap();
                let init = &mut self.initiatives[i];
                if init.status == InitiativeStatus::Funded {
                    let (key, funded) = init.funding.unwrap();
                    self.lines.entry(key).or_default().1 -= funded;
                }
                init.status = InitiativeStatus::Withdrawn;
            }
            (Op::Erase { who }, _) => {
                let i = self.pick(who).unwrap();
                self.initiatives[i].erased = true;
            }
            (op, command) => panic!("{op:?} made {command:?}"),
        }
    }
}

/// The invariants that must hold in every state.
fn check(state: &CityState, model: &Model) {
    for (key, &(allocated, committed, spent)) in &model.lines {
        let line = state.budget_line(key);
        assert_eq!(
            (
                line.allocated.cents(),
                line.committed.cents(),
                line.spent.cents()
            ),
            (allocated, committed, spent),
            "line {key}"
        );
        assert!(
            allocated - committed - spent >= 0,
            "remaining below zero on {key}"
        );
        assert_eq!(
            line.allocated.cents(),
            line.committed.cents() + line.spent.cents() + line.remaining().cents(),
            "allocated = committed + spent + remaining on {key}"
        );
        // The line's use is derivable from the initiatives.
        let held: i64 = state
            .initiatives()
            .filter(|v| v.status == InitiativeStatus::Funded && v.funded_line == Some(*key))
            .map(|v| v.funded_amount.unwrap().cents())
            .sum();
        let used: i64 = state
            .initiatives()
            .filter(|v| v.status == InitiativeStatus::Completed && v.funded_line == Some(*key))
            .map(|v| v.spent_amount.unwrap().cents())
            .sum();
        assert_eq!(
            (held, used),
            (committed, spent),
            "line {key} from initiatives"
        );
    }
    for init in &model.initiatives {
        let view = state.initiative(&init.id).unwrap();
        assert_eq!(view.status, init.status);
        assert_eq!(view.initiator_erased, init.erased);
    }
    for year in YEARS {
        let city = state.city_budget(year).totals;
        assert_eq!(
            city.allocated.cents(),
            city.committed.cents() + city.spent.cents() + city.remaining().cents()
        );
    }
    let counted = state.city_counts().total();
    assert_eq!(counted, model.initiatives.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_command_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..60)) {
        let mut log = Log::arnhem();
        let mut model = Model::default();
        let mut snapshots = vec![log.state.clone()];
        for op in &ops {
            let (command, expected) = model.expect(op);
            let result = log.decide(command.clone());
            match (&result, expected) {
                (Ok(decision), Ok(())) => {
                    model.accept(op, &command);
                    log.record(decision.events.clone());
                }
                (Err(err), Err(kind_expected)) => {
                    prop_assert_eq!(kind(err), kind_expected, "{:?}", op);
                }
                (result, expected) => {
                    prop_assert!(false, "{:?}: got {:?}, the model expected {:?}", op, result, expected);
                }
            }
            check(&log.state, &model);
            snapshots.push(log.state.clone());
        }
        // The incremental state is the fold of the whole log.
        prop_assert_eq!(&CityState::fold(&log.records), &log.state);
        // Time travel: the state at any earlier position or moment is the one we had then.
        for snapshot in &snapshots {
            let p = snapshot.position();
            prop_assert_eq!(&CityState::at_position(&log.records, p), snapshot);
            prop_assert_eq!(&CityState::at_time(&log.records, time_of(p)), snapshot);
        }
    }
}
