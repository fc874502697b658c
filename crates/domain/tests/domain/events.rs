//! Every event survives its trip through the store's JSON payload, with its stream and tags.

use std::collections::HashSet;

use wijkpuls_domain::events::{
    BudgetAllocated, GebiedRegistered, InitiativeCompleted, InitiativeConnected, InitiativeFunded,
    InitiativeReferred, InitiativeRejected, InitiativeWithdrawn, InitiatorDataErased,
    MunicipalityRegistered, ReturnedFunds, TeamContactChanged, WijkRegistered,
};
use wijkpuls_domain::{
    ConnectionTarget, DomainError, DomainEvent, Email, GebiedCode, MunicipalityCode, Note,
    PartyKind, PartyName, Phone, PlaceName, Reason, Report, SociaalWijkteam, TeamContact, Theme,
    WithdrawnBy,
};

use crate::support::{id, klarendal, line, money, submitted};

fn one_of_each() -> Vec<DomainEvent> {
    let w2 = GebiedCode::parse("W2").unwrap();
    let team = TeamContact {
        email: Email::parse("leefomgeving.w2@arnhem.nl").unwrap(),
        phone: Phone::parse("14 026").unwrap(),
    };
    let groen = line(klarendal(), 2026, Theme::Groen);
    vec![
        MunicipalityRegistered {
            code: MunicipalityCode::parse("GM0202").unwrap(),
            name: PlaceName::parse("Arnhem").unwrap(),
            provenance: "CBS".to_owned(),
        }
        .into(),
        GebiedRegistered {
            code: w2,
            name: PlaceName::parse("Noordwest").unwrap(),
            team: team.clone(),
        }
        .into(),
        WijkRegistered {
            code: klarendal(),
            name: PlaceName::parse("Klarendal").unwrap(),
            gebied: w2,
        }
        .into(),
        TeamContactChanged { gebied: w2, team }.into(),
        BudgetAllocated {
            line: groen,
            allocated: money("12345.67"),
        }
        .into(),
        submitted(1, klarendal(), Theme::Groen, "1250.50").into(),
        InitiativeConnected {
            id: id(1),
            wijk: klarendal(),
            target: ConnectionTarget::Initiative(id(2)),
            note: Note::parse("regel een\nregel twee").unwrap().into(),
        }
        .into(),
        InitiativeConnected {
            id: id(1),
            wijk: klarendal(),
            target: ConnectionTarget::Party {
                name: PartyName::parse("Rijnstad").unwrap(),
                kind: PartyKind::Organisation,
            },
            note: Note::parse("Helpt mee").unwrap().into(),
        }
        .into(),
        InitiativeFunded {
            id: id(1),
            line: groen,
            amount: money("1000.00"),
        }
        .into(),
        InitiativeCompleted {
            id: id(1),
            line: groen,
            funded: money("1000.00"),
            spent: money("999.99"),
            report: Report::parse("").unwrap(),
        }
        .into(),
        InitiativeRejected {
            id: id(1),
            wijk: klarendal(),
            reason: Reason::parse("Nee").unwrap(),
        }
        .into(),
        InitiativeReferred {
            id: id(1),
            wijk: klarendal(),
            sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Noordwest").unwrap(),
            note: Some(Note::parse("Individuele vraag").unwrap().into()),
        }
        .into(),
        InitiativeWithdrawn {
            id: id(1),
            wijk: klarendal(),
            by: WithdrawnBy::Initiator,
            returned: Some(ReturnedFunds {
                line: groen,
                amount: money("1000.00"),
            }),
            reason: None,
        }
        .into(),
        InitiatorDataErased {
            id: id(1),
            wijk: klarendal(),
        }
        .into(),
    ]
}

#[test]
fn every_event_round_trips_through_its_payload() {
    let events = one_of_each();
    let types: HashSet<&str> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        DomainEvent::TYPES.iter().copied().collect::<HashSet<_>>(),
        "one of each type"
    );
    for event in events {
        let payload = event.to_payload();
        assert!(payload.get("type").is_none(), "no type tag in the payload");
        // Through text, as the store keeps it.
        let text = serde_json::to_string(&payload).unwrap();
        let back = DomainEvent::from_payload(
            event.event_type(),
            DomainEvent::SCHEMA_VERSION,
            serde_json::from_str(&text).unwrap(),
        )
        .unwrap();
        assert_eq!(back, event);
        // Read where it is, as the tailer reads it.
        let payload: serde_json::Value = serde_json::from_str(&text).unwrap();
        let by_ref = DomainEvent::from_payload_ref(
            event.event_type(),
            DomainEvent::SCHEMA_VERSION,
            &payload,
        )
        .unwrap();
        assert_eq!(by_ref, event);
    }
}

#[test]
fn reading_a_payload_in_place_upcasts_and_refuses_like_reading_it_taken() {
    let v1 = serde_json::json!({
        "line": { "wijk": "WK020207", "year": 2026, "theme": "groen" },
        "amount": "12345.67",
    });
    let taken = DomainEvent::from_payload("BudgetAllocated", 1, v1.clone()).unwrap();
    assert_eq!(
        DomainEvent::from_payload_ref("BudgetAllocated", 1, &v1).unwrap(),
        taken
    );
    let unknown = serde_json::json!({});
    assert_eq!(
        DomainEvent::from_payload_ref("InitiativeBlessed", DomainEvent::SCHEMA_VERSION, &unknown)
            .unwrap_err(),
        DomainEvent::from_payload("InitiativeBlessed", DomainEvent::SCHEMA_VERSION, unknown)
            .unwrap_err()
    );
}

#[test]
fn payloads_are_plain_json_in_the_domains_words() {
    let funded = &one_of_each()[8];
    assert_eq!(
        funded.to_payload(),
        serde_json::json!({
            "id": id(1).to_string(),
            "line": { "wijk": "WK020207", "year": 2026, "theme": "groen" },
            "amount": "1000.00",
        })
    );
    let party = &one_of_each()[7];
    assert_eq!(
        party.to_payload()["target"],
        serde_json::json!({ "party": { "name": "Rijnstad", "kind": "organisation" } })
    );
}

#[test]
fn streams_and_tags() {
    let events = one_of_each();
    let uuid = id(1).to_string();
    let stream = |i: usize| events[i].stream_id();
    assert_eq!(stream(0), "municipality-GM0202");
    assert_eq!(stream(1), "gebied-W2");
    assert_eq!(stream(2), "wijk-WK020207");
    assert_eq!(stream(3), "gebied-W2");
    assert_eq!(stream(4), "budget-WK020207-2026");
    for i in 5..events.len() {
        assert_eq!(stream(i), format!("initiative-{uuid}"));
    }
    assert_eq!(
        events[2].tags(),
        vec!["reference-data", "wijk:WK020207", "gebied:W2"]
    );
    assert_eq!(
        events[4].tags(),
        vec![
            "line:WK020207/2026/groen",
            "wijk:WK020207",
            "budget-year:2026"
        ]
    );
    assert_eq!(
        events[6].tags(),
        vec![
            format!("initiative:{uuid}"),
            "wijk:WK020207".to_owned(),
            format!("initiative:{}", id(2)),
        ]
    );
    assert_eq!(
        events[8].tags(),
        vec![
            format!("initiative:{uuid}"),
            "wijk:WK020207".to_owned(),
            "line:WK020207/2026/groen".to_owned(),
        ]
    );
    assert!(events[12]
        .tags()
        .contains(&"line:WK020207/2026/groen".to_owned()));
    // Tags and streams never hold personal data: only codes and ids.
    for event in &events {
        for tag in event.tags() {
            assert!(tag.is_ascii() && !tag.contains(' '), "{tag}");
        }
    }
}

#[test]
fn unreadable_events_say_why() {
    let payload = one_of_each()[8].to_payload();
    let unknown = DomainEvent::from_payload("InitiativeBlessed", 1, payload.clone());
    assert!(matches!(unknown, Err(DomainError::UnreadableEvent { .. })));
    let next = DomainEvent::SCHEMA_VERSION + 1;
    let future = DomainEvent::from_payload("InitiativeFunded", next, payload.clone()).unwrap_err();
    assert!(
        future
            .to_string()
            .contains(&format!("schema version {next}")),
        "{future}"
    );
    let none = DomainEvent::from_payload("InitiativeFunded", 0, payload.clone()).unwrap_err();
    assert!(none.to_string().contains("schema version 0"), "{none}");
    let mut broken = payload;
    broken["amount"] = serde_json::json!("-5.00");
    let err = DomainEvent::from_payload("InitiativeFunded", 1, broken).unwrap_err();
    assert!(err.to_string().contains("negative"), "{err}");
}

#[test]
fn a_version_1_budget_allocation_reads_as_the_current_shape() {
    // As version 1 wrote it: the allocation was named "amount".
    let v1 = serde_json::json!({
        "line": { "wijk": "WK020207", "year": 2026, "theme": "groen" },
        "amount": "12345.67",
    });
    let read = DomainEvent::from_payload("BudgetAllocated", 1, v1).unwrap();
    assert_eq!(read, one_of_each()[4]);
    assert_eq!(
        read.to_payload(),
        serde_json::json!({
            "line": { "wijk": "WK020207", "year": 2026, "theme": "groen" },
            "allocated": "12345.67",
        }),
        "written back in the current shape"
    );
    // A version-1 payload without the old field is unreadable, and says which field.
    let missing = serde_json::json!({
        "line": { "wijk": "WK020207", "year": 2026, "theme": "groen" },
        "allocated": "1.00",
    });
    let err = DomainEvent::from_payload("BudgetAllocated", 1, missing).unwrap_err();
    assert!(err.to_string().contains("`amount`"), "{err}");
}

#[test]
fn events_whose_shape_did_not_change_read_the_same_at_every_version() {
    for event in one_of_each() {
        if matches!(event, DomainEvent::BudgetAllocated(_)) {
            continue;
        }
        for version in 1..=DomainEvent::SCHEMA_VERSION {
            let back = DomainEvent::from_payload(event.event_type(), version, event.to_payload());
            assert_eq!(
                back.as_ref(),
                Ok(&event),
                "{} v{version}",
                event.event_type()
            );
        }
    }
}
