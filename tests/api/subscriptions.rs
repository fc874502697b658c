//! Subscriptions over graphql-transport-ws on `/graphql/ws`: each first sends the current
//! state, then the change another client makes arrives. No sleeps: a subscription's first
//! message proves it is listening before the change is made.

use serde_json::json;

use crate::helpers::*;

app_tests!(
    wijk_updated_sends_the_state_then_a_funding,
    city_overview_updated_sends_the_state_then_a_funding,
    initiative_events_sends_a_snapshot_then_each_event,
    event_feed_for_staff_replays_the_log_then_follows_it,
    event_feed_is_refused_to_the_public,
    public_events_show_lines_without_personal_data,
    unknown_wijk_and_initiative_are_not_found,
);

async fn wijk_updated_sends_the_state_then_a_funding(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "2000").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "750").await;
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            "subscription($c: ID!, $y: Int) { wijkUpdated(code: $c, year: $y) { code name
                budget { committed remaining } initiativeCounts { submitted funded } } }",
            json!({ "c": KLARENDAL, "y": YEAR }),
        )
        .await;
    let first = ws.data(&id).await;
    assert_eq!(
        first["wijkUpdated"],
        json!({ "code": KLARENDAL, "name": "Klarendal",
                "budget": { "committed": "0.00", "remaining": "2000.00" },
                "initiativeCounts": { "submitted": 1, "funded": 0 } })
    );

    // Another client funds it.
    app.fund(&initiative.id, "750").await;
    let update = ws
        .data_until(&id, |d| d["wijkUpdated"]["budget"]["committed"] == "750.00")
        .await;
    assert_eq!(update["wijkUpdated"]["budget"]["remaining"], "1250.00");
    assert_eq!(
        update["wijkUpdated"]["initiativeCounts"],
        json!({ "submitted": 0, "funded": 1 })
    );
}

async fn city_overview_updated_sends_the_state_then_a_funding(app: TestApp) {
    app.allocate(CENTRUM, "SPORT", "3000").await;
    let initiative = app.submit(CENTRUM, "SPORT", "1000").await;
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            "subscription($y: Int) { cityOverviewUpdated(year: $y) { year position
                totals { allocated committed remaining } initiativeCounts { funded total } } }",
            json!({ "y": YEAR }),
        )
        .await;
    let first = ws.data(&id).await;
    let overview = &first["cityOverviewUpdated"];
    assert_eq!(overview["year"], YEAR);
    assert_eq!(
        overview["totals"],
        json!({ "allocated": "3000.00", "committed": "0.00", "remaining": "3000.00" })
    );
    assert_eq!(
        overview["initiativeCounts"],
        json!({ "funded": 0, "total": 1 })
    );
    let before = position(&overview["position"]);

    app.fund(&initiative.id, "999.99").await;
    let update = ws
        .data_until(&id, |d| {
            d["cityOverviewUpdated"]["totals"]["committed"] == "999.99"
        })
        .await;
    let overview = &update["cityOverviewUpdated"];
    assert_eq!(overview["totals"]["remaining"], "2000.01");
    assert_eq!(
        overview["initiativeCounts"],
        json!({ "funded": 1, "total": 1 })
    );
    assert!(position(&overview["position"]) > before);
}

async fn initiative_events_sends_a_snapshot_then_each_event(app: TestApp) {
    app.allocate(KLARENDAL, "CULTUUR", "500").await;
    let initiative = app.submit(KLARENDAL, "CULTUUR", "300").await;
    let other = app.submit(SONSBEEK, "CULTUUR", "300").await;
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            "subscription($id: ID!) { initiativeEvents(id: $id) {
                initiative { id status fundedAmount } event { position type initiativeId summary actor } } }",
            json!({ "id": initiative.id }),
        )
        .await;
    let first = ws.data(&id).await;
    assert_eq!(
        first["initiativeEvents"],
        json!({ "initiative": { "id": initiative.id, "status": "SUBMITTED", "fundedAmount": null }, "event": null })
    );

    // Changes to other initiatives are not sent; each change to this one is, once, in order.
    app.reject(&other.id).await;
    app.fund(&initiative.id, "300").await;
    let funded = ws.data(&id).await;
    let update = &funded["initiativeEvents"];
    assert_eq!(
        update["initiative"],
        json!({ "id": initiative.id, "status": "FUNDED", "fundedAmount": "300.00" })
    );
    assert_eq!(update["event"]["type"], "InitiativeFunded");
    assert_eq!(update["event"]["initiativeId"], initiative.id);
    assert_eq!(
        update["event"]["actor"],
        json!(null),
        "the public does not see who"
    );
    let funded_at = position(&update["event"]["position"]);

    // Connected from another initiative: it changes this one too.
    let third = app.submit(SONSBEEK, "CULTUUR", "50").await;
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": third.id, "targetInitiativeId": initiative.id, "note": "n" } }),
        Some(&app.admin_token),
    )
    .await;
    let connected = ws.data(&id).await;
    let update = &connected["initiativeEvents"];
    assert_eq!(update["event"]["type"], "InitiativeConnected");
    assert!(position(&update["event"]["position"]) > funded_at);
    assert_eq!(update["initiative"]["status"], "FUNDED");
}

async fn event_feed_for_staff_replays_the_log_then_follows_it(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "10").await;
    let log = app.events().await;
    let staff = app.staff_token("W2");
    let mut ws = app.ws(Some(&staff)).await;
    let id = ws
        .subscribe(
            "subscription($after: Position) { eventFeed(after: $after) { position type actor initiativeId } }",
            json!({ "after": "0" }),
        )
        .await;
    // From the start: the whole log, in order, each once.
    for (i, expected) in log.iter().enumerate() {
        let data = ws.data(&id).await;
        let event = &data["eventFeed"];
        assert_eq!(event["position"], expected["position"], "event {i}");
        assert_eq!(event["type"], expected["type"], "event {i}");
        assert_eq!(
            event["actor"], expected["actor"],
            "staff see who did it (event {i})"
        );
    }
    // Then live: each new one, once.
    app.reject(&initiative.id).await;
    let second = app.submit(KLARENDAL, "GROEN", "10").await;
    let rejected = ws.data(&id).await;
    assert_eq!(rejected["eventFeed"]["type"], "InitiativeRejected");
    assert_eq!(rejected["eventFeed"]["initiativeId"], initiative.id);
    assert_eq!(rejected["eventFeed"]["actor"], "beheer");
    let submitted = ws.data(&id).await;
    assert_eq!(submitted["eventFeed"]["type"], "InitiativeSubmitted");
    assert_eq!(submitted["eventFeed"]["initiativeId"], second.id);
    let log = app.events().await;
    assert_eq!(
        rejected["eventFeed"]["position"],
        log[log.len() - 2]["position"]
    );
    assert_eq!(
        submitted["eventFeed"]["position"],
        log[log.len() - 1]["position"]
    );

    // From a position: only what came after it.
    let mut late = app.ws(Some(&app.admin_token)).await;
    let from = log[log.len() - 2]["position"].clone();
    let id = late
        .subscribe(
            "subscription($after: Position) { eventFeed(after: $after) { position } }",
            json!({ "after": from }),
        )
        .await;
    assert_eq!(
        late.data(&id).await["eventFeed"]["position"],
        log[log.len() - 1]["position"]
    );
}

async fn event_feed_is_refused_to_the_public(app: TestApp) {
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            "subscription { eventFeed(after: \"0\") { position } }",
            json!({}),
        )
        .await;
    match ws.next(&id).await {
        Next::Errors(errors) => {
            assert_eq!(
                errors[0].code.as_deref(),
                Some("UNAUTHENTICATED"),
                "{errors:?}"
            );
            assert_safe_message(&errors[0].message);
        }
        other => panic!("the public must not follow the event feed, got {other:?}"),
    }
}

async fn public_events_show_lines_without_personal_data(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let name = "Wilhelmina Oosterbeek-Zonneveld";
    let email = "w.oosterbeek.zonneveld@example.nl";
    let phone = "+31 6 1234 9876";
    let submitted = app
        .submit_with(
            json!({ "wijkCode": KLARENDAL, "title": "Bloembakken langs de Hoofdstraat", "theme": "GROEN",
                    "requestedAmount": "400", "initiator": { "name": name, "email": email, "phone": phone } }),
            None,
        )
        .await;
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            "subscription { publicEvents(recent: 5) { position type summary actor initiativeId wijk { code name } } }",
            json!({}),
        )
        .await;
    let check = |line: &serde_json::Value| {
        let text = line.to_string();
        for secret in [name, email, phone, "Wilhelmina", "Oosterbeek"] {
            assert!(
                !text.contains(secret),
                "personal data in a public line: {text}"
            );
        }
        assert_eq!(
            line["actor"],
            json!(null),
            "the public does not see who: {text}"
        );
    };
    // The recent lines first, oldest first, ending with the submission.
    let mut recent = Vec::new();
    for _ in 0..5 {
        let data = ws.data(&id).await;
        check(&data["publicEvents"]);
        recent.push(data["publicEvents"].clone());
    }
    let last = recent.last().unwrap();
    assert_eq!(last["type"], "InitiativeSubmitted");
    assert_eq!(last["initiativeId"], submitted.id);
    assert_eq!(
        last["wijk"],
        json!({ "code": KLARENDAL, "name": "Klarendal" })
    );
    assert!(
        last["summary"]
            .as_str()
            .unwrap()
            .contains("Bloembakken langs de Hoofdstraat"),
        "the line says what: {last}"
    );
    let positions: Vec<u64> = recent.iter().map(|l| position(&l["position"])).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // Then live.
    app.fund(&submitted.id, "400").await;
    let data = ws.data(&id).await;
    let line = &data["publicEvents"];
    check(line);
    assert_eq!(line["type"], "InitiativeFunded");
    assert!(line["summary"].as_str().unwrap().contains("400"), "{line}");

    // Staff following the same ticker do see who.
    let mut staff_ws = app.ws(Some(&app.staff_token("W2"))).await;
    let id = staff_ws
        .subscribe(
            "subscription { publicEvents(recent: 1) { type actor } }",
            json!({}),
        )
        .await;
    let data = staff_ws.data(&id).await;
    assert_eq!(
        data["publicEvents"],
        json!({ "type": "InitiativeFunded", "actor": "beheer" })
    );
}

async fn unknown_wijk_and_initiative_are_not_found(app: TestApp) {
    let mut ws = app.ws(None).await;
    let wijk = ws
        .subscribe(
            "subscription { wijkUpdated(code: \"WK036301\") { code } }",
            json!({}),
        )
        .await;
    match ws.next(&wijk).await {
        Next::Errors(errors) => {
            assert_eq!(errors[0].code.as_deref(), Some("NOT_FOUND"), "{errors:?}")
        }
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
    let initiative = ws
        .subscribe(
            "subscription { initiativeEvents(id: \"0190a0b0-0000-7000-8000-000000000000\") { event { type } } }",
            json!({}),
        )
        .await;
    match ws.next(&initiative).await {
        Next::Errors(errors) => {
            assert_eq!(errors[0].code.as_deref(), Some("NOT_FOUND"), "{errors:?}")
        }
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
}

/// Scale-out (docs/design.md): two instances on one PostgreSQL. A subscription on one sees a
/// funding made on the other, and fundings split over both never overspend a line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_second_instance_sees_mutations_of_the_first() {
    let backend = Backend::postgres(concat!(
        module_path!(),
        "::postgres_a_second_instance_sees_mutations_of_the_first"
    ));
    let Some(a) = spawn_app(backend).await else {
        return;
    };
    let b = spawn_instance(&a).await;
    a.allocate(KLARENDAL, "GROEN", "1000.00").await;
    let first = a.submit(KLARENDAL, "GROEN", "400").await;

    let mut ws = b.ws(None).await;
    let id = ws
        .subscribe(
            "subscription($c: ID!, $y: Int) { wijkUpdated(code: $c, year: $y) { budget { committed } initiativeCounts { submitted } } }",
            json!({ "c": KLARENDAL, "y": YEAR }),
        )
        .await;
    // B has caught up with A's allocation (it follows the same log).
    ws.data_until(&id, |d| d["wijkUpdated"]["budget"]["committed"] == "0.00")
        .await;
    a.fund(&first.id, "400.00").await;
    ws.data_until(&id, |d| d["wijkUpdated"]["budget"]["committed"] == "400.00")
        .await;

    // Six fundings of 200.00 on a line with 600.00 left, alternating between the instances.
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(a.submit(KLARENDAL, "GROEN", "200").await.id);
    }
    // Across instances a write is seen eventually, not at once: wait until B has them all.
    ws.data_until(&id, |d| {
        d["wijkUpdated"]["initiativeCounts"]["submitted"] == 6
    })
    .await;
    let staff = a.staff_token("W2");
    let attempts = ids.iter().enumerate().map(|(i, id)| {
        let app = if i % 2 == 0 { &a } else { &b };
        let staff = staff.clone();
        async move {
            app.graphql(
                FUND,
                json!({ "input": { "initiativeId": id, "amount": "200.00", "year": YEAR } }),
                Some(&staff),
            )
            .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let funded = results
        .iter()
        .filter(|r| r["data"]["fundInitiative"]["status"] == "FUNDED")
        .count();
    for result in &results {
        if result["data"]["fundInitiative"].is_null() {
            assert_eq!(
                result["errors"][0]["extensions"]["code"], "BUDGET_EXCEEDED",
                "{result}"
            );
        }
    }
    assert_eq!(funded, 3, "600.00 left holds three fundings of 200.00");
    // B follows: its state reaches 400.00 + 600.00 committed, and the line is exactly used up.
    ws.data_until(&id, |d| {
        d["wijkUpdated"]["budget"]["committed"] == "1000.00"
    })
    .await;
    for app in [&a, &b] {
        assert_eq!(
            app.line(KLARENDAL, "GROEN").await,
            json!({ "theme": "GROEN", "allocated": "1000.00", "committed": "1000.00", "spent": "0.00", "remaining": "0.00" })
        );
    }
}
