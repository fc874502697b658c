//! The read models: places, roll-ups, connections on both sides, history without personal data,
//! time travel.

use wijkpuls_domain::events::InitiativeFunded;
use wijkpuls_domain::projection::ConnectedTo;
use wijkpuls_domain::{
    Command, ConnectionDirection, ConnectionTarget, GebiedCode, InitiativeStatus, Note, PartyKind,
    PartyName, Reason, Recorded, Report, SociaalWijkteam, Theme, WithdrawnBy,
};

use crate::support::{id, klarendal, line, money, sealed, submit, time_of, wijk, Log};

fn allocate(log: &mut Log, code: &str, theme: Theme, amount: &str) {
    log.execute(Command::AllocateBudget {
        wijk: wijk(code),
        year: 2026,
        theme,
        amount: money(amount),
    });
}

fn fund(log: &mut Log, n: u128, amount: &str) {
    log.execute(Command::Fund {
        id: id(n),
        year: 2026,
        amount: money(amount),
    });
}

#[test]
fn registering_arnhem_gives_its_gebieden_and_wijken() {
    let log = Log::arnhem();
    assert_eq!(log.records.len(), 1 + 8 + 24);
    let state = &log.state;
    assert_eq!(state.municipality().unwrap().name.as_str(), "Arnhem");
    assert_eq!(state.gebieden().count(), 8);
    let codes: Vec<&str> = state.wijken().map(|w| w.code.as_str()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted, "wijken come ordered by code");
    assert_eq!(codes.len(), 24);
    let klarendal_view = state.wijk(&klarendal()).unwrap();
    assert_eq!(klarendal_view.name.as_str(), "Klarendal");
    assert_eq!(klarendal_view.gebied.as_str(), "W2");
    let team = state.team_for(&klarendal()).unwrap();
    assert_eq!(team.email.as_str(), "leefomgeving.w2@arnhem.nl");
    let w2 = state.gebied(&GebiedCode::parse("W2").unwrap()).unwrap();
    assert_eq!(w2.wijken.len(), 6);
    assert!(w2.wijken.windows(2).all(|p| p[0] < p[1]));
}

#[test]
fn budgets_roll_up_from_line_to_wijk_to_gebied_to_city() {
    let mut log = Log::arnhem();
    allocate(&mut log, "WK020207", Theme::Groen, "10000.00"); // Klarendal, W2
    allocate(&mut log, "WK020207", Theme::Sport, "2000.50");
    allocate(&mut log, "WK020206", Theme::Groen, "5000.00"); // St. Marten/Sonsbeek, W2
    allocate(&mut log, "WK020224", Theme::Groen, "7000.00"); // Schuytgraaf, W6
    log.execute(submit(1, klarendal(), Theme::Groen, "1500.00"));
    fund(&mut log, 1, "1500.00");
    log.execute(Command::Complete {
        id: id(1),
        spent: money("1200.00"),
        report: Report::parse("Klaar.").unwrap(),
    });
    log.execute(submit(2, klarendal(), Theme::Groen, "800.00"));
    fund(&mut log, 2, "800.00");
    log.execute(submit(3, wijk("WK020224"), Theme::Groen, "700.00"));
    fund(&mut log, 3, "700.00");

    let state = &log.state;
    let groen = state.budget_line(&line(klarendal(), 2026, Theme::Groen));
    assert_eq!(groen.allocated, money("10000.00"));
    assert_eq!(groen.committed, money("800.00"));
    assert_eq!(groen.spent, money("1200.00"));
    assert_eq!(groen.remaining(), money("8000.00"));

    let wijk_budget = state.wijk_budget(&klarendal(), 2026);
    assert_eq!(
        wijk_budget.lines.len(),
        8,
        "every theme, also the empty ones"
    );
    assert_eq!(wijk_budget.line(Theme::Groen), groen);
    assert_eq!(wijk_budget.totals.allocated, money("12000.50"));
    assert_eq!(wijk_budget.totals.remaining(), money("10000.50"));

    let w2 = state.gebied_budget(&GebiedCode::parse("W2").unwrap(), 2026);
    assert_eq!(w2.totals.allocated, money("17000.50"));
    assert_eq!(w2.line(Theme::Groen).allocated, money("15000.00"));
    assert_eq!(w2.totals.committed, money("800.00"));

    let city = state.city_budget(2026);
    assert_eq!(city.totals.allocated, money("24000.50"));
    assert_eq!(city.totals.committed, money("1500.00"));
    assert_eq!(city.totals.spent, money("1200.00"));
    assert_eq!(city.totals.remaining(), money("21300.50"));
    assert_eq!(state.city_budget(2025).totals.allocated, money("0.00"));
    assert_eq!(
        state.budget_years().into_iter().collect::<Vec<_>>(),
        vec![2026]
    );
}

#[test]
fn status_counts_per_wijk_gebied_and_city() {
    let mut log = Log::arnhem();
    allocate(&mut log, "WK020207", Theme::Groen, "10000.00");
    log.execute(submit(1, klarendal(), Theme::Groen, "100.00"));
    log.execute(submit(2, klarendal(), Theme::Groen, "100.00"));
    log.execute(submit(3, wijk("WK020206"), Theme::Groen, "100.00"));
    log.execute(submit(4, wijk("WK020224"), Theme::Groen, "100.00"));
    fund(&mut log, 1, "100.00");
    log.execute(Command::Reject {
        id: id(3),
        reason: Reason::parse("Past niet.").unwrap(),
    });
    let state = &log.state;
    let k = state.wijk_counts(&klarendal());
    assert_eq!(k.get(InitiativeStatus::Funded), 1);
    assert_eq!(k.get(InitiativeStatus::Submitted), 1);
    assert_eq!(k.total(), 2);
    let w2 = state.gebied_counts(&GebiedCode::parse("W2").unwrap());
    assert_eq!(w2.get(InitiativeStatus::Rejected), 1);
    assert_eq!(w2.total(), 3);
    let city = state.city_counts();
    assert_eq!(city.total(), 4);
    assert_eq!(city.get(InitiativeStatus::Submitted), 2);
    assert_eq!(
        city.iter().map(|(_, n)| n).sum::<u64>(),
        city.total(),
        "iter covers every status"
    );
    let order: Vec<_> = state.initiatives().map(|v| v.id).collect();
    assert_eq!(order, vec![id(1), id(2), id(3), id(4)], "submission order");
    let in_klarendal: Vec<_> = state
        .initiatives_in_wijk(&klarendal())
        .map(|v| v.id)
        .collect();
    assert_eq!(in_klarendal, vec![id(1), id(2)]);
}

#[test]
fn a_connection_between_initiatives_shows_on_both() {
    let mut log = Log::arnhem();
    log.execute(submit(1, klarendal(), Theme::Groen, "100.00"));
    log.execute(submit(2, wijk("WK020224"), Theme::Groen, "100.00"));
    log.execute(Command::Connect {
        id: id(1),
        target: ConnectionTarget::Initiative(id(2)),
        note: Note::parse("Zelfde idee in Schuytgraaf.").unwrap().into(),
    });
    let one = log.state.initiative(&id(1)).unwrap();
    let two = log.state.initiative(&id(2)).unwrap();
    assert_eq!(one.status, InitiativeStatus::Connected);
    assert_eq!(
        two.status,
        InitiativeStatus::Submitted,
        "only the one acted on changes status"
    );
    assert_eq!(one.connections[0].target, ConnectedTo::Initiative(id(2)));
    assert_eq!(one.connections[0].direction, ConnectionDirection::Outgoing);
    assert_eq!(two.connections[0].target, ConnectedTo::Initiative(id(1)));
    assert_eq!(two.connections[0].direction, ConnectionDirection::Incoming);
    assert_eq!(
        log.history(two).last().unwrap().event_type(),
        "InitiativeConnected"
    );
    assert_eq!(
        log.history(two).last().unwrap().summary(),
        "Verbonden vanuit initiatief “Moestuin Sonsbeekweg 1”"
    );
    assert_eq!(
        log.history(one).last().unwrap().summary(),
        "Verbonden met initiatief “Moestuin Sonsbeekweg 2”"
    );
    assert_eq!(two.updated_at, time_of(log.state.position()));
}

#[test]
fn history_and_summaries_hold_no_personal_data() {
    let mut log = Log::arnhem();
    allocate(&mut log, "WK020207", Theme::Groen, "10000.00");
    log.execute(submit(1, klarendal(), Theme::Groen, "100.00"));
    log.execute(Command::Connect {
        id: id(1),
        target: ConnectionTarget::Party {
            name: PartyName::parse("Jan Persoonlijk").unwrap(),
            kind: PartyKind::Person,
        },
        note: Note::parse("Buurman met gereedschap.").unwrap().into(),
    });
    fund(&mut log, 1, "100.00");
    log.execute(Command::Withdraw {
        id: id(1),
        by: WithdrawnBy::Initiator,
        reason: Some(Reason::parse("Ik ben ziek geworden").unwrap()),
    });
    log.execute(submit(2, klarendal(), Theme::Welzijn, "0.00"));
    log.execute(Command::Refer {
        id: id(2),
        sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Noordwest").unwrap(),
        note: Some(
            Note::parse("Zorgvraag over mevrouw op nummer 12")
                .unwrap()
                .into(),
        ),
    });
    let secrets = [
        sealed(1).ciphertext,
        sealed(1).key_id,
        sealed(2).ciphertext,
        "Jan Persoonlijk".to_owned(),
        "ziek".to_owned(),
        "nummer 12".to_owned(),
    ];
    for view in log.state.initiatives() {
        for entry in log.history(view).iter() {
            // Neither the text for people nor the data behind it.
            let shown = format!("{} {:?}", entry.summary(), entry.detail);
            for secret in &secrets {
                assert!(
                    !shown.contains(secret.as_str()),
                    "{shown:?} leaks {secret:?}"
                );
            }
        }
    }
    let one = log.state.initiative(&id(1)).unwrap();
    let kinds: Vec<_> = log
        .history(one)
        .iter()
        .map(|h| (h.event_type(), h.status_after))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("InitiativeSubmitted", InitiativeStatus::Submitted),
            ("InitiativeConnected", InitiativeStatus::Connected),
            ("InitiativeFunded", InitiativeStatus::Funded),
            ("InitiativeWithdrawn", InitiativeStatus::Withdrawn),
        ]
    );
    let summaries: Vec<String> = log.history(one).iter().map(|h| h.summary()).collect();
    assert_eq!(
        summaries,
        vec![
            "Ingediend via de website: Groen, gevraagd € 100",
            "Verbonden met een persoon",
            "Gefinancierd: € 100 uit het budget groen 2026",
            "Ingetrokken door de initiatiefnemer, € 100 terug naar het budget",
        ]
    );
    let two: Vec<String> = log
        .history(log.state.initiative(&id(2)).unwrap())
        .iter()
        .map(|h| h.summary())
        .collect();
    assert_eq!(two[1], "Doorverwezen naar Sociaal wijkteam Noordwest");
    assert_eq!(one.funded_amount, Some(money("100.00")));
    assert_eq!(
        log.state
            .budget_line(&line(klarendal(), 2026, Theme::Groen))
            .remaining(),
        money("10000.00"),
        "the withdrawn initiative's money went back"
    );
}

#[test]
fn the_state_at_a_position_or_a_moment_is_the_fold_of_that_prefix() {
    let mut log = Log::arnhem();
    let registered = log.state.clone();
    allocate(&mut log, "WK020207", Theme::Groen, "1000.00");
    log.execute(submit(1, klarendal(), Theme::Groen, "100.00"));
    let submitted_at = log.state.position();
    let after_submit = log.state.clone();
    fund(&mut log, 1, "100.00");

    let at_registration = registered.position();
    assert_eq!(
        wijkpuls_domain::CityState::at_position(&log.records, at_registration),
        registered
    );
    assert_eq!(
        wijkpuls_domain::CityState::at_position(&log.records, submitted_at),
        after_submit
    );
    assert_eq!(
        wijkpuls_domain::CityState::at_time(&log.records, time_of(submitted_at)),
        after_submit
    );
    assert_eq!(
        wijkpuls_domain::CityState::at_time(&log.records, time_of(0)),
        wijkpuls_domain::CityState::new()
    );
    assert_eq!(wijkpuls_domain::CityState::fold(&log.records), log.state);
}

#[test]
fn applying_an_event_twice_changes_nothing() {
    let mut log = Log::arnhem();
    allocate(&mut log, "WK020207", Theme::Groen, "1000.00");
    log.execute(submit(1, klarendal(), Theme::Groen, "100.00"));
    fund(&mut log, 1, "100.00");
    let mut state = log.state.clone();
    for record in &log.records {
        state.apply(record);
    }
    assert_eq!(state, log.state);
}

#[test]
fn events_about_unknown_things_are_skipped_without_panicking() {
    let mut log = Log::arnhem();
    let before = log.state.clone();
    log.record([InitiativeFunded {
        id: id(42),
        line: line(klarendal(), 2026, Theme::Groen),
        amount: money("100.00"),
    }
    .into()]);
    assert_eq!(log.state.initiatives().count(), 0);
    assert_eq!(
        log.state
            .budget_line(&line(klarendal(), 2026, Theme::Groen)),
        before.budget_line(&line(klarendal(), 2026, Theme::Groen))
    );
    assert_eq!(log.state.position(), before.position() + 1);
    // A recorded event at a position already passed is ignored.
    let stale = Recorded {
        position: 1,
        recorded_at: time_of(1),
        event: log.records[1].event.clone(),
    };
    let state = log.state.clone();
    log.state.apply(&stale);
    assert_eq!(log.state, state);
}

#[test]
fn every_kind_of_history_entry_reads_in_dutch() {
    let mut log = Log::arnhem();
    allocate(&mut log, "WK020207", Theme::Groen, "1000.00");
    let mut by_phone = submit(1, klarendal(), Theme::Groen, "250.00");
    if let Command::Submit {
        channel,
        entered_by_staff,
        ..
    } = &mut by_phone
    {
        *channel = wijkpuls_domain::Channel::Phone;
        *entered_by_staff = true;
    }
    log.execute(by_phone);
    log.execute(Command::Connect {
        id: id(1),
        target: ConnectionTarget::Party {
            name: PartyName::parse("Rijnstad").unwrap(),
            kind: PartyKind::Organisation,
        },
        note: Note::parse("Helpt mee.").unwrap().into(),
    });
    fund(&mut log, 1, "250.00");
    log.execute(Command::Complete {
        id: id(1),
        spent: money("200.50"),
        report: Report::parse("Klaar.").unwrap(),
    });
    log.execute(Command::EraseInitiatorData { id: id(1) });
    log.execute(submit(2, klarendal(), Theme::Groen, "50.00"));
    log.execute(Command::Reject {
        id: id(2),
        reason: Reason::parse("Valt onder regulier onderhoud.").unwrap(),
    });
    let summaries = |n| -> Vec<String> {
        log.history(log.state.initiative(&id(n)).unwrap())
            .iter()
            .map(|h| h.summary())
            .collect()
    };
    assert_eq!(
        summaries(1),
        vec![
            "Ingediend telefonisch (ingevoerd door een medewerker): Groen, gevraagd € 250",
            "Verbonden met organisatie Rijnstad",
            "Gefinancierd: € 250 uit het budget groen 2026",
            "Afgerond: € 200,50 besteed, € 49,50 terug naar het budget",
            "Persoonsgegevens van de initiatiefnemer gewist",
        ]
    );
    assert_eq!(summaries(2)[1], "Afgewezen: Valt onder regulier onderhoud.");
}

#[test]
fn an_event_touches_its_own_wijk_and_initiative_and_what_it_connects() {
    let mut log = Log::arnhem();
    log.execute(submit(1, klarendal(), Theme::Groen, "100.00"));
    log.execute(submit(2, wijk("WK020224"), Theme::Groen, "100.00"));
    let decision = log.execute(Command::Connect {
        id: id(1),
        target: ConnectionTarget::Initiative(id(2)),
        note: Note::parse("Zelfde idee in Schuytgraaf.").unwrap().into(),
    });
    let touched = log.state.touched_by(&decision.events[0]);
    assert_eq!(touched.initiatives, vec![id(1), id(2)]);
    assert_eq!(touched.wijken, vec![klarendal(), wijk("WK020224")]);

    let decision = log.execute(Command::Reject {
        id: id(2),
        reason: Reason::parse("Valt onder regulier onderhoud.").unwrap(),
    });
    let touched = log.state.touched_by(&decision.events[0]);
    assert_eq!(touched.initiatives, vec![id(2)]);
    assert_eq!(touched.wijken, vec![wijk("WK020224")]);

    // A gebied's new team contact shows in every wijk of the gebied, and no initiative.
    let w2 = GebiedCode::parse("W2").unwrap();
    let team = log.state.gebied(&w2).unwrap().team.clone();
    let decision = log.execute(Command::ChangeTeamContact { gebied: w2, team });
    let touched = log.state.touched_by(&decision.events[0]);
    assert!(touched.initiatives.is_empty());
    assert_eq!(touched.wijken, log.state.gebied(&w2).unwrap().wijken);
    assert!(touched.wijken.contains(&klarendal()));
}

#[test]
fn the_feed_line_names_the_wijk_and_the_initiative() {
    let mut log = Log::arnhem();
    allocate(&mut log, "WK020207", Theme::Groen, "1000.00");
    log.execute(submit(1, klarendal(), Theme::Groen, "250.00"));
    let decision = log.execute(Command::Fund {
        id: id(1),
        year: 2026,
        amount: money("250.00"),
    });
    let title = log.state.initiative(&id(1)).unwrap().title.clone();
    assert_eq!(
        log.state.event_line(&decision.events[0]),
        format!("Klarendal: initiatief '{title}' gefinancierd, € 250")
    );
    let allocation = &log.records[log.records.len() - 3].event;
    assert_eq!(
        log.state.event_line(allocation),
        "Klarendal: budget groen 2026 vastgesteld op € 1.000"
    );
}
