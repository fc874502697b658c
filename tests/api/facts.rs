//! Structured facts beside the Dutch text (issue 16, items 5 and 6): linked initiatives in one
//! request, the moments of an initiative's decisions, typed event fields, amounts after a
//! withdrawal, counts of the year asked for, ordering, and the naming scheme.

use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    a_link_carries_the_linked_initiative,
    an_initiative_says_when_it_was_funded_decided_and_completed,
);

/// A link to another initiative brings that initiative itself, not only its id, so a client
/// needs no second request per link; a link to a party has none.
async fn a_link_carries_the_linked_initiative(app: TestApp) {
    let staff = app.staff_token("W2");
    let here = app.submit(KLARENDAL, "GROEN", "500").await;
    let there = app.submit(CENTRUM, "SPORT", "700").await;
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": here.id, "targetInitiativeId": there.id, "note": "samen" } }),
        Some(&staff),
    )
    .await;
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": here.id, "party": { "name": "Buurtcentrum", "kind": "ORGANISATION" }, "note": "zaal" } }),
        Some(&staff),
    )
    .await;
    let query = "query($id: ID!) { initiative(id: $id) { connections {
        initiativeId initiative { id title theme status wijk { code } } } } }";
    let links = &app.data(query, json!({ "id": here.id }), None).await["initiative"]["connections"];
    assert_eq!(
        links,
        &json!([
            { "initiativeId": there.id, "initiative": { "id": there.id, "title": "Initiatief SPORT in WK020201",
              "theme": "SPORT", "status": "SUBMITTED", "wijk": { "code": CENTRUM } } },
            { "initiativeId": null, "initiative": null },
        ])
    );
    let back = &app.data(query, json!({ "id": there.id }), None).await["initiative"]["connections"];
    assert_eq!(back[0]["initiative"]["id"], here.id);
    assert_eq!(back[0]["initiative"]["status"], "CONNECTED");
}

const MOMENTS: &str = "query($id: ID!) { initiative(id: $id) {
    status submittedAt fundedAt decidedAt completedAt history { type at } } }";

/// The moment of the event of `kind` in an initiative's history.
fn moment(initiative: &Value, kind: &str) -> Value {
    initiative["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == kind)
        .map(|h| h["at"].clone())
        .unwrap_or_else(|| panic!("no {kind} in {initiative}"))
}

/// `fundedAt`, `decidedAt` and `completedAt` are the moments of those events: `null` before
/// them; a rejection and a referral are decisions too, a withdrawal is not.
async fn an_initiative_says_when_it_was_funded_decided_and_completed(app: TestApp) {
    let staff = app.staff_token("W2");
    app.allocate(KLARENDAL, "GROEN", "5000").await;
    let funded = app.submit(KLARENDAL, "GROEN", "1000").await;
    let before = &app.data(MOMENTS, json!({ "id": funded.id }), None).await["initiative"];
    assert_eq!(
        (
            &before["fundedAt"],
            &before["decidedAt"],
            &before["completedAt"]
        ),
        (&Value::Null, &Value::Null, &Value::Null)
    );

    app.fund(&funded.id, "1000").await;
    app.data(
        COMPLETE,
        json!({ "input": { "initiativeId": funded.id, "spentAmount": "900" } }),
        Some(&staff),
    )
    .await;
    let done = &app.data(MOMENTS, json!({ "id": funded.id }), None).await["initiative"];
    assert_eq!(done["fundedAt"], moment(done, "InitiativeFunded"));
    assert_eq!(done["decidedAt"], moment(done, "InitiativeFunded"));
    assert_eq!(done["completedAt"], moment(done, "InitiativeCompleted"));
    assert!(
        done["fundedAt"].as_str() < done["completedAt"].as_str()
            || done["fundedAt"] == done["completedAt"]
    );

    let rejected = app.submit(KLARENDAL, "GROEN", "100").await;
    app.reject(&rejected.id).await;
    let rejected = &app.data(MOMENTS, json!({ "id": rejected.id }), None).await["initiative"];
    assert_eq!(
        rejected["decidedAt"],
        moment(rejected, "InitiativeRejected")
    );
    assert_eq!(rejected["fundedAt"], Value::Null);

    let referred = app.submit(KLARENDAL, "WELZIJN", "100").await;
    app.data(
        REFER,
        json!({ "input": { "initiativeId": referred.id, "sociaalWijkteam": "Sociaal wijkteam Noord" } }),
        Some(&staff),
    )
    .await;
    let referred = &app.data(MOMENTS, json!({ "id": referred.id }), None).await["initiative"];
    assert_eq!(
        referred["decidedAt"],
        moment(referred, "InitiativeReferred")
    );

    let withdrawn = app.submit(KLARENDAL, "GROEN", "100").await;
    app.data(
        WITHDRAW,
        json!({ "input": { "initiativeId": withdrawn.id } }),
        Some(&staff),
    )
    .await;
    let withdrawn = &app.data(MOMENTS, json!({ "id": withdrawn.id }), None).await["initiative"];
    assert_eq!(withdrawn["decidedAt"], Value::Null);
}
