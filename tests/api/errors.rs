//! Every error code a client can get, each with a message a person understands and no
//! internals, and each refusal recording nothing: the log's head and the budgets stay as they
//! were.
//!
//! CONFLICT is not provoked here: the service decides again on fresh state up to ten times
//! before answering CONFLICT, and no client-side interleaving makes that happen
//! deterministically. The concurrency it guards is tested in
//! `mutations::concurrent_fundings_never_overspend_a_line`.

use std::time::Duration;

use serde_json::{json, Value};
use wijkpuls_api::auth::{Role, TokenKey};
use wijkpuls_domain::GebiedCode;

use crate::helpers::*;

e2e_tests!(
    app: [
    bad_user_input_for_an_amount_with_three_decimals,
    bad_user_input_for_a_title_too_short,
    bad_user_input_for_an_unknown_cursor,
    bad_user_input_for_a_page_larger_than_100,
    bad_user_input_for_more_than_500_events,
    bad_user_input_for_spending_more_than_funded,
    bad_user_input_for_a_channel_given_by_the_public,
    not_found_for_an_unknown_wijk,
    not_found_for_an_unknown_initiative,
    unauthenticated_without_a_token,
    unauthenticated_for_bad_tokens,
    forbidden_for_staff_of_another_gebied,
    forbidden_for_staff_allocating_budget,
    invalid_transition_fund_a_rejected_initiative,
    invalid_transition_complete_an_unfunded_initiative,
    budget_exceeded_funding_more_than_remaining,
    budget_exceeded_lowering_an_allocation_below_use,
    ],
    backend: [rate_limited_anonymous_submissions],
);

/// What must not change when a mutation is refused.
struct Snapshot {
    head: (usize, u64),
    budget: Value,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    Snapshot {
        head: app.head().await,
        budget: app.budget(KLARENDAL).await,
    }
}

async fn assert_nothing_recorded(app: &TestApp, before: &Snapshot) {
    let after = snapshot(app).await;
    assert_eq!(
        after.head, before.head,
        "a refused mutation recorded events"
    );
    assert_eq!(
        after.budget, before.budget,
        "a refused mutation changed the budget"
    );
}

async fn bad_user_input_for_an_amount_with_three_decimals(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let before = snapshot(&app).await;
    app.refused(
        "BAD_USER_INPUT",
        FUND,
        json!({ "input": { "initiativeId": initiative.id, "amount": "12.345", "year": YEAR } }),
        Some(&app.admin_token),
    )
    .await;
    let mut input = submit_input(KLARENDAL);
    input["requestedAmount"] = json!("12.345");
    app.refused("BAD_USER_INPUT", SUBMIT, json!({ "input": input }), None)
        .await;
    // Floats are not money either, nor negative amounts.
    let mut input = submit_input(KLARENDAL);
    input["requestedAmount"] = json!(12.5);
    app.refused("BAD_USER_INPUT", SUBMIT, json!({ "input": input }), None)
        .await;
    app.refused(
        "BAD_USER_INPUT",
        ALLOCATE,
        json!({ "input": { "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "-5.00" } }),
        Some(&app.admin_token),
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
}

async fn bad_user_input_for_a_title_too_short(app: TestApp) {
    let before = snapshot(&app).await;
    let mut input = submit_input(KLARENDAL);
    input["title"] = json!("ab");
    let message = app
        .refused("BAD_USER_INPUT", SUBMIT, json!({ "input": input }), None)
        .await;
    assert!(
        message.contains("title"),
        "the message names the field: {message}"
    );
    assert_nothing_recorded(&app, &before).await;
}

async fn bad_user_input_for_an_unknown_cursor(app: TestApp) {
    app.submit(KLARENDAL, "GROEN", "10").await;
    let query = "query($after: String) { initiatives(first: 5, after: $after) { totalCount } }";
    // A well-formed id that is not in the list, and something that is no cursor at all.
    for cursor in ["0190a0b0-0000-7000-8000-000000000000", "nonsense"] {
        app.refused("BAD_USER_INPUT", query, json!({ "after": cursor }), None)
            .await;
    }
    // A cursor from another filter's list is not one of this list.
    let other = app.submit(CENTRUM, "GROEN", "10").await;
    app.refused(
        "BAD_USER_INPUT",
        "query($after: String) { initiatives(first: 5, after: $after, filter: { wijk: \"WK020207\" }) { totalCount } }",
        json!({ "after": other.id }),
        None,
    )
    .await;
}

async fn bad_user_input_for_a_page_larger_than_100(app: TestApp) {
    app.refused(
        "BAD_USER_INPUT",
        "{ initiatives(first: 101) { totalCount } }",
        json!({}),
        None,
    )
    .await;
    app.refused(
        "BAD_USER_INPUT",
        "{ initiatives(first: -1) { totalCount } }",
        json!({}),
        None,
    )
    .await;
    // 100 itself is fine.
    app.data(
        "{ initiatives(first: 100) { totalCount } }",
        json!({}),
        None,
    )
    .await;
}

async fn bad_user_input_for_more_than_500_events(app: TestApp) {
    app.refused(
        "BAD_USER_INPUT",
        "{ events(first: 501) { position } }",
        json!({}),
        None,
    )
    .await;
    app.refused(
        "BAD_USER_INPUT",
        "{ events(after: \"-1\") { position } }",
        json!({}),
        None,
    )
    .await;
}

async fn bad_user_input_for_spending_more_than_funded(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    app.fund(&initiative.id, "100.00").await;
    let before = snapshot(&app).await;
    app.refused(
        "BAD_USER_INPUT",
        COMPLETE,
        json!({ "input": { "initiativeId": initiative.id, "spentAmount": "100.01" } }),
        Some(&app.admin_token),
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
}

async fn bad_user_input_for_a_channel_given_by_the_public(app: TestApp) {
    let before = snapshot(&app).await;
    let mut input = submit_input(KLARENDAL);
    input["channel"] = json!("PHONE");
    app.refused("BAD_USER_INPUT", SUBMIT, json!({ "input": input }), None)
        .await;
    assert_nothing_recorded(&app, &before).await;
}

async fn not_found_for_an_unknown_wijk(app: TestApp) {
    let before = snapshot(&app).await;
    // A valid CBS code, but not one of Arnhem's.
    let input = submit_input("WK036301");
    app.refused("NOT_FOUND", SUBMIT, json!({ "input": input }), None)
        .await;
    app.refused(
        "NOT_FOUND",
        ALLOCATE,
        json!({ "input": { "wijkCode": "WK036301", "year": YEAR, "theme": "GROEN", "amount": "10" } }),
        Some(&app.admin_token),
    )
    .await;
    app.refused(
        "NOT_FOUND",
        CHANGE_TEAM_CONTACT,
        json!({ "input": { "gebiedCode": "W9", "email": "w9@arnhem.nl", "phone": "14 026" } }),
        Some(&app.admin_token),
    )
    .await;
    // Not a code at all: bad input, not "not found".
    app.refused(
        "BAD_USER_INPUT",
        SUBMIT,
        json!({ "input": submit_input("Klarendal") }),
        None,
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
    // A query for an unknown wijk answers null.
    let data = app
        .data("{ wijk(code: \"WK036301\") { name } }", json!({}), None)
        .await;
    assert_eq!(data["wijk"], json!(null));
}

async fn not_found_for_an_unknown_initiative(app: TestApp) {
    let before = snapshot(&app).await;
    let unknown = "0190a0b0-0000-7000-8000-000000000000";
    app.refused(
        "NOT_FOUND",
        FUND,
        json!({ "input": { "initiativeId": unknown, "amount": "10", "year": YEAR } }),
        Some(&app.admin_token),
    )
    .await;
    app.refused(
        "NOT_FOUND",
        WITHDRAW,
        json!({ "input": { "initiativeId": unknown } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    app.refused(
        "NOT_FOUND",
        ERASE,
        json!({ "input": { "initiativeId": unknown } }),
        Some(&app.admin_token),
    )
    .await;
    let known = app.submit(KLARENDAL, "GROEN", "10").await;
    app.refused(
        "NOT_FOUND",
        CONNECT,
        json!({ "input": { "initiativeId": known.id, "targetInitiativeId": unknown, "note": "n" } }),
        Some(&app.admin_token),
    )
    .await;
    let data = app
        .data(
            "query($id: ID!) { initiative(id: $id) { id } }",
            json!({ "id": unknown }),
            None,
        )
        .await;
    assert_eq!(data["initiative"], json!(null));
    let before_known = snapshot(&app).await;
    assert_eq!(
        before_known.head.0,
        before.head.0 + 1,
        "only the submission was recorded"
    );
}

async fn unauthenticated_without_a_token(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let before = snapshot(&app).await;
    app.refused(
        "UNAUTHENTICATED",
        FUND,
        json!({ "input": { "initiativeId": initiative.id, "amount": "10", "year": YEAR } }),
        None,
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
}

async fn unauthenticated_for_bad_tokens(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let before = snapshot(&app).await;
    let w2 = [GebiedCode::parse("W2").unwrap()];
    let good = app.staff_token("W2");
    let expired = app.tokens.issue(Role::Staff, "anna", &w2, Duration::ZERO);
    let wrongly_signed = TokenKey::new(b"not the server's key").issue(
        Role::Admin,
        "mallory",
        &[],
        Duration::from_secs(3600),
    );
    // Claims changed after signing: admin instead of staff, same signature.
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        assert_eq!(parts.len(), 3, "tokens are prefix.claims.signature");
        let forged = app
            .tokens
            .issue(Role::Admin, "anna", &w2, Duration::from_secs(3600));
        parts[1] = forged.split('.').nth(1).unwrap().to_owned();
        parts.join(".")
    };
    let truncated = good[..good.len() - 4].to_owned();
    let fund = json!({ "input": { "initiativeId": initiative.id, "amount": "10", "year": YEAR } });
    for (what, header) in [
        ("malformed", "Bearer nonsense".to_owned()),
        ("expired", format!("Bearer {expired}")),
        ("tampered", format!("Bearer {tampered}")),
        ("wrongly signed", format!("Bearer {wrongly_signed}")),
        ("truncated", format!("Bearer {truncated}")),
        ("not a bearer token", format!("Basic {good}")),
    ] {
        for query in [FUND, "query { wijken { code } }"] {
            let response = app
                .client
                .post(app.url("/graphql"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .header("Authorization", &header)
                .json(&json!({ "query": query, "variables": fund }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            let error = GqlError::from_json(&response["errors"][0]);
            assert_eq!(
                error.code.as_deref(),
                Some("UNAUTHENTICATED"),
                "{what} token on {query}: {response}"
            );
            assert_safe_message(&error.message);
            assert!(
                response["data"].is_null(),
                "a request with a {what} token is not executed (not even as the public): {response}"
            );
        }
    }
    assert_nothing_recorded(&app, &before).await;
    // The good one works.
    app.data(FUND, fund, Some(&good)).await;
}

async fn forbidden_for_staff_of_another_gebied(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let before = snapshot(&app).await;
    let message = app
        .refused(
            "FORBIDDEN",
            FUND,
            json!({ "input": { "initiativeId": initiative.id, "amount": "10", "year": YEAR } }),
            Some(&app.staff_token("W1")),
        )
        .await;
    assert!(
        message.contains("W2"),
        "the message says where it is: {message}"
    );
    assert_nothing_recorded(&app, &before).await;
}

async fn forbidden_for_staff_allocating_budget(app: TestApp) {
    let before = snapshot(&app).await;
    app.refused(
        "FORBIDDEN",
        ALLOCATE,
        json!({ "input": { "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "1000" } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
}

async fn invalid_transition_fund_a_rejected_initiative(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    app.reject(&initiative.id).await;
    let before = snapshot(&app).await;
    let message = app
        .refused(
            "INVALID_TRANSITION",
            FUND,
            json!({ "input": { "initiativeId": initiative.id, "amount": "10", "year": YEAR } }),
            Some(&app.staff_token("W2")),
        )
        .await;
    assert!(
        message.contains("rejected"),
        "the message says why: {message}"
    );
    assert_nothing_recorded(&app, &before).await;
    assert_eq!(
        app.initiative(&initiative.id, None).await["status"],
        "REJECTED"
    );
}

async fn invalid_transition_complete_an_unfunded_initiative(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let before = snapshot(&app).await;
    app.refused(
        "INVALID_TRANSITION",
        COMPLETE,
        json!({ "input": { "initiativeId": initiative.id, "spentAmount": "0.00" } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
}

async fn budget_exceeded_funding_more_than_remaining(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000.00").await;
    let first = app.submit(KLARENDAL, "GROEN", "600").await;
    app.fund(&first.id, "600.00").await;
    let second = app.submit(KLARENDAL, "GROEN", "400.01").await;
    let before = snapshot(&app).await;
    let message = app
        .refused(
            "BUDGET_EXCEEDED",
            FUND,
            json!({ "input": { "initiativeId": second.id, "amount": "400.01", "year": YEAR } }),
            Some(&app.staff_token("W2")),
        )
        .await;
    assert!(
        message.contains("400.00"),
        "the message says what is left: {message}"
    );
    // Another year's line is empty.
    app.refused(
        "BUDGET_EXCEEDED",
        FUND,
        json!({ "input": { "initiativeId": second.id, "amount": "1.00", "year": YEAR + 1 } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
    // Exactly what is left fits.
    app.fund(&second.id, "400.00").await;
    assert_eq!(app.line(KLARENDAL, "GROEN").await["remaining"], "0.00");
}

async fn budget_exceeded_lowering_an_allocation_below_use(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000.00").await;
    let funded = app.submit(KLARENDAL, "GROEN", "300").await;
    app.fund(&funded.id, "300.00").await;
    let completed = app.submit(KLARENDAL, "GROEN", "200").await;
    app.fund(&completed.id, "200.00").await;
    app.data(
        COMPLETE,
        json!({ "input": { "initiativeId": completed.id, "spentAmount": "150.00" } }),
        Some(&app.admin_token),
    )
    .await;
    // In use: 300.00 committed + 150.00 spent.
    let before = snapshot(&app).await;
    app.refused(
        "BUDGET_EXCEEDED",
        ALLOCATE,
        json!({ "input": { "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "449.99" } }),
        Some(&app.admin_token),
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
    let budget = app.allocate(KLARENDAL, "GROEN", "450.00").await;
    assert_eq!(line_of(&budget, "GROEN")["remaining"], "0.00");
}

async fn rate_limited_anonymous_submissions(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| config.submit_per_minute = 2).await else {
        return;
    };
    app.submit(KLARENDAL, "GROEN", "10").await;
    app.submit(KLARENDAL, "GROEN", "10").await;
    let before = snapshot(&app).await;
    app.refused(
        "RATE_LIMITED",
        SUBMIT,
        json!({ "input": submit_input(KLARENDAL) }),
        None,
    )
    .await;
    assert_nothing_recorded(&app, &before).await;
    // Staff entering one on a resident's behalf are not anonymous.
    app.submit_with(submit_input(KLARENDAL), Some(&app.staff_token("W2")))
        .await;
    assert_eq!(app.head().await.0, before.head.0 + 1);
}

fn submit_input(wijk: &str) -> Value {
    json!({
        "wijkCode": wijk,
        "title": "Speeltoestel voor het plein",
        "theme": "SPEELTUINEN",
        "requestedAmount": "2500.00",
        "initiator": { "name": "Piet Bakker", "email": "piet@example.nl" },
    })
}
