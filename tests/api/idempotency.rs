//! Retries: a mutation sent again with the same `idempotencyKey` (a client that lost the
//! answer) gets the same result and records nothing new; different keys are different
//! requests.

use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    retried_submission_returns_the_same_initiative_and_tracking_code,
    different_keys_submit_twice,
    the_same_key_of_different_callers_is_not_shared,
    another_public_client_with_the_same_key_never_gets_the_first_tracking_code,
    retried_allocation_records_once,
    retried_connect_returns_the_same_result,
    retried_fund_returns_the_same_result,
    retried_complete_returns_the_same_result,
    retried_reject_returns_the_same_result,
    retried_refer_returns_the_same_result,
    retried_withdraw_returns_the_same_result,
    retried_erasure_returns_the_same_result,
    retried_team_contact_change_records_once,
    a_key_replayed_by_staff_of_another_gebied_gets_no_result,
);

fn submission(key: &str) -> Value {
    json!({ "input": {
        "wijkCode": KLARENDAL,
        "title": "Geveltuinen in de Hommelstraat",
        "theme": "GROEN",
        "requestedAmount": "450.00",
        "initiator": { "name": "Sanne Visser", "email": "sanne@example.nl" },
        "idempotencyKey": key,
    }})
}

async fn retried_submission_returns_the_same_initiative_and_tracking_code(app: TestApp) {
    let (events_before, _) = app.head().await;
    let first = app.data(SUBMIT, submission("submit-7f3a"), None).await;
    let second = app.data(SUBMIT, submission("submit-7f3a"), None).await;
    assert_eq!(first, second, "the retry answers exactly as the first time");
    assert_eq!(app.head().await.0, events_before + 1, "recorded once");
    let count = app
        .data("{ initiatives { totalCount } }", json!({}), None)
        .await;
    assert_eq!(count["initiatives"]["totalCount"], 1);

    // The code from the retry is the initiator's real code.
    let code = second["submitInitiative"]["trackingCode"].as_str().unwrap();
    let id = second["submitInitiative"]["initiative"]["id"]
        .as_str()
        .unwrap();
    let tracked = app
        .data(
            "query($c: String!) { trackedInitiative(trackingCode: $c) { id } }",
            json!({ "c": code }),
            None,
        )
        .await;
    assert_eq!(tracked["trackedInitiative"]["id"], id);
}

async fn different_keys_submit_twice(app: TestApp) {
    let (events_before, _) = app.head().await;
    let first = app.data(SUBMIT, submission("key-a"), None).await;
    let second = app.data(SUBMIT, submission("key-b"), None).await;
    assert_ne!(
        first["submitInitiative"]["initiative"]["id"],
        second["submitInitiative"]["initiative"]["id"]
    );
    assert_ne!(
        first["submitInitiative"]["trackingCode"],
        second["submitInitiative"]["trackingCode"]
    );
    assert_eq!(app.head().await.0, events_before + 2);
}

/// A key is the caller's: two staff members (or staff and the public) using the same key
/// make two submissions.
async fn the_same_key_of_different_callers_is_not_shared(app: TestApp) {
    let anna = app.staff_token_for("anna", &["W2"]);
    let bert = app.staff_token_for("bert", &["W2"]);
    let a = app.data(SUBMIT, submission("shared"), Some(&anna)).await;
    let b = app.data(SUBMIT, submission("shared"), Some(&bert)).await;
    let c = app.data(SUBMIT, submission("shared"), None).await;
    let ids: std::collections::BTreeSet<String> = [a, b, c]
        .iter()
        .map(|d| {
            d["submitInitiative"]["initiative"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 3, "three callers, three initiatives");
}

/// Anonymous clients all share the subject "public": a second resident who happens to use
/// (or guesses) the same key must not be handed the first resident's initiative and tracking
/// code — with it they could read the first resident's personal data and withdraw it.
async fn another_public_client_with_the_same_key_never_gets_the_first_tracking_code(app: TestApp) {
    let first = app.data(SUBMIT, submission("retry-1"), None).await;
    let mut other = submission("retry-1");
    other["input"]["title"] = json!("Speelplaats bij de school");
    other["input"]["theme"] = json!("SPEELTUINEN");
    other["input"]["initiator"] = json!({ "name": "Karel Smit", "email": "karel@example.nl" });
    let response = app.graphql(SUBMIT, other, None).await;
    let first_code = &first["submitInitiative"]["trackingCode"];
    assert_ne!(
        &response["data"]["submitInitiative"]["trackingCode"], first_code,
        "another request with the same key was answered with the first one's tracking code: {response}"
    );
    // With the code it got, the second resident cannot read the first one's data.
    if let Some(code) = response["data"]["submitInitiative"]["trackingCode"].as_str() {
        let id = first["submitInitiative"]["initiative"]["id"]
            .as_str()
            .unwrap();
        let seen = app
            .data(
                "query($id: ID!, $c: String) { initiative(id: $id) { initiator(trackingCode: $c) { name } } }",
                json!({ "id": id, "c": code }),
                None,
            )
            .await;
        assert_eq!(seen["initiative"]["initiator"], json!(null));
    }
}

async fn retried_allocation_records_once(app: TestApp) {
    let input = json!({ "input": { "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "5000", "idempotencyKey": "alloc-1" } });
    let (events_before, _) = app.head().await;
    let first = app
        .data(ALLOCATE, input.clone(), Some(&app.admin_token))
        .await;
    let second = app.data(ALLOCATE, input, Some(&app.admin_token)).await;
    assert_eq!(first, second);
    assert_eq!(app.head().await.0, events_before + 1);
}

/// Sends `query` with `input` (which carries an idempotency key) twice as `token`: both
/// answers must be equal and successful, and only the first may record anything.
async fn assert_retry_is_idempotent(app: &TestApp, query: &str, input: Value, token: &str) {
    let (events_before, _) = app.head().await;
    let first = app.data(query, input.clone(), Some(token)).await;
    let (events_after_first, _) = app.head().await;
    assert_eq!(
        events_after_first,
        events_before + 1,
        "the first request records its event"
    );
    let second = app.graphql(query, input.clone(), Some(token)).await;
    assert_eq!(
        second,
        json!({ "data": first }),
        "a retry with the same idempotencyKey must answer like the first request"
    );
    assert_eq!(
        app.head().await.0,
        events_after_first,
        "a retry records nothing"
    );
}

async fn retried_connect_returns_the_same_result(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "CULTUUR", "100").await;
    let input = json!({ "input": {
        "initiativeId": initiative.id,
        "party": { "name": "Bibliotheek Rozet", "kind": "ORGANISATION" },
        "note": "Ruimte voor de expositie",
        "idempotencyKey": "connect-1",
    }});
    assert_retry_is_idempotent(&app, CONNECT, input, &app.staff_token("W2")).await;
}

async fn retried_fund_returns_the_same_result(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let input = json!({ "input": { "initiativeId": initiative.id, "amount": "100.00", "year": YEAR, "idempotencyKey": "fund-1" } });
    assert_retry_is_idempotent(&app, FUND, input, &app.staff_token("W2")).await;
    assert_eq!(
        app.line(KLARENDAL, "GROEN").await["committed"],
        "100.00",
        "funded once"
    );
}

async fn retried_complete_returns_the_same_result(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    app.fund(&initiative.id, "100.00").await;
    let input = json!({ "input": { "initiativeId": initiative.id, "spentAmount": "80.00", "idempotencyKey": "complete-1" } });
    assert_retry_is_idempotent(&app, COMPLETE, input, &app.staff_token("W2")).await;
    assert_eq!(app.line(KLARENDAL, "GROEN").await["spent"], "80.00");
}

async fn retried_reject_returns_the_same_result(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let input = json!({ "input": { "initiativeId": initiative.id, "reason": "Niet haalbaar", "idempotencyKey": "reject-1" } });
    assert_retry_is_idempotent(&app, REJECT, input, &app.staff_token("W2")).await;
}

async fn retried_refer_returns_the_same_result(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "WELZIJN", "100").await;
    let input = json!({ "input": { "initiativeId": initiative.id, "sociaalWijkteam": "Sociaal wijkteam Noord", "idempotencyKey": "refer-1" } });
    assert_retry_is_idempotent(&app, REFER, input, &app.staff_token("W2")).await;
}

async fn retried_withdraw_returns_the_same_result(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    app.fund(&initiative.id, "100.00").await;
    let input =
        json!({ "input": { "initiativeId": initiative.id, "idempotencyKey": "withdraw-1" } });
    assert_retry_is_idempotent(&app, WITHDRAW, input, &app.staff_token("W2")).await;
    assert_eq!(app.line(KLARENDAL, "GROEN").await["remaining"], "1000.00");
}

async fn retried_erasure_returns_the_same_result(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let input = json!({ "input": { "initiativeId": initiative.id, "idempotencyKey": "erase-1" } });
    assert_retry_is_idempotent(&app, ERASE, input, &app.admin_token).await;
}

async fn retried_team_contact_change_records_once(app: TestApp) {
    let input = json!({ "input": { "gebiedCode": "W3", "email": "noordoost@arnhem.nl", "phone": "14 026", "idempotencyKey": "team-1" } });
    assert_retry_is_idempotent(&app, CHANGE_TEAM_CONTACT, input, &app.admin_token).await;
}

/// Two staff tokens with the same subject (as tokens minted without `--subject` once had)
/// share idempotency keys: permissions are still checked before a stored result is returned.
async fn a_key_replayed_by_staff_of_another_gebied_gets_no_result(app: TestApp) {
    const MALBURGEN_WEST: &str = "WK020216"; // W5
    let submitted = app.submit(MALBURGEN_WEST, "GROEN", "300.00").await;
    let w5 = app.staff_token_for("staff", &["W5"]);
    let w2 = app.staff_token_for("staff", &["W2"]);
    let reject = json!({ "input": {
        "initiativeId": submitted.id,
        "reason": "Past niet in het wijkprogramma",
        "idempotencyKey": "1",
    }});
    let first = app.data(REJECT, reject.clone(), Some(&w5)).await;
    assert_eq!(first["rejectInitiative"]["status"], "REJECTED");
    let (events_before, _) = app.head().await;
    let message = app.refused("FORBIDDEN", REJECT, reject, Some(&w2)).await;
    assert!(message.contains("gebied"), "{message}");
    assert_eq!(app.head().await.0, events_before, "nothing recorded");
}
