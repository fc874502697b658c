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
    every_request_error_has_a_code,
    not_found_is_null_or_empty_in_queries_and_malformed_codes_are_bad_input,
    websocket_reads_authorization_in_any_case,
    websocket_close_reason_for_a_bad_token_is_the_http_message,
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

/// The `extensions.code` of every error of a raw HTTP answer (`None` for an error without one).
async fn raw_codes(response: reqwest::Response) -> Vec<Option<String>> {
    let body: Value = response.json().await.expect("a JSON answer");
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert!(!errors.is_empty(), "expected errors, got {body:#}");
    errors
        .iter()
        .map(|error| {
            assert_safe_message(error["message"].as_str().unwrap_or_default());
            error["extensions"]["code"].as_str().map(str::to_owned)
        })
        .collect()
}

/// Parse errors, a missing variable, a mutation over GET, a batch, a body that is no JSON:
/// each error carries a code, and a parse error reads as a sentence, not a parser dump.
async fn every_request_error_has_a_code(app: TestApp) {
    let parse = app
        .refused("GRAPHQL_PARSE_FAILED", "{ wijken { code ", json!({}), None)
        .await;
    assert!(
        !parse.contains("-->") && !parse.contains('^') && !parse.contains('\n'),
        "a parse error is a sentence, not a parser dump: {parse:?}"
    );
    assert!(parse.contains("line 1"), "it says where: {parse:?}");
    app.refused(
        "BAD_USER_INPUT",
        "query($code: ID!) { wijk(code: $code) { code } }",
        json!({}),
        None,
    )
    .await;
    app.refused(
        "GRAPHQL_VALIDATION_FAILED",
        "{ wijken { noSuchField } }",
        json!({}),
        None,
    )
    .await;

    let get_mutation = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { __typename }")])
        .header("Accept", "application/graphql-response+json")
        .send()
        .await
        .expect("the service answers");
    assert_eq!(get_mutation.status().as_u16(), 405, "status per the spec");
    let batch = app
        .client
        .post(app.url("/graphql"))
        .header("Accept", "application/graphql-response+json")
        .json(&json!([{ "query": "{ wijken { code } }" }, { "query": "{ gebieden { code } }" }]))
        .send()
        .await
        .expect("the service answers");
    let not_json = app
        .client
        .post(app.url("/graphql"))
        .header("Accept", "application/graphql-response+json")
        .header("Content-Type", "application/json")
        .body("{ nope")
        .send()
        .await
        .expect("the service answers");
    let unknown_operation = app
        .client
        .post(app.url("/graphql"))
        .header("Accept", "application/graphql-response+json")
        .json(&json!({ "query": "query A { wijken { code } }", "operationName": "B" }))
        .send()
        .await
        .expect("the service answers");
    for (what, response) in [
        ("a mutation over GET", get_mutation),
        ("a batch", batch),
        ("a body that is no JSON", not_json),
        ("an unknown operation", unknown_operation),
    ] {
        let codes = raw_codes(response).await;
        assert!(
            codes
                .iter()
                .all(|code| code.as_deref() == Some("BAD_USER_INPUT")),
            "{what}: every error has the code BAD_USER_INPUT, got {codes:?}"
        );
    }
}

/// Queries treat a well-formed code that names nothing as absent (`null`, or an empty list)
/// and a malformed code as BAD_USER_INPUT whose message says what a code looks like, in the
/// API's words (no internal field names).
async fn not_found_is_null_or_empty_in_queries_and_malformed_codes_are_bad_input(app: TestApp) {
    app.submit(KLARENDAL, "GROEN", "10").await;
    let absent = app
        .data(
            "{ wijk(code: \"WK999999\") { code } gebied(code: \"W99\") { code } \
             initiative(id: \"0190a0b0-0000-7000-8000-000000000000\") { id } \
             byWijk: initiatives(filter: { wijk: \"WK999999\" }) { totalCount } \
             byGebied: initiatives(filter: { gebied: \"W99\" }) { totalCount } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        absent,
        json!({ "wijk": null, "gebied": null, "initiative": null,
                "byWijk": { "totalCount": 0 }, "byGebied": { "totalCount": 0 } })
    );
    for (query, says) in [
        ("{ wijk(code: \"XX\") { code } }", "wijk code"),
        ("{ gebied(code: \"X\") { code } }", "gebied code"),
        ("{ initiative(id: \"nonsense\") { id } }", "initiative id"),
        (
            "{ initiatives(filter: { wijk: \"WKX\" }) { totalCount } }",
            "wijk code",
        ),
        (
            "{ initiatives(filter: { gebied: \"W0\" }) { totalCount } }",
            "gebied code",
        ),
    ] {
        let message = app.refused("BAD_USER_INPUT", query, json!({}), None).await;
        assert!(message.contains(says), "{query}: {message:?}");
        let internal = message
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .find(|word| word.contains('_'));
        assert_eq!(internal, None, "{query}: internal names in {message:?}");
    }
}

/// `connectionParams` keys are read in any case: `Authorization` is the same as
/// `authorization`, so a bad token under it is refused rather than treated as the public.
async fn websocket_reads_authorization_in_any_case(app: TestApp) {
    for key in ["Authorization", "AUTHORIZATION"] {
        let mut ws = WsClient::connect(app.address).await;
        let answer = ws.init_with(json!({ key: "Bearer nonsense" })).await;
        assert!(
            matches!(answer, Init::Closed(Some(4403))),
            "a bad token under {key:?} closes with 4403, got {answer:?}"
        );
        let mut ws = WsClient::connect(app.address).await;
        let token = format!("Bearer {}", app.admin_token);
        let answer = ws.init_with(json!({ key: token })).await;
        assert!(
            matches!(answer, Init::Acknowledged),
            "a good token under {key:?} is accepted, got {answer:?}"
        );
    }
}

/// A bad token on `connection_init` closes with 4403, and the close reason says why in the
/// words HTTP uses for the same token.
async fn websocket_close_reason_for_a_bad_token_is_the_http_message(app: TestApp) {
    let expired = app.tokens.issue(Role::Admin, "beheer", &[], Duration::ZERO);
    for token in ["nonsense".to_owned(), expired] {
        let http = app
            .refused(
                "UNAUTHENTICATED",
                "{ wijken { code } }",
                json!({}),
                Some(&token),
            )
            .await;
        let mut ws = WsClient::connect(app.address).await;
        let answer = ws.init(Some(&token)).await;
        assert!(matches!(answer, Init::Closed(Some(4403))), "{answer:?}");
        assert_eq!(ws.close_reason.as_deref(), Some(http.as_str()));
    }
}
