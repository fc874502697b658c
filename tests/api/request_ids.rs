//! Request ids: every response names its request in `x-request-id` (the client's own id when it
//! is sane, a fresh one otherwise), every GraphQL error repeats it in `extensions.requestId`,
//! and the events a mutation records carry it in their metadata, so one id finds a request in
//! the log and its events in the event log.

use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    a_sane_request_id_is_echoed_on_every_route,
    a_hostile_request_id_is_replaced_by_a_fresh_one,
    every_graphql_error_carries_the_request_id,
    a_mutations_events_carry_its_request_id,
    a_websocket_connection_has_one_request_id,
);

/// `path` answered with `id` as `X-Request-Id` (if any): the response's `x-request-id`.
async fn answered_id(app: &TestApp, path: &str, id: Option<HeaderValue>) -> String {
    let mut request = app.client.get(app.url(path));
    if let Some(id) = id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("the service answers");
    let ids: Vec<_> = response.headers().get_all("x-request-id").iter().collect();
    assert_eq!(ids.len(), 1, "GET {path}: one x-request-id header: {ids:?}");
    ids[0].to_str().unwrap().to_owned()
}

/// What the service makes when it gives a request an id of its own.
fn assert_fresh(id: &str) {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    assert!(
        lengths == [8, 4, 4, 4, 12]
            && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
            && groups[2].starts_with('7'),
        "a fresh UUID v7: {id:?}"
    );
}

async fn a_sane_request_id_is_echoed_on_every_route(app: TestApp) {
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
        "/graphql?query=%7B__typename%7D",
        "/no-such-page",
    ] {
        let id = "client-1.trace:ABC_9";
        let echoed = answered_id(&app, path, Some(HeaderValue::from_static(id))).await;
        assert_eq!(echoed, id, "GET {path}");
        // Without one, each request gets its own.
        let first = answered_id(&app, path, None).await;
        let second = answered_id(&app, path, None).await;
        assert_fresh(&first);
        assert_ne!(first, second, "GET {path}");
    }
}

async fn a_hostile_request_id_is_replaced_by_a_fresh_one(app: TestApp) {
    let too_long = "a".repeat(65);
    for hostile in [
        HeaderValue::from_str(&too_long).unwrap(),
        HeaderValue::from_bytes(b"evil\tid").unwrap(),
        HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        HeaderValue::from_static("<script>alert(1)</script>"),
        HeaderValue::from_static("a b"),
    ] {
        let answered = answered_id(&app, "/healthz", Some(hostile.clone())).await;
        assert_ne!(answered.as_bytes(), hostile.as_bytes());
        assert_fresh(&answered);
    }
    // 64 characters is still fine.
    let longest = "b".repeat(64);
    let answered = answered_id(
        &app,
        "/healthz",
        Some(HeaderValue::from_str(&longest).unwrap()),
    )
    .await;
    assert_eq!(answered, longest);
}

/// POSTs `body` with `content_type` and `id`; the response's id header and its JSON body.
async fn post(app: &TestApp, body: String, content_type: &str, id: &str) -> (String, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("Content-Type", content_type)
        .header("Accept", "application/json")
        .header("x-request-id", id)
        .body(body)
        .send()
        .await
        .expect("the service answers");
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (header, response.json().await.expect("a JSON body"))
}

async fn every_graphql_error_carries_the_request_id(app: TestApp) {
    let query = |query: &str| json!({ "query": query }).to_string();
    let cases = [
        // Refused before parsing: not application/json.
        ("text/plain".to_owned(), query("{ __typename }"), "415"),
        // A request error: validation.
        (
            "application/json".into(),
            query("{ noSuchField }"),
            "validation",
        ),
        // A field error from a resolver: the public may not allocate budgets.
        (
            "application/json".into(),
            json!({ "query": ALLOCATE, "variables": { "input": {
                "wijkCode": KLARENDAL, "year": 2026, "theme": "GROEN", "amount": "100.00" } } })
            .to_string(),
            "field error",
        ),
    ];
    for (n, (content_type, body, what)) in cases.into_iter().enumerate() {
        let id = format!("errors-{n}");
        let (header, response) = post(&app, body, &content_type, &id).await;
        assert_eq!(header, id, "{what}");
        let errors = response["errors"].as_array().expect("errors");
        assert!(!errors.is_empty(), "{what}: {response}");
        for error in errors {
            assert_eq!(error["extensions"]["requestId"], id, "{what}: {error}");
        }
    }
    // A fresh id too is the one in the errors.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("Content-Type", "application/json")
        .body(query("{ noSuchField }"))
        .send()
        .await
        .unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_fresh(&header);
    assert_eq!(body["errors"][0]["extensions"]["requestId"], header);
    // Successes carry no error to put it in.
    let (_, ok) = post(&app, query("{ __typename }"), "application/json", "ok-1").await;
    assert!(ok.get("errors").is_none(), "{ok}");
}

async fn a_mutations_events_carry_its_request_id(app: TestApp) {
    let store = &app.state.service.store;
    let before = store.head_position().await.unwrap();
    let id = "submit-0190abc";
    let input = json!({
        "wijkCode": KLARENDAL,
        "title": "Geveltuinen in de straat",
        "description": "Een buurtidee",
        "theme": "GROEN",
        "requestedAmount": "250.00",
        "initiator": { "name": "Bewoner Testpersoon", "email": "bewoner@example.nl" },
    });
    let body = json!({ "query": SUBMIT, "variables": { "input": input } }).to_string();
    let (header, response) = post(&app, body, "application/json", id).await;
    assert_eq!(header, id);
    assert!(response.get("errors").is_none(), "{response}");

    let recorded = store.read_batch(before, 100).await.unwrap();
    assert!(!recorded.is_empty(), "the submission recorded events");
    for event in &recorded {
        assert_eq!(
            event.metadata.request_id.as_deref(),
            Some(id),
            "{}",
            event.event_type
        );
    }

    // Another request, another id: nothing carries over between requests.
    let after_first = store.head_position().await.unwrap();
    app.allocate(KLARENDAL, "GROEN", "1000.00").await;
    let recorded = store.read_batch(after_first, 100).await.unwrap();
    assert!(!recorded.is_empty());
    for event in &recorded {
        let request_id = event.metadata.request_id.as_deref().unwrap_or_default();
        assert_ne!(request_id, id);
        assert_fresh(request_id);
    }
}

/// The request id in the errors of a refused subscription on `ws`.
async fn refused_subscription_id(ws: &mut WsClient) -> String {
    let id = ws
        .subscribe(
            "subscription { eventFeed(after: \"0\") { position } }",
            json!({}),
        )
        .await;
    match ws.next(&id).await {
        Next::Errors(errors) => errors[0]
            .request_id
            .clone()
            .unwrap_or_else(|| panic!("no requestId: {errors:?}")),
        other => panic!("the public must not follow the event feed, got {other:?}"),
    }
}

async fn a_websocket_connection_has_one_request_id(app: TestApp) {
    let mut first = app.ws(None).await;
    let one = refused_subscription_id(&mut first).await;
    assert_fresh(&one);
    assert_eq!(
        refused_subscription_id(&mut first).await,
        one,
        "one id per connection"
    );
    let mut second = app.ws(None).await;
    assert_ne!(refused_subscription_id(&mut second).await, one);
}
