//! Who may do what (issue 5), as matrices: every mutation × every role, asserting the exact
//! outcome of each cell (and that a refused cell recorded nothing), and every personal field ×
//! every way of looking at it.
//!
//! The rules: submit — anyone; allocateBudget, eraseInitiatorData, changeTeamContact — admin
//! (public: UNAUTHENTICATED, staff: FORBIDDEN); connect, fund, complete, reject, refer — staff
//! of the initiative's gebied or an admin (public: UNAUTHENTICATED, other staff: FORBIDDEN);
//! withdraw — those, or anyone with the initiative's tracking code (a wrong code: FORBIDDEN).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    mutation_permission_matrix,
    personal_data_visibility_matrix,
    event_actor_is_for_staff_and_admins_only,
    event_feed_permission_matrix,
    websocket_with_a_bad_token_is_closed_with_4403,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Public,
    /// Staff of W2, where the fixtures are (Klarendal).
    StaffOwnGebied,
    /// Staff of W1 and W2.
    StaffOfSeveral,
    /// Staff of W1 only.
    StaffOtherGebied,
    Admin,
    /// The public with the initiative's own tracking code.
    Initiator,
    /// The public with another initiative's tracking code.
    WrongTrackingCode,
}

const EVERYONE: [Who; 7] = [
    Who::Public,
    Who::StaffOwnGebied,
    Who::StaffOfSeveral,
    Who::StaffOtherGebied,
    Who::Admin,
    Who::Initiator,
    Who::WrongTrackingCode,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Refused(&'static str),
}

const UNAUTHENTICATED: Outcome = Outcome::Refused("UNAUTHENTICATED");
const FORBIDDEN: Outcome = Outcome::Refused("FORBIDDEN");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    Submit,
    Allocate,
    Connect,
    Fund,
    Complete,
    Reject,
    Refer,
    Withdraw,
    Erase,
    ChangeTeamContact,
}

const MUTATIONS: [Mutation; 10] = [
    Mutation::Submit,
    Mutation::Allocate,
    Mutation::Connect,
    Mutation::Fund,
    Mutation::Complete,
    Mutation::Reject,
    Mutation::Refer,
    Mutation::Withdraw,
    Mutation::Erase,
    Mutation::ChangeTeamContact,
];

/// The rules, cell by cell; `None` where the role does not apply (only withdrawing takes a
/// tracking code).
fn expected(mutation: Mutation, who: Who) -> Option<Outcome> {
    use Mutation::*;
    use Who::*;
    let tracking = matches!(who, Initiator | WrongTrackingCode);
    Some(match mutation {
        Submit if tracking => return None,
        Submit => Outcome::Allowed,
        Allocate | Erase | ChangeTeamContact => match who {
            _ if tracking => return None,
            Public => UNAUTHENTICATED,
            StaffOwnGebied | StaffOfSeveral | StaffOtherGebied => FORBIDDEN,
            Admin => Outcome::Allowed,
            Initiator | WrongTrackingCode => unreachable!(),
        },
        Connect | Fund | Complete | Reject | Refer => match who {
            _ if tracking => return None,
            Public => UNAUTHENTICATED,
            StaffOwnGebied | StaffOfSeveral | Admin => Outcome::Allowed,
            StaffOtherGebied => FORBIDDEN,
            Initiator | WrongTrackingCode => unreachable!(),
        },
        Withdraw => match who {
            Public => UNAUTHENTICATED,
            StaffOwnGebied | StaffOfSeveral | Admin | Initiator => Outcome::Allowed,
            StaffOtherGebied | WrongTrackingCode => FORBIDDEN,
        },
    })
}

impl TestApp {
    fn token_of(&self, who: Who) -> Option<String> {
        match who {
            Who::Public | Who::Initiator | Who::WrongTrackingCode => None,
            Who::StaffOwnGebied => Some(self.staff_token_for("anna", &["W2"])),
            Who::StaffOfSeveral => Some(self.staff_token_for("bert", &["W1", "W2"])),
            Who::StaffOtherGebied => Some(self.staff_token_for("carla", &["W1"])),
            Who::Admin => Some(self.admin_token.clone()),
        }
    }
}

/// A fresh target for `mutation` in the state it needs; the query and its input.
async fn prepare(app: &TestApp, mutation: Mutation) -> (&'static str, Value, Submitted) {
    let target = app.submit(KLARENDAL, "GROEN", "10").await;
    let id = target.id.clone();
    let (query, input) = match mutation {
        Mutation::Submit => (
            SUBMIT,
            json!({ "wijkCode": KLARENDAL, "title": "Nog een idee", "theme": "SPORT", "requestedAmount": "5",
                    "initiator": { "name": "Iemand", "email": "iemand@example.nl" } }),
        ),
        Mutation::Allocate => (
            ALLOCATE,
            // Not the amount allocated above: setting a line to what it is records nothing.
            json!({ "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "1000001" }),
        ),
        Mutation::Connect => (
            CONNECT,
            json!({ "initiativeId": id, "party": { "name": "Wijkraad", "kind": "ORGANISATION" }, "note": "n" }),
        ),
        Mutation::Fund => (
            FUND,
            json!({ "initiativeId": id, "amount": "10", "year": YEAR }),
        ),
        Mutation::Complete => {
            app.fund(&id, "10").await;
            (COMPLETE, json!({ "initiativeId": id, "spentAmount": "5" }))
        }
        Mutation::Reject => (REJECT, json!({ "initiativeId": id, "reason": "Nee" })),
        Mutation::Refer => (
            REFER,
            json!({ "initiativeId": id, "sociaalWijkteam": "Sociaal wijkteam Noord" }),
        ),
        Mutation::Withdraw => (WITHDRAW, json!({ "initiativeId": id })),
        Mutation::Erase => (ERASE, json!({ "initiativeId": id })),
        Mutation::ChangeTeamContact => (
            CHANGE_TEAM_CONTACT,
            json!({ "gebiedCode": "W2", "email": "team.noordwest@arnhem.nl", "phone": "14 026" }),
        ),
    };
    (query, input, target)
}

async fn mutation_permission_matrix(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000000").await;
    // A tracking code of another initiative, for the "wrong code" column.
    let stranger = app.submit(KLARENDAL, "GROEN", "10").await;
    let mut table = String::new();
    let mut wrong = Vec::new();
    for mutation in MUTATIONS {
        for who in EVERYONE {
            let Some(expected) = expected(mutation, who) else {
                continue;
            };
            let (query, mut input, target) = prepare(&app, mutation).await;
            match who {
                Who::Initiator => input["trackingCode"] = json!(target.tracking_code),
                Who::WrongTrackingCode => input["trackingCode"] = json!(stranger.tracking_code),
                _ => {}
            }
            let before = app.head().await;
            let response = app
                .graphql(
                    query,
                    json!({ "input": input }),
                    app.token_of(who).as_deref(),
                )
                .await;
            let after = app.head().await;
            let errors = response["errors"].as_array().cloned().unwrap_or_default();
            let outcome = match errors.first() {
                None if !response["data"].is_null() => Outcome::Allowed,
                None => Outcome::Refused("(no data, no error)"),
                Some(error) => {
                    let error = GqlError::from_json(error);
                    assert_safe_message(&error.message);
                    match error.code.as_deref() {
                        Some("UNAUTHENTICATED") => UNAUTHENTICATED,
                        Some("FORBIDDEN") => FORBIDDEN,
                        Some("BAD_USER_INPUT") => Outcome::Refused("BAD_USER_INPUT"),
                        Some("NOT_FOUND") => Outcome::Refused("NOT_FOUND"),
                        Some("INVALID_TRANSITION") => Outcome::Refused("INVALID_TRANSITION"),
                        Some("BUDGET_EXCEEDED") => Outcome::Refused("BUDGET_EXCEEDED"),
                        _ => Outcome::Refused("(other)"),
                    }
                }
            };
            let recorded = after.0 - before.0;
            let expected_recorded = usize::from(expected == Outcome::Allowed);
            let _ = writeln!(
                table,
                "{mutation:?} × {who:?}: {outcome:?}, {recorded} event(s)"
            );
            if outcome != expected || recorded != expected_recorded {
                wrong.push(format!(
                    "{mutation:?} × {who:?}: expected {expected:?} recording {expected_recorded}, got {outcome:?} recording {recorded}: {response}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells of the permission matrix that differ from the rules:\n{}\n\nthe whole matrix:\n{table}",
        wrong.join("\n")
    );
}

async fn personal_data_visibility_matrix(app: TestApp) {
    let initiator = json!({ "name": "Femke Hazelaar", "email": "femke.hazelaar@example.nl", "phone": "06-12345678" });
    let mine = app
        .submit_with(
            json!({ "wijkCode": KLARENDAL, "title": "Zwerfvuil opruimen", "theme": "WIJKONDERHOUD",
                    "requestedAmount": "75", "initiator": initiator }),
            None,
        )
        .await;
    let someone_else = app.submit(KLARENDAL, "GROEN", "10").await;
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": mine.id, "party": { "name": "Jan Jansen", "kind": "PERSON" }, "note": "Belt Femke terug" } }),
        Some(&app.admin_token),
    )
    .await;
    let person = json!({ "kind": "PERSON", "name": "Jan Jansen" });
    let hidden_person = json!({ "kind": "PERSON", "name": null });

    // (who, tracking code given to `initiator(trackingCode:)`, sees the personal data)
    let rows: [(Who, Option<&str>, bool); 7] = [
        (Who::Public, None, false),
        (Who::StaffOwnGebied, None, true),
        (Who::StaffOfSeveral, None, true),
        (Who::StaffOtherGebied, None, false),
        (Who::Admin, None, true),
        (Who::Initiator, Some(&mine.tracking_code), true),
        (
            Who::WrongTrackingCode,
            Some(&someone_else.tracking_code),
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (who, code, sees) in rows {
        let token = app.token_of(who);
        let data = app
            .data(
                "query($id: ID!, $c: String) {
                    initiative(id: $id) { initiator(trackingCode: $c) { name email phone } connections { note party { kind name } } }
                    initiatives(first: 100) { nodes { id initiator(trackingCode: $c) { name } } }
                    wijk(code: \"WK020207\") { initiatives(first: 100) { nodes { id initiator { name } } } } }",
                json!({ "id": mine.id, "c": code }),
                token.as_deref(),
            )
            .await;
        let expected_initiator = if sees { initiator.clone() } else { json!(null) };
        if data["initiative"]["initiator"] != expected_initiator {
            wrong.push(format!(
                "{who:?}: initiative.initiator is {}",
                data["initiative"]["initiator"]
            ));
        }
        let in_list = data["initiatives"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == mine.id)
            .unwrap()["initiator"]
            .clone();
        let expected_name = if sees {
            json!({ "name": "Femke Hazelaar" })
        } else {
            json!(null)
        };
        if in_list != expected_name {
            wrong.push(format!("{who:?}: initiatives.nodes.initiator is {in_list}"));
        }
        // Without the code, in the wijk's list: only for staff of the gebied and admins.
        let staff_sees = matches!(who, Who::StaffOwnGebied | Who::StaffOfSeveral | Who::Admin);
        let in_wijk = data["wijk"]["initiatives"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == mine.id)
            .unwrap()["initiator"]
            .clone();
        let expected_in_wijk = if staff_sees {
            json!({ "name": "Femke Hazelaar" })
        } else {
            json!(null)
        };
        if in_wijk != expected_in_wijk {
            wrong.push(format!(
                "{who:?}: wijk.initiatives.nodes.initiator is {in_wijk}"
            ));
        }
        // A person it is connected with, and staff's note, are for staff of the gebied.
        let link = &data["initiative"]["connections"][0];
        let (expected_party, expected_note) = if staff_sees {
            (person.clone(), json!("Belt Femke terug"))
        } else {
            (hidden_person.clone(), json!(null))
        };
        if link["party"] != expected_party || link["note"] != expected_note {
            wrong.push(format!("{who:?}: the connection shows {link}"));
        }
    }

    // The initiator follows their initiative with the code alone.
    let tracked = app
        .data(
            "query($c: String!) { trackedInitiative(trackingCode: $c) { id status initiator { name email phone } } }",
            json!({ "c": mine.tracking_code }),
            None,
        )
        .await;
    if tracked["trackedInitiative"]["id"] != mine.id {
        wrong.push(format!(
            "trackedInitiative(right code) is {}",
            tracked["trackedInitiative"]
        ));
    }
    if tracked["trackedInitiative"]["initiator"] != initiator {
        wrong.push(format!(
            "trackedInitiative(right code).initiator is {} (the initiator, who holds the code, should see their own data)",
            tracked["trackedInitiative"]["initiator"]
        ));
    }
    let tracked = app
        .data(
            "query($c: String!) { trackedInitiative(trackingCode: $c) { initiator(trackingCode: $c) { name } } }",
            json!({ "c": mine.tracking_code }),
            None,
        )
        .await;
    if tracked["trackedInitiative"]["initiator"] != json!({ "name": "Femke Hazelaar" }) {
        wrong.push(format!(
            "trackedInitiative(right code).initiator(right code) is {}",
            tracked["trackedInitiative"]
        ));
    }
    // A wrong code, or a forged one naming this initiative, finds nothing.
    let forged = format!(
        "{}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        mine.id.replace('-', "")
    );
    for code in [
        someone_else.tracking_code.as_str(),
        forged.as_str(),
        "nonsense",
        "",
    ] {
        let tracked = app
            .data(
                "query($c: String!) { trackedInitiative(trackingCode: $c) { id initiator { name } } }",
                json!({ "c": code }),
                None,
            )
            .await;
        let found = &tracked["trackedInitiative"];
        if code == someone_else.tracking_code {
            if found["id"] != someone_else.id {
                wrong.push(format!("trackedInitiative(another code) is {found}"));
            }
        } else if !found.is_null() {
            wrong.push(format!("trackedInitiative({code:?}) is {found}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "personal data shown wrongly:\n{}",
        wrong.join("\n")
    );
}

async fn event_actor_is_for_staff_and_admins_only(app: TestApp) {
    app.submit_with(
        json!({ "wijkCode": KLARENDAL, "title": "Door staf ingevoerd", "theme": "GROEN", "requestedAmount": "5",
                "channel": "IN_PERSON", "initiator": { "name": "X", "email": "x@example.nl" } }),
        Some(&app.staff_token_for("dirk", &["W2"])),
    )
    .await;
    let query =
        "{ events(first: 500) { type actor } cityOverview { recentEvents(limit: 1) { actor } } }";
    for (who, expected) in [
        (Who::Public, json!(null)),
        (Who::StaffOtherGebied, json!("dirk")),
        (Who::StaffOwnGebied, json!("dirk")),
        (Who::Admin, json!("dirk")),
    ] {
        let data = app
            .data(query, json!({}), app.token_of(who).as_deref())
            .await;
        let events = data["events"].as_array().unwrap();
        assert_eq!(events.last().unwrap()["actor"], expected, "{who:?}");
        assert_eq!(
            data["cityOverview"]["recentEvents"][0]["actor"], expected,
            "{who:?}"
        );
        if who == Who::Public {
            assert!(
                events.iter().all(|e| e["actor"].is_null()),
                "the public never sees who"
            );
        }
    }
}

/// The staff feed over WebSocket: public UNAUTHENTICATED, staff (any gebied) and admins allowed.
async fn event_feed_permission_matrix(app: TestApp) {
    let mut wrong = Vec::new();
    for (who, expected) in [
        (Who::Public, UNAUTHENTICATED),
        (Who::StaffOwnGebied, Outcome::Allowed),
        (Who::StaffOtherGebied, Outcome::Allowed),
        (Who::Admin, Outcome::Allowed),
    ] {
        let mut ws = app.ws(app.token_of(who).as_deref()).await;
        let id = ws
            .subscribe(
                "subscription { eventFeed(after: \"0\") { position type actor } }",
                json!({}),
            )
            .await;
        let outcome = match ws.next(&id).await {
            Next::Data(data) if data["eventFeed"]["type"] == "MunicipalityRegistered" => {
                Outcome::Allowed
            }
            Next::Errors(errors) if errors[0].code.as_deref() == Some("UNAUTHENTICATED") => {
                UNAUTHENTICATED
            }
            Next::Errors(errors) if errors[0].code.as_deref() == Some("FORBIDDEN") => FORBIDDEN,
            other => {
                wrong.push(format!("{who:?}: unexpected {other:?}"));
                continue;
            }
        };
        if outcome != expected {
            wrong.push(format!("{who:?}: expected {expected:?}, got {outcome:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "eventFeed permissions:\n{}",
        wrong.join("\n")
    );
}

/// A token that does not verify must not silently become the public: the socket is closed
/// with 4403 (graphql-ws's "Forbidden").
async fn websocket_with_a_bad_token_is_closed_with_4403(app: TestApp) {
    let expired = app.tokens.issue(
        wijkpuls_api::auth::Role::Admin,
        "beheer",
        &[],
        std::time::Duration::ZERO,
    );
    let mut wrong = Vec::new();
    for (what, token) in [("malformed", "nonsense".to_owned()), ("expired", expired)] {
        let mut ws = WsClient::connect(app.address).await;
        match ws.init(Some(&token)).await {
            Init::Closed(Some(4403)) => {}
            other => wrong.push(format!(
                "{what} token: connection_init answered with {other:?}"
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "a bad token on connection_init must close the socket with 4403:\n{}",
        wrong.join("\n")
    );
}
