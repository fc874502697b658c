//! What dashboards need (issue 13, items 1, 3 and 5): time travel (`asOf`), the team's work
//! list (`workList`, `workListUpdated`), date and amount ranges with `totalCount`, and cursors
//! that stay valid while the data changes.

use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    as_of_shows_the_state_before_and_after_a_funding,
    as_of_before_the_first_event_is_empty_and_in_the_future_is_now,
    the_work_list_holds_the_gebieds_waiting_initiatives_oldest_first,
    the_work_list_is_refused_to_the_public,
    the_work_list_pages_with_cursors_that_survive_changes,
    work_list_updated_follows_a_step,
    filters_by_date_and_amount_ranges_with_a_total_count,
    a_cursor_whose_initiative_changed_status_continues_after_it,
    a_page_at_a_moment_orders_by_each_ones_last_change_then,
);

/// The moment of the event of `kind` in an initiative's history.
fn moment(initiative: &Value, kind: &str) -> String {
    initiative["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == kind)
        .and_then(|h| h["at"].as_str())
        .unwrap_or_else(|| panic!("no {kind} in {initiative}"))
        .to_owned()
}

const AT: &str = "query($id: ID!, $code: ID!, $gebied: ID!, $year: Int, $asOf: DateTime) {
    initiative(id: $id, asOf: $asOf) { status fundedAmount history { type at } wijk { code initiativeCounts { submitted funded } } }
    wijk(code: $code, asOf: $asOf) { name budget(year: $year) { allocated committed remaining }
        initiativeCounts { submitted funded } initiatives { totalCount nodes { id status } } }
    gebied(code: $gebied, asOf: $asOf) { name budget(year: $year) { committed } wijken { code } }
    cityOverview(year: $year, asOf: $asOf) { position asOf totals { committed } initiativeCounts { funded total }
        recentEvents(limit: 50) { type } } }";

async fn at(app: &TestApp, id: &str, as_of: Option<&str>) -> Value {
    app.data(
        AT,
        json!({ "id": id, "code": KLARENDAL, "gebied": "W2", "year": YEAR, "asOf": as_of }),
        None,
    )
    .await
}

/// The state at a moment between a submission and its funding is the one before the funding:
/// the budget uncommitted, the initiative submitted; at the funding's moment both changed.
async fn as_of_shows_the_state_before_and_after_a_funding(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "2000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "750").await;
    app.fund(&initiative.id, "750").await;
    let now = at(&app, &initiative.id, None).await;
    let submitted = moment(&now["initiative"], "InitiativeSubmitted");
    let funded = moment(&now["initiative"], "InitiativeFunded");

    let before = at(&app, &initiative.id, Some(&submitted)).await;
    assert_eq!(before["initiative"]["status"], "SUBMITTED");
    assert_eq!(before["initiative"]["fundedAmount"], Value::Null);
    assert_eq!(
        before["initiative"]["wijk"]["initiativeCounts"],
        json!({ "submitted": 1, "funded": 0 })
    );
    assert_eq!(
        before["wijk"]["budget"],
        json!({ "allocated": "2000.00", "committed": "0.00", "remaining": "2000.00" })
    );
    assert_eq!(
        before["wijk"]["initiatives"],
        json!({ "totalCount": 1, "nodes": [{ "id": initiative.id, "status": "SUBMITTED" }] })
    );
    assert_eq!(before["gebied"]["budget"]["committed"], "0.00");
    let overview = &before["cityOverview"];
    assert_eq!(overview["totals"]["committed"], "0.00");
    assert_eq!(
        overview["initiativeCounts"],
        json!({ "funded": 0, "total": 1 })
    );
    assert_eq!(
        position(&overview["position"]) + 1,
        position(&now["cityOverview"]["position"])
    );
    assert_eq!(
        parse_time(overview["asOf"].as_str().unwrap()),
        parse_time(&submitted)
    );
    let last_line = &overview["recentEvents"][0]["type"];
    assert_eq!(last_line, "InitiativeSubmitted", "{overview}");

    let after = at(&app, &initiative.id, Some(&funded)).await;
    assert_eq!(after["initiative"]["status"], "FUNDED");
    assert_eq!(after["initiative"]["fundedAmount"], "750.00");
    assert_eq!(
        after["wijk"]["budget"],
        json!({ "allocated": "2000.00", "committed": "750.00", "remaining": "1250.00" })
    );
    assert_eq!(after["gebied"]["budget"]["committed"], "750.00");
    assert_eq!(
        after["cityOverview"]["initiativeCounts"],
        json!({ "funded": 1, "total": 1 })
    );
    // Later than every event: as now.
    assert_eq!(after, now);
}

fn parse_time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .to_utc()
}

/// Before the first event there is nothing: no wijk, gebied or initiative, an empty city. A
/// moment in the future is now. A malformed moment is refused.
async fn as_of_before_the_first_event_is_empty_and_in_the_future_is_now(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "750").await;
    let early = at(&app, &initiative.id, Some("2000-01-01T00:00:00Z")).await;
    assert_eq!(early["initiative"], Value::Null);
    assert_eq!(early["wijk"], Value::Null);
    assert_eq!(early["gebied"], Value::Null);
    assert_eq!(early["cityOverview"]["position"], "0");
    assert_eq!(early["cityOverview"]["asOf"], Value::Null);
    assert_eq!(
        early["cityOverview"]["initiativeCounts"],
        json!({ "funded": 0, "total": 0 })
    );
    assert_eq!(early["cityOverview"]["recentEvents"], json!([]));

    let future = at(&app, &initiative.id, Some("2999-01-01T00:00:00Z")).await;
    assert_eq!(future, at(&app, &initiative.id, None).await);

    let before = app.head().await;
    app.refused(
        "BAD_USER_INPUT",
        "query($asOf: DateTime) { cityOverview(asOf: $asOf) { year } }",
        json!({ "asOf": "yesterday" }),
        None,
    )
    .await;
    assert_eq!(app.head().await, before);
}

const WORK_LIST: &str = "query($first: Int, $after: String) { workList(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { waitingFor since waitingDays initiative { id status wijk { code } } } } } }";

async fn work_list(app: &TestApp, token: &str, first: i32, after: Option<&str>) -> Value {
    app.data(
        WORK_LIST,
        json!({ "first": first, "after": after }),
        Some(token),
    )
    .await["workList"]
        .clone()
}

/// The ids and steps of a work list page, in order.
fn items(page: &Value) -> Vec<(String, String)> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let node = &e["node"];
            (
                node["initiative"]["id"].as_str().unwrap().to_owned(),
                node["waitingFor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(submitted: &Submitted, step: &str) -> (String, String) {
    (submitted.id.clone(), step.to_owned())
}

/// Staff see the initiatives of their gebieden that wait for the team, oldest first, with
/// what they wait for and since when; an admin sees all; decided or completed ones are gone.
async fn the_work_list_holds_the_gebieds_waiting_initiatives_oldest_first(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "5000").await;
    let answer = app.submit(KLARENDAL, "GROEN", "100").await;
    let decide = app.submit(SONSBEEK, "GROEN", "200").await;
    let complete = app.submit(KLARENDAL, "GROEN", "300").await;
    let rejected = app.submit(KLARENDAL, "GROEN", "400").await;
    let elsewhere = app.submit(CENTRUM, "SPORT", "500").await;
    let w2 = app.staff_token("W2");
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": decide.id, "party": { "name": "Buurtcentrum", "kind": "ORGANISATION" }, "note": "zaal" } }),
        Some(&w2),
    )
    .await;
    app.fund(&complete.id, "300").await;
    app.reject(&rejected.id).await;

    let page = work_list(&app, &w2, 20, None).await;
    assert_eq!(page["totalCount"], 3);
    // Oldest first by the moment it started waiting: submitted, connected, funded.
    assert_eq!(
        items(&page),
        vec![
            pair(&answer, "ANSWER"),
            pair(&decide, "DECISION"),
            pair(&complete, "COMPLETION"),
        ]
    );
    let mut since: Vec<_> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| parse_time(e["node"]["since"].as_str().unwrap()))
        .collect();
    let answer_at = moment(
        &app.data(
            "query($id: ID!) { initiative(id: $id) { history { type at } } }",
            json!({ "id": answer.id }),
            None,
        )
        .await["initiative"],
        "InitiativeSubmitted",
    );
    assert_eq!(since[0], parse_time(&answer_at));
    let sorted = {
        since.sort();
        since.clone()
    };
    assert_eq!(since, sorted);
    for edge in page["edges"].as_array().unwrap() {
        let days = edge["node"]["waitingDays"].as_f64().unwrap();
        assert!((0.0..0.01).contains(&days), "{days}");
    }

    let w1 = app.staff_token("W1");
    assert_eq!(
        items(&work_list(&app, &w1, 20, None).await),
        vec![pair(&elsewhere, "ANSWER")]
    );
    let admin = work_list(&app, &app.admin_token, 20, None).await;
    assert_eq!(admin["totalCount"], 4);
    assert!(items(&admin).contains(&pair(&elsewhere, "ANSWER")));
    let other = app.staff_token("W4");
    assert_eq!(work_list(&app, &other, 20, None).await["totalCount"], 0);

    // No personal data comes with a work list the caller may not see: staff of W1 asking
    // the initiator of their own item see it (their gebied); nothing of W2's leaks to them.
    let text = work_list(&app, &w1, 20, None).await.to_string();
    for id in [&answer.id, &decide.id, &complete.id] {
        assert!(!text.contains(id.as_str()));
    }
    assert!(!text.contains(&elsewhere.tracking_code));
}

async fn the_work_list_is_refused_to_the_public(app: TestApp) {
    app.submit(KLARENDAL, "GROEN", "100").await;
    app.refused("UNAUTHENTICATED", WORK_LIST, json!({}), None)
        .await;
    let w2 = app.staff_token("W2");
    app.refused(
        "BAD_USER_INPUT",
        WORK_LIST,
        json!({ "first": 101 }),
        Some(&w2),
    )
    .await;
    app.refused(
        "BAD_USER_INPUT",
        WORK_LIST,
        json!({ "after": "not-a-cursor" }),
        Some(&w2),
    )
    .await;
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe("subscription { workListUpdated { waitingFor } }", json!({}))
        .await;
    match ws.next(&id).await {
        Next::Errors(errors) => {
            assert_eq!(
                errors[0].code.as_deref(),
                Some("UNAUTHENTICATED"),
                "{errors:?}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Pages follow each other without gaps or repeats; a cursor whose item was answered in the
/// meantime (it left the list) still continues with the item after it.
async fn the_work_list_pages_with_cursors_that_survive_changes(app: TestApp) {
    let mut submitted = Vec::new();
    for amount in ["100", "200", "300", "400", "500"] {
        submitted.push(app.submit(KLARENDAL, "GROEN", amount).await);
    }
    let w2 = app.staff_token("W2");
    let first = work_list(&app, &w2, 2, None).await;
    assert_eq!(
        items(&first),
        vec![pair(&submitted[0], "ANSWER"), pair(&submitted[1], "ANSWER")]
    );
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap().to_owned();

    // The page's last item is answered: it moves to the end (waiting for a decision now).
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": submitted[1].id, "party": { "name": "Wijkraad", "kind": "ORGANISATION" }, "note": "n" } }),
        Some(&w2),
    )
    .await;
    let second = work_list(&app, &w2, 2, Some(&cursor)).await;
    assert_eq!(
        items(&second),
        vec![pair(&submitted[2], "ANSWER"), pair(&submitted[3], "ANSWER")]
    );
    assert_eq!(second["totalCount"], 5);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    let cursor = second["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let third = work_list(&app, &w2, 2, Some(&cursor)).await;
    assert_eq!(
        items(&third),
        vec![
            pair(&submitted[4], "ANSWER"),
            pair(&submitted[1], "DECISION")
        ]
    );
    assert_eq!(third["pageInfo"]["hasNextPage"], false);
}

/// `workListUpdated` sends the list, then the list again after a step changes it.
async fn work_list_updated_follows_a_step(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "5000").await;
    let one = app.submit(KLARENDAL, "GROEN", "100").await;
    let two = app.submit(KLARENDAL, "GROEN", "200").await;
    app.submit(CENTRUM, "SPORT", "300").await;
    let w2 = app.staff_token("W2");
    let mut ws = app.ws(Some(&w2)).await;
    let id = ws
        .subscribe(
            "subscription { workListUpdated { waitingFor since initiative { id } } }",
            json!({}),
        )
        .await;
    let ids = |data: &Value| -> Vec<(String, String)> {
        data["workListUpdated"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["initiative"]["id"].as_str().unwrap().to_owned(),
                    i["waitingFor"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let first = ws.data(&id).await;
    assert_eq!(
        ids(&first),
        vec![pair(&one, "ANSWER"), pair(&two, "ANSWER")]
    );
    app.fund(&one.id, "100").await;
    let update = ws
        .data_until(&id, |d| ids(d).first() == Some(&pair(&two, "ANSWER")))
        .await;
    assert_eq!(
        ids(&update),
        vec![pair(&two, "ANSWER"), pair(&one, "COMPLETION")]
    );
}

const FILTERED: &str = "query($filter: InitiativeFilter, $first: Int, $after: String) {
    initiatives(filter: $filter, first: $first, after: $after) { totalCount
        pageInfo { hasNextPage endCursor } nodes { id requestedAmount } } }";

async fn filtered(app: &TestApp, filter: Value) -> (u64, Vec<String>) {
    let data = app
        .data(FILTERED, json!({ "filter": filter, "first": 100 }), None)
        .await;
    let page = &data["initiatives"];
    let ids = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    (page["totalCount"].as_u64().unwrap(), ids)
}

/// Ranges of submission and update moments and of amounts, each end included and either left
/// out; `totalCount` counts all matches; a range the wrong way round is refused.
async fn filters_by_date_and_amount_ranges_with_a_total_count(app: TestApp) {
    let small = app.submit(KLARENDAL, "GROEN", "100").await;
    let middle = app.submit(KLARENDAL, "GROEN", "500").await;
    let large = app.submit(CENTRUM, "SPORT", "900").await;
    let moments = |initiative: &Value| moment(initiative, "InitiativeSubmitted");
    let history = "query($id: ID!) { initiative(id: $id) { history { type at } } }";
    let middle_at =
        moments(&app.data(history, json!({ "id": middle.id }), None).await["initiative"]);

    assert_eq!(
        filtered(&app, json!({ "amountMin": "500" })).await,
        (2, vec![large.id.clone(), middle.id.clone()])
    );
    assert_eq!(
        filtered(&app, json!({ "amountMin": "100.00", "amountMax": "500" })).await,
        (2, vec![middle.id.clone(), small.id.clone()])
    );
    assert_eq!(
        filtered(&app, json!({ "submittedFrom": middle_at })).await,
        (2, vec![large.id.clone(), middle.id.clone()])
    );
    assert_eq!(
        filtered(&app, json!({ "submittedTo": middle_at, "wijk": KLARENDAL })).await,
        (2, vec![middle.id.clone(), small.id.clone()])
    );
    assert_eq!(
        filtered(
            &app,
            json!({ "submittedFrom": middle_at, "submittedTo": middle_at })
        )
        .await,
        (1, vec![middle.id.clone()])
    );

    // Updated: funding the small one makes it the only one updated after the others.
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    app.fund(&small.id, "100").await;
    let small_now = app
        .data(
            "query($id: ID!) { initiative(id: $id) { updatedAt } }",
            json!({ "id": small.id }),
            None,
        )
        .await;
    let updated = small_now["initiative"]["updatedAt"].as_str().unwrap();
    assert_eq!(
        filtered(&app, json!({ "updatedFrom": updated })).await,
        (1, vec![small.id.clone()])
    );
    assert_eq!(
        filtered(&app, json!({ "updatedTo": middle_at })).await,
        (1, vec![middle.id.clone()])
    );

    // totalCount counts every page.
    let data = app
        .data(
            FILTERED,
            json!({ "first": 1, "filter": { "amountMax": "900" } }),
            None,
        )
        .await;
    assert_eq!(data["initiatives"]["totalCount"], 3);
    assert_eq!(data["initiatives"]["nodes"].as_array().unwrap().len(), 1);

    for wrong in [
        json!({ "amountMin": "900", "amountMax": "100" }),
        json!({ "submittedFrom": "2026-02-01T00:00:00Z", "submittedTo": "2026-01-01T00:00:00Z" }),
        json!({ "updatedFrom": "2026-02-01T00:00:00Z", "updatedTo": "2026-01-01T00:00:00Z" }),
    ] {
        app.refused("BAD_USER_INPUT", FILTERED, json!({ "filter": wrong }), None)
            .await;
    }
}

/// A page filtered by status, then its last initiative changes status: its cursor no longer
/// matches the filter, yet the next page continues right after it.
async fn a_cursor_whose_initiative_changed_status_continues_after_it(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "5000").await;
    let mut submitted = Vec::new();
    for amount in ["100", "200", "300", "400"] {
        submitted.push(app.submit(KLARENDAL, "GROEN", amount).await);
    }
    let filter = json!({ "status": ["SUBMITTED"] });
    let first = app
        .data(FILTERED, json!({ "filter": filter, "first": 2 }), None)
        .await;
    let ids: Vec<&str> = first["initiatives"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![submitted[3].id.as_str(), submitted[2].id.as_str()]
    );
    let cursor = first["initiatives"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cursor, submitted[2].id);

    app.fund(&submitted[2].id, "300").await;
    let next = app
        .data(
            FILTERED,
            json!({ "filter": filter, "first": 2, "after": cursor }),
            None,
        )
        .await;
    let ids: Vec<&str> = next["initiatives"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![submitted[1].id.as_str(), submitted[0].id.as_str()]
    );
    assert_eq!(next["initiatives"]["totalCount"], 3);
    assert_eq!(next["initiatives"]["pageInfo"]["hasNextPage"], false);
}

/// Two initiatives connected by one event both changed last by it, at a moment after it: a page
/// of the wijk at that moment in `UPDATED_AT` order puts both at the connection's moment (their
/// submission order breaking the tie), also though both changed again afterwards.
async fn a_page_at_a_moment_orders_by_each_ones_last_change_then(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "2000").await;
    let a = app.submit(KLARENDAL, "GROEN", "100").await;
    let b = app.submit(KLARENDAL, "GROEN", "200").await;
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": a.id, "targetInitiativeId": b.id, "note": "zelfde idee" } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    let connected = moment(
        &at(&app, &a.id, None).await["initiative"],
        "InitiativeConnected",
    );
    app.fund(&a.id, "100").await;
    app.fund(&b.id, "200").await;
    let page = app
        .data(
            "query($code: ID!, $at: DateTime) { wijk(code: $code, asOf: $at) {
               initiatives(orderBy: { field: UPDATED_AT, direction: ASC }) {
                 nodes { id status updatedAt } } } }",
            json!({ "code": KLARENDAL, "at": connected }),
            None,
        )
        .await;
    let nodes = page["wijk"]["initiatives"]["nodes"].as_array().unwrap();
    let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [a.id.as_str(), b.id.as_str()], "{page}");
    for node in nodes {
        assert_eq!(
            parse_time(node["updatedAt"].as_str().unwrap()),
            parse_time(&connected)
        );
        assert_ne!(node["status"], "FUNDED");
    }
}
