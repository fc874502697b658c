//! The lifecycle as given(events) / when(command) / then(events | error): every action from every
//! status, then the other ways a command can be refused.

use std::collections::HashSet;

use wijkpuls_domain::events::{
    BudgetAllocated, InitiativeCompleted, InitiativeConnected, InitiativeFunded,
    InitiativeReferred, InitiativeRejected, InitiativeWithdrawn, InitiatorDataErased,
    ReturnedFunds, TeamContactChanged,
};
use wijkpuls_domain::{
    tags, Action, Command, ConnectionTarget, DomainError, DomainEvent, Email, GebiedCode,
    InitiativeStatus, Money, Note, PartyKind, PartyName, Phone, Reason, ReferenceData, Report,
    SealedInitiator, SociaalWijkteam, TeamContact, Theme, WithdrawnBy,
};

use crate::support::{id, klarendal, line, money, submit, submitted, wijk, Log};

use InitiativeStatus::*;

const YEAR: i32 = 2026;

fn groen() -> wijkpuls_domain::BudgetLineKey {
    line(klarendal(), YEAR, Theme::Groen)
}

fn party(name: &str) -> ConnectionTarget {
    ConnectionTarget::Party {
        name: PartyName::parse(name).unwrap(),
        kind: PartyKind::Organisation,
    }
}

fn note(text: &str) -> Note {
    Note::parse(text).unwrap()
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

// The events of the story, in the domain's words.

fn allocated(amount: &str) -> DomainEvent {
    BudgetAllocated {
        line: groen(),
        allocated: money(amount),
    }
    .into()
}

fn initiative_submitted() -> DomainEvent {
    submitted(1, klarendal(), Theme::Groen, "1500.00").into()
}

fn connected_to(name: &str) -> DomainEvent {
    InitiativeConnected {
        id: id(1),
        wijk: klarendal(),
        target: party(name),
        note: note("Zelfde idee, samen sterker.").into(),
    }
    .into()
}

fn funded(amount: &str) -> DomainEvent {
    InitiativeFunded {
        id: id(1),
        line: groen(),
        amount: money(amount),
    }
    .into()
}

fn completed(funded: &str, spent: &str) -> DomainEvent {
    InitiativeCompleted {
        id: id(1),
        line: groen(),
        funded: money(funded),
        spent: money(spent),
        report: Report::parse("Uitgevoerd zoals gepland.").unwrap(),
    }
    .into()
}

fn rejected() -> DomainEvent {
    InitiativeRejected {
        id: id(1),
        wijk: klarendal(),
        reason: reason("Valt onder regulier onderhoud."),
    }
    .into()
}

fn referred() -> DomainEvent {
    InitiativeReferred {
        id: id(1),
        wijk: klarendal(),
        sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Noordwest").unwrap(),
        note: None,
    }
    .into()
}

fn withdrawn(returned: Option<&str>) -> DomainEvent {
    InitiativeWithdrawn {
        id: id(1),
        wijk: klarendal(),
        by: WithdrawnBy::Staff,
        returned: returned.map(|amount| ReturnedFunds {
            line: groen(),
            amount: money(amount),
        }),
        reason: None,
    }
    .into()
}

fn erased() -> DomainEvent {
    InitiatorDataErased {
        id: id(1),
        wijk: klarendal(),
    }
    .into()
}

/// Arnhem, €10,000.00 on Klarendal's groen line for 2026, and initiative 1 in `status`.
fn given(status: InitiativeStatus) -> Log {
    let mut log = Log::arnhem();
    log.record([allocated("10000.00"), initiative_submitted()]);
    let history = match status {
        Submitted => vec![],
        Connected => vec![connected_to("Buurtvereniging Klarendal")],
        Funded => vec![funded("1000.00")],
        Completed => vec![funded("1000.00"), completed("1000.00", "900.00")],
        Rejected => vec![rejected()],
        Withdrawn => vec![withdrawn(None)],
        Referred => vec![referred()],
    };
    log.record(history);
    assert_eq!(log.state.initiative(&id(1)).unwrap().status, status);
    log
}

/// The command for each action, always the same.
fn when(action: Action) -> Command {
    match action {
        Action::Connect => Command::Connect {
            id: id(1),
            target: party("Wijkraad Klarendal"),
            note: note("Zelfde idee, samen sterker.").into(),
        },
        Action::Fund => Command::Fund {
            id: id(1),
            year: YEAR,
            amount: money("500.00"),
        },
        Action::Complete => Command::Complete {
            id: id(1),
            spent: money("800.00"),
            report: Report::parse("Uitgevoerd zoals gepland.").unwrap(),
        },
        Action::Reject => Command::Reject {
            id: id(1),
            reason: reason("Valt onder regulier onderhoud."),
        },
        Action::Refer => Command::Refer {
            id: id(1),
            sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Noordwest").unwrap(),
            note: None,
        },
        Action::Withdraw => Command::Withdraw {
            id: id(1),
            by: WithdrawnBy::Staff,
            reason: None,
        },
    }
}

enum Then {
    /// These events, after which the initiative has this status and the line this much left.
    Events(Vec<DomainEvent>, InitiativeStatus, &'static str),
    Refused,
}

fn then(events: Vec<DomainEvent>, status: InitiativeStatus, remaining: &'static str) -> Then {
    Then::Events(events, status, remaining)
}

#[test]
fn every_action_from_every_status() {
    let wijkraad = || connected_to("Wijkraad Klarendal");
    #[rustfmt::skip]
    let table: Vec<(InitiativeStatus, Action, Then)> = vec![
        (Submitted, Action::Connect,  then(vec![wijkraad()], Connected, "10000.00")),
        (Submitted, Action::Fund,     then(vec![funded("500.00")], Funded, "9500.00")),
        (Submitted, Action::Complete, Then::Refused),
        (Submitted, Action::Reject,   then(vec![rejected()], Rejected, "10000.00")),
        (Submitted, Action::Refer,    then(vec![referred()], Referred, "10000.00")),
        (Submitted, Action::Withdraw, then(vec![withdrawn(None)], Withdrawn, "10000.00")),

        (Connected, Action::Connect,  then(vec![wijkraad()], Connected, "10000.00")),
        (Connected, Action::Fund,     then(vec![funded("500.00")], Funded, "9500.00")),
        (Connected, Action::Complete, Then::Refused),
        (Connected, Action::Reject,   then(vec![rejected()], Rejected, "10000.00")),
        (Connected, Action::Refer,    then(vec![referred()], Referred, "10000.00")),
        (Connected, Action::Withdraw, then(vec![withdrawn(None)], Withdrawn, "10000.00")),

        // Funded holds 1000.00 of the line.
        (Funded, Action::Connect,  then(vec![wijkraad()], Funded, "9000.00")),
        (Funded, Action::Fund,     Then::Refused),
        (Funded, Action::Complete, then(vec![completed("1000.00", "800.00")], Completed, "9200.00")),
        (Funded, Action::Reject,   Then::Refused),
        (Funded, Action::Refer,    Then::Refused),
        (Funded, Action::Withdraw, then(vec![withdrawn(Some("1000.00"))], Withdrawn, "10000.00")),

        (Completed, Action::Connect,  Then::Refused),
        (Completed, Action::Fund,     Then::Refused),
        (Completed, Action::Complete, Then::Refused),
        (Completed, Action::Reject,   Then::Refused),
        (Completed, Action::Refer,    Then::Refused),
        (Completed, Action::Withdraw, Then::Refused),

        (Rejected, Action::Connect,  Then::Refused),
        (Rejected, Action::Fund,     Then::Refused),
        (Rejected, Action::Complete, Then::Refused),
        (Rejected, Action::Reject,   Then::Refused),
        (Rejected, Action::Refer,    Then::Refused),
        (Rejected, Action::Withdraw, Then::Refused),

        (Withdrawn, Action::Connect,  Then::Refused),
        (Withdrawn, Action::Fund,     Then::Refused),
        (Withdrawn, Action::Complete, Then::Refused),
        (Withdrawn, Action::Reject,   Then::Refused),
        (Withdrawn, Action::Refer,    Then::Refused),
        (Withdrawn, Action::Withdraw, Then::Refused),

        (Referred, Action::Connect,  Then::Refused),
        (Referred, Action::Fund,     Then::Refused),
        (Referred, Action::Complete, Then::Refused),
        (Referred, Action::Reject,   Then::Refused),
        (Referred, Action::Refer,    Then::Refused),
        (Referred, Action::Withdraw, Then::Refused),
    ];
    let covered: HashSet<_> = table.iter().map(|(s, a, _)| (*s, *a)).collect();
    assert_eq!(
        covered.len(),
        InitiativeStatus::ALL.len() * Action::ALL.len()
    );

    for (status, action, expected) in table {
        let mut log = given(status);
        let before = log.state.clone();
        let result = log.decide(when(action));
        match expected {
            Then::Events(events, status_after, remaining) => {
                let decision = result
                    .unwrap_or_else(|err| panic!("{action} from {status} was refused: {err}"));
                assert_eq!(decision.events, events, "{action} from {status}");
                assert_eq!(
                    status.after(action),
                    Some(status_after),
                    "the table and InitiativeStatus::after agree"
                );
                log.record(decision.events);
                assert_eq!(log.state.initiative(&id(1)).unwrap().status, status_after);
                assert_eq!(
                    log.state.budget_line(&groen()).remaining(),
                    money(remaining),
                    "{action} from {status}"
                );
            }
            Then::Refused => {
                assert_eq!(
                    result,
                    Err(DomainError::InvalidTransition {
                        from: status,
                        attempted: action
                    }),
                    "{action} from {status}"
                );
                assert_eq!(status.after(action), None);
                assert_eq!(log.state, before);
            }
        }
    }
}

#[test]
fn initiator_data_can_be_erased_in_every_status_and_erasing_again_records_nothing() {
    for status in InitiativeStatus::ALL {
        let mut log = given(status);
        let decision = log
            .decide(Command::EraseInitiatorData { id: id(1) })
            .unwrap();
        assert_eq!(decision.events, vec![erased()], "from {status}");
        log.record(decision.events);
        let view = log.state.initiative(&id(1)).unwrap();
        assert!(view.initiator_erased);
        assert_eq!(view.status, status, "erasing does not change the status");

        let again = log
            .decide(Command::EraseInitiatorData { id: id(1) })
            .unwrap();
        assert!(again.events.is_empty());
    }
}

#[test]
fn an_error_message_says_what_was_refused() {
    let log = given(Rejected);
    let err = log.decide(when(Action::Fund)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot fund an initiative that is rejected"
    );
}

#[test]
fn funding_more_than_is_left_is_refused_with_what_is_left() {
    let mut log = given(Submitted);
    log.record([allocated("400.00")]);
    assert_eq!(
        log.decide(when(Action::Fund)),
        Err(DomainError::BudgetExceeded {
            line: groen(),
            requested: money("500.00"),
            remaining: money("400.00"),
        })
    );
    // Exactly what is left is fine.
    let decision = log
        .decide(Command::Fund {
            id: id(1),
            year: YEAR,
            amount: money("400.00"),
        })
        .unwrap();
    assert_eq!(decision.events, vec![funded("400.00")]);
}

#[test]
fn funding_a_year_without_allocation_finds_nothing_left() {
    let log = given(Submitted);
    let err = log
        .decide(Command::Fund {
            id: id(1),
            year: 2027,
            amount: money("1.00"),
        })
        .unwrap_err();
    assert_eq!(
        err,
        DomainError::BudgetExceeded {
            line: line(klarendal(), 2027, Theme::Groen),
            requested: money("1.00"),
            remaining: Money::ZERO,
        }
    );
    assert_eq!(
        err.to_string(),
        "budget line WK020207/2027/groen has 0.00 left, 1.00 was requested"
    );
}

#[test]
fn funding_takes_the_line_of_the_initiatives_own_wijk_and_theme() {
    let mut log = given(Submitted);
    // Money on another theme and another wijk does not help.
    log.record([
        BudgetAllocated {
            line: line(klarendal(), YEAR, Theme::Sport),
            allocated: money("9999.00"),
        }
        .into(),
        BudgetAllocated {
            line: line(wijk("WK020206"), YEAR, Theme::Groen),
            allocated: money("9999.00"),
        }
        .into(),
        allocated("100.00"),
    ]);
    assert!(matches!(
        log.decide(when(Action::Fund)),
        Err(DomainError::BudgetExceeded { line, .. }) if line == groen()
    ));
}

#[test]
fn funding_nothing_or_in_an_odd_year_is_invalid() {
    let log = given(Submitted);
    let zero = log.decide(Command::Fund {
        id: id(1),
        year: YEAR,
        amount: Money::ZERO,
    });
    assert!(matches!(
        zero,
        Err(DomainError::Invalid {
            field: "amount",
            ..
        })
    ));
    let odd_year = log.decide(Command::Fund {
        id: id(1),
        year: 1999,
        amount: money("1.00"),
    });
    assert!(matches!(
        odd_year,
        Err(DomainError::Invalid { field: "year", .. })
    ));
}

#[test]
fn completing_with_more_spent_than_funded_is_refused() {
    let log = given(Funded);
    let complete = |spent: &str| {
        log.decide(Command::Complete {
            id: id(1),
            spent: money(spent),
            report: Report::parse("").unwrap(),
        })
    };
    assert!(matches!(
        complete("1000.01"),
        Err(DomainError::Invalid { field: "spent", .. })
    ));
    assert!(complete("1000.00").is_ok());
    assert!(complete("0.00").is_ok());
}

#[test]
fn unknown_initiatives_and_wijken_are_not_found() {
    let log = given(Submitted);
    for action in Action::ALL {
        let command = match when(action) {
            Command::Connect { target, note, .. } => Command::Connect {
                id: id(99),
                target,
                note,
            },
            Command::Fund { year, amount, .. } => Command::Fund {
                id: id(99),
                year,
                amount,
            },
            Command::Complete { spent, report, .. } => Command::Complete {
                id: id(99),
                spent,
                report,
            },
            Command::Reject { reason, .. } => Command::Reject { id: id(99), reason },
            Command::Refer {
                sociaal_wijkteam,
                note,
                ..
            } => Command::Refer {
                id: id(99),
                sociaal_wijkteam,
                note,
            },
            Command::Withdraw { by, reason, .. } => Command::Withdraw {
                id: id(99),
                by,
                reason,
            },
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            log.decide(command),
            Err(DomainError::NotFound {
                what: "initiative",
                id: id(99).to_string()
            })
        );
    }
    assert!(matches!(
        log.decide(Command::EraseInitiatorData { id: id(99) }),
        Err(DomainError::NotFound { .. })
    ));
    // WK020299 is a well-formed code, but Arnhem has no such wijk.
    assert_eq!(
        log.decide(submit(2, wijk("WK020299"), Theme::Groen, "100.00")),
        Err(DomainError::NotFound {
            what: "wijk",
            id: "WK020299".to_owned()
        })
    );
}

#[test]
fn submitting_is_checked() {
    let log = given(Submitted);
    assert!(matches!(
        log.decide(submit(1, klarendal(), Theme::Groen, "10.00")),
        Err(DomainError::AlreadyExists { .. })
    ));
    let decision = log
        .decide(submit(2, klarendal(), Theme::Sport, "0.00"))
        .unwrap();
    assert_eq!(
        decision.events,
        vec![submitted(2, klarendal(), Theme::Sport, "0.00").into()],
        "asking for no money is fine: the help may be a connection"
    );
    assert_eq!(decision.consistency_tags, vec![tags::initiative(&id(2))]);

    let with = |initiator: SealedInitiator, hash: &str| {
        let mut command = submit(3, klarendal(), Theme::Groen, "10.00");
        if let Command::Submit {
            initiator: i,
            tracking_code_hash: h,
            ..
        } = &mut command
        {
            *i = initiator;
            *h = hash.to_owned();
        }
        log.decide(command)
    };
    let sealed = SealedInitiator {
        key_id: "k".to_owned(),
        ciphertext: "c".to_owned(),
    };
    assert!(with(sealed.clone(), "ab12").is_ok());
    for hash in ["", "not hex", &"a".repeat(129)] {
        assert!(matches!(
            with(sealed.clone(), hash),
            Err(DomainError::Invalid {
                field: "tracking_code_hash",
                ..
            })
        ));
    }
    let empty = SealedInitiator {
        key_id: String::new(),
        ciphertext: "c".to_owned(),
    };
    assert!(matches!(
        with(empty, "ab12"),
        Err(DomainError::Invalid {
            field: "initiator",
            ..
        })
    ));
}

#[test]
fn connecting_is_checked() {
    let mut log = given(Submitted);
    log.execute(submit(2, wijk("WK020224"), Theme::Groen, "100.00"));
    let connect = |log: &Log, from: u128, target: ConnectionTarget| {
        log.decide(Command::Connect {
            id: id(from),
            target,
            note: note("Zelfde idee.").into(),
        })
    };
    assert!(matches!(
        connect(&log, 1, ConnectionTarget::Initiative(id(1))),
        Err(DomainError::Invalid {
            field: "target",
            ..
        })
    ));
    assert!(matches!(
        connect(&log, 1, ConnectionTarget::Initiative(id(99))),
        Err(DomainError::NotFound {
            what: "initiative",
            ..
        })
    ));

    // Across wijken: the event carries both initiatives' tags, and the decision read both.
    let decision = connect(&log, 1, ConnectionTarget::Initiative(id(2))).unwrap();
    assert_eq!(
        decision.consistency_tags,
        vec![tags::initiative(&id(1)), tags::initiative(&id(2))]
    );
    let tags = decision.events[0].tags();
    assert!(tags.contains(&tags::initiative(&id(1))) && tags.contains(&tags::initiative(&id(2))));
    log.record(decision.events);

    // Once connected, the same link is refused, from either side.
    assert!(matches!(
        connect(&log, 1, ConnectionTarget::Initiative(id(2))),
        Err(DomainError::Invalid {
            field: "target",
            ..
        })
    ));
    assert!(matches!(
        connect(&log, 2, ConnectionTarget::Initiative(id(1))),
        Err(DomainError::Invalid {
            field: "target",
            ..
        })
    ));
    log.execute(Command::Connect {
        id: id(1),
        target: party("Rijnstad"),
        note: note("Helpt met vrijwilligers.").into(),
    });
    assert!(matches!(
        connect(&log, 1, party("RIJNSTAD")),
        Err(DomainError::Invalid {
            field: "target",
            ..
        })
    ));
    // A person of the same name is another party.
    let person = ConnectionTarget::Party {
        name: PartyName::parse("Rijnstad").unwrap(),
        kind: PartyKind::Person,
    };
    assert!(connect(&log, 1, person).is_ok());
}

#[test]
fn allocation_sets_the_line_and_cannot_go_below_what_is_in_use() {
    let mut log = given(Completed); // 900.00 spent of 10,000.00
    log.execute(submit(2, klarendal(), Theme::Groen, "3000.00"));
    log.execute(Command::Fund {
        id: id(2),
        year: YEAR,
        amount: money("3000.00"),
    });
    let allocate = |log: &Log, amount: &str| {
        log.decide(Command::AllocateBudget {
            wijk: klarendal(),
            year: YEAR,
            theme: Theme::Groen,
            amount: money(amount),
        })
    };
    assert_eq!(
        allocate(&log, "3899.99"),
        Err(DomainError::AllocationBelowUse {
            line: groen(),
            requested: money("3899.99"),
            in_use: money("3900.00"),
        })
    );
    let decision = allocate(&log, "3900.00").unwrap();
    assert_eq!(decision.events, vec![allocated("3900.00")]);
    assert_eq!(
        decision.consistency_tags,
        vec![tags::line(&groen()), tags::budget_year(YEAR)]
    );
    log.record(decision.events);
    let line = log.state.budget_line(&groen());
    assert_eq!(line.allocated, money("3900.00"));
    assert_eq!(line.remaining(), Money::ZERO);
    // Setting it to what it is changes nothing, so nothing is recorded.
    assert_eq!(allocate(&log, "3900.00").unwrap().events, vec![]);

    assert!(matches!(
        log.decide(Command::AllocateBudget {
            wijk: wijk("WK020299"),
            year: YEAR,
            theme: Theme::Groen,
            amount: money("1.00"),
        }),
        Err(DomainError::NotFound { what: "wijk", .. })
    ));
    assert!(matches!(
        log.decide(Command::AllocateBudget {
            wijk: klarendal(),
            year: 2101,
            theme: Theme::Groen,
            amount: money("1.00"),
        }),
        Err(DomainError::Invalid { field: "year", .. })
    ));
}

#[test]
fn a_years_allocations_for_the_city_stay_within_money_max() {
    let mut log = Log::arnhem();
    log.execute(Command::AllocateBudget {
        wijk: klarendal(),
        year: YEAR,
        theme: Theme::Groen,
        amount: Money::MAX,
    });
    let other = |amount: Money| {
        log.decide(Command::AllocateBudget {
            wijk: wijk("WK020206"),
            year: YEAR,
            theme: Theme::Sport,
            amount,
        })
    };
    assert!(matches!(
        other(money("0.01")),
        Err(DomainError::Invalid {
            field: "amount",
            ..
        })
    ));
    assert!(other(Money::ZERO).is_ok());
    // Another year is another total; lowering the same line is fine.
    assert!(log
        .decide(Command::AllocateBudget {
            wijk: wijk("WK020206"),
            year: 2027,
            theme: Theme::Sport,
            amount: Money::MAX,
        })
        .is_ok());
    assert!(log
        .decide(Command::AllocateBudget {
            wijk: klarendal(),
            year: YEAR,
            theme: Theme::Groen,
            amount: money("5.00"),
        })
        .is_ok());
}

#[test]
fn reference_data_is_registered_once() {
    let log = Log::arnhem();
    let err = log
        .decide(Command::RegisterReferenceData(ReferenceData::arnhem()))
        .unwrap_err();
    assert!(matches!(
        err,
        DomainError::AlreadyExists {
            what: "reference data",
            ..
        }
    ));
    assert!(err.to_string().contains("GM0202 Arnhem"), "{err}");
}

#[test]
fn team_contact_changes_for_known_gebieden() {
    let mut log = Log::arnhem();
    let w2 = GebiedCode::parse("W2").unwrap();
    let team = TeamContact {
        email: Email::parse("noordwest@arnhem.nl").unwrap(),
        phone: Phone::parse("026 377 4911").unwrap(),
    };
    let decision = log
        .decide(Command::ChangeTeamContact {
            gebied: w2,
            team: team.clone(),
        })
        .unwrap();
    assert_eq!(
        decision.events,
        vec![TeamContactChanged {
            gebied: w2,
            team: team.clone()
        }
        .into()]
    );
    assert_eq!(decision.consistency_tags, vec![tags::gebied(&w2)]);
    log.record(decision.events);
    assert_eq!(log.state.team_for(&klarendal()), Some(&team));

    assert!(matches!(
        log.decide(Command::ChangeTeamContact {
            gebied: GebiedCode::parse("W9").unwrap(),
            team,
        }),
        Err(DomainError::NotFound { what: "gebied", .. })
    ));
}

#[test]
fn each_decision_names_what_it_read_and_where() {
    let log = given(Funded);
    let position = log.state.position();
    let cases = [
        (when(Action::Connect), vec![tags::initiative(&id(1))]),
        (when(Action::Complete), vec![tags::initiative(&id(1))]),
        (when(Action::Withdraw), vec![tags::initiative(&id(1))]),
    ];
    for (command, read) in cases {
        let decision = log.decide(command).unwrap();
        assert_eq!(decision.consistency_tags, read);
        assert_eq!(decision.position, position);
    }
    let log = given(Submitted);
    let decision = log.decide(when(Action::Fund)).unwrap();
    assert_eq!(
        decision.consistency_tags,
        vec![tags::initiative(&id(1)), tags::line(&groen())]
    );
    assert!(decision.events[0].tags().contains(&tags::line(&groen())));
}
