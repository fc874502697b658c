//! Every mutation's success path: what it answers, what the state shows right after (also on
//! a new connection), and exactly what it does to the budget line. Each records one event.

use serde_json::json;

use crate::helpers::*;

app_tests!(
    submit_initiative_as_the_public,
    submit_initiative_on_behalf_of_a_resident,
    allocate_budget_sets_the_line,
    allocating_what_a_line_already_has_records_nothing,
    connect_initiative_to_another_initiative_shows_on_both,
    connect_initiative_to_a_party,
    fund_initiative_commits_from_the_line,
    complete_initiative_returns_the_rest_to_the_line,
    reject_initiative,
    refer_initiative,
    withdraw_initiative_by_staff_returns_the_funded_amount,
    withdraw_initiative_by_the_initiator_with_the_tracking_code,
    erase_initiator_data,
    change_team_contact,
    read_your_writes_on_a_new_connection,
    concurrent_fundings_never_overspend_a_line,
);

async fn submit_initiative_as_the_public(app: TestApp) {
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            SUBMIT,
            json!({ "input": {
                "wijkCode": KLARENDAL,
                "title": "Moestuin achter de Klarendalseweg",
                "description": "Samen groente kweken.\nVoor de hele straat.",
                "theme": "GROEN",
                "requestedAmount": "1250",
                "initiator": { "name": "Fatima el Amrani", "email": "fatima@example.nl", "phone": "026-3775555" },
            }}),
            None,
        )
        .await;
    let payload = &data["submitInitiative"];
    assert_eq!(payload["initiative"]["status"], "SUBMITTED");
    let id = payload["initiative"]["id"].as_str().unwrap();
    let code = payload["trackingCode"].as_str().unwrap();
    assert!(code.len() >= 32, "a tracking code is a secret: {code:?}");

    let initiative = app.initiative(id, None).await;
    assert_eq!(initiative["title"], "Moestuin achter de Klarendalseweg");
    assert_eq!(
        initiative["description"],
        "Samen groente kweken.\nVoor de hele straat."
    );
    assert_eq!(initiative["theme"], "GROEN");
    assert_eq!(initiative["wijk"]["code"], KLARENDAL);
    assert_eq!(initiative["requestedAmount"], "1250.00");
    assert_eq!(initiative["fundedAmount"], json!(null));
    assert_eq!(initiative["channel"], "WEB");
    assert_eq!(initiative["enteredByStaff"], false);
    assert_eq!(initiative["initiatorErased"], false);
    let history = initiative["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["type"], "InitiativeSubmitted");
    assert_eq!(history[0]["status"], "SUBMITTED");

    let events = app.events().await;
    assert_eq!(events.len(), events_before + 1, "one event recorded");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "InitiativeSubmitted");
    assert_eq!(last["initiativeId"], id);
    assert_eq!(last["wijk"]["code"], KLARENDAL);

    let counts = app
        .data(
            "query($c: ID!) { wijk(code: $c) { initiativeCounts { submitted total } } }",
            json!({ "c": KLARENDAL }),
            None,
        )
        .await;
    assert_eq!(
        counts["wijk"]["initiativeCounts"],
        json!({ "submitted": 1, "total": 1 })
    );
}

async fn submit_initiative_on_behalf_of_a_resident(app: TestApp) {
    let staff = app.staff_token("W2");
    let submitted = app
        .submit_with(
            json!({
                "wijkCode": SONSBEEK,
                "title": "Bankje bij de vijver",
                "theme": "WIJKONDERHOUD",
                "requestedAmount": "300.00",
                "channel": "PHONE",
                "initiator": { "name": "Henk de Vries", "phone": "026 123 4567" },
            }),
            Some(&staff),
        )
        .await;
    let initiative = app.initiative(&submitted.id, None).await;
    assert_eq!(initiative["channel"], "PHONE");
    assert_eq!(initiative["enteredByStaff"], true);
    assert_eq!(initiative["status"], "SUBMITTED");
    assert_eq!(initiative["description"], "");
}

async fn allocating_what_a_line_already_has_records_nothing(app: TestApp) {
    app.allocate(KLARENDAL, "SPEELTUINEN", "800.00").await;
    let (events_before, _) = app.head().await;
    let budget = app.allocate(KLARENDAL, "SPEELTUINEN", "800.00").await;
    assert_eq!(line_of(&budget, "SPEELTUINEN")["allocated"], "800.00");
    assert_eq!(
        app.head().await.0,
        events_before,
        "no event, so no second line on the wall screen's ticker"
    );
}

async fn allocate_budget_sets_the_line(app: TestApp) {
    let (events_before, _) = app.head().await;
    let budget = app.allocate(KLARENDAL, "SPEELTUINEN", "12500.50").await;
    assert_eq!(budget["year"], YEAR);
    assert_eq!(budget["allocated"], "12500.50");
    assert_eq!(budget["committed"], "0.00");
    assert_eq!(budget["spent"], "0.00");
    assert_eq!(budget["remaining"], "12500.50");
    let lines = budget["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 8, "one line per theme: {budget}");
    let line = line_of(&budget, "SPEELTUINEN");
    assert_eq!(line["allocated"], "12500.50");
    assert_eq!(line["remaining"], "12500.50");
    for other in lines.iter().filter(|l| l["theme"] != "SPEELTUINEN") {
        assert_eq!(other["allocated"], "0.00", "{other}");
    }

    // Set, not added.
    let budget = app.allocate(KLARENDAL, "SPEELTUINEN", "8000").await;
    assert_eq!(budget["allocated"], "8000.00");
    assert_eq!(
        app.line(KLARENDAL, "SPEELTUINEN").await["allocated"],
        "8000.00"
    );
    assert_eq!(app.head().await.0, events_before + 2);

    let years = app
        .data(
            "query($c: ID!) { wijk(code: $c) { budgetYears } }",
            json!({ "c": KLARENDAL }),
            None,
        )
        .await;
    assert_eq!(years["wijk"]["budgetYears"], json!([YEAR]));
}

async fn connect_initiative_to_another_initiative_shows_on_both(app: TestApp) {
    let staff = app.staff_token("W2");
    let here = app.submit(KLARENDAL, "GROEN", "500").await;
    // Also across wijken and gebieden.
    let there = app.submit(CENTRUM, "GROEN", "700").await;
    let (events_before, _) = app.head().await;

    let data = app
        .data(
            CONNECT,
            json!({ "input": { "initiativeId": here.id, "targetInitiativeId": there.id, "note": "Zelfde idee, samen optrekken" } }),
            Some(&staff),
        )
        .await;
    let connected = &data["connectInitiative"];
    assert_eq!(connected["status"], "CONNECTED");
    assert_eq!(
        connected["connections"],
        json!([{ "initiativeId": there.id, "incoming": false, "note": "Zelfde idee, samen optrekken", "party": null }])
    );
    assert_eq!(app.head().await.0, events_before + 1);

    let other_side = app.initiative(&there.id, Some(&app.admin_token)).await;
    let links = other_side["connections"].as_array().unwrap();
    assert_eq!(links.len(), 1, "the link shows on both: {other_side}");
    assert_eq!(links[0]["initiativeId"], here.id);
    assert_eq!(links[0]["incoming"], true);
    assert!(
        other_side["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["type"] == "InitiativeConnected"),
        "the other side's history shows the link: {other_side}"
    );
}

async fn connect_initiative_to_a_party(app: TestApp) {
    let staff = app.staff_token("W2");
    let initiative = app.submit(KLARENDAL, "CULTUUR", "900").await;
    let data = app
        .data(
            CONNECT,
            json!({ "input": {
                "initiativeId": initiative.id,
                "party": { "name": "Buurtcentrum Klarendal", "kind": "ORGANISATION" },
                "note": "Zij hebben een zaal",
            }}),
            Some(&staff),
        )
        .await;
    let connected = &data["connectInitiative"];
    assert_eq!(connected["status"], "CONNECTED");
    assert_eq!(
        connected["connections"],
        json!([{ "initiativeId": null, "incoming": false, "note": "Zij hebben een zaal",
                 "party": { "kind": "ORGANISATION", "name": "Buurtcentrum Klarendal" } }])
    );

    // Several times, also after funding (then it stays funded).
    app.allocate(KLARENDAL, "CULTUUR", "5000").await;
    app.fund(&initiative.id, "900").await;
    let data = app
        .data(
            CONNECT,
            json!({ "input": {
                "initiativeId": initiative.id,
                "party": { "name": "Jan Jansen", "kind": "PERSON" },
                "note": "Buurman met een aanhanger",
            }}),
            Some(&staff),
        )
        .await;
    assert_eq!(data["connectInitiative"]["status"], "FUNDED");
    assert_eq!(
        data["connectInitiative"]["connections"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn fund_initiative_commits_from_the_line(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "5000.00").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "1250.00").await;
    let (events_before, _) = app.head().await;
    let staff = app.staff_token("W2");
    let data = app
        .data(
            FUND,
            json!({ "input": { "initiativeId": initiative.id, "amount": "1000.10", "year": YEAR } }),
            Some(&staff),
        )
        .await;
    assert_eq!(
        data["fundInitiative"],
        json!({ "id": initiative.id, "status": "FUNDED", "fundedAmount": "1000.10", "fundedYear": YEAR })
    );
    assert_eq!(app.head().await.0, events_before + 1);

    let budget = app.budget(KLARENDAL).await;
    assert_eq!(
        line_of(&budget, "GROEN"),
        json!({ "theme": "GROEN", "allocated": "5000.00", "committed": "1000.10", "spent": "0.00", "remaining": "3999.90" })
    );
    assert_eq!(budget["committed"], "1000.10");
    assert_eq!(budget["remaining"], "3999.90");
}

async fn complete_initiative_returns_the_rest_to_the_line(app: TestApp) {
    app.allocate(KLARENDAL, "SPORT", "5000.00").await;
    let initiative = app.submit(KLARENDAL, "SPORT", "1250.00").await;
    app.fund(&initiative.id, "1250.00").await;
    let staff = app.staff_token("W2");
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            COMPLETE,
            json!({ "input": { "initiativeId": initiative.id, "spentAmount": "1000.01", "report": "Het veldje ligt er mooi bij" } }),
            Some(&staff),
        )
        .await;
    assert_eq!(
        data["completeInitiative"],
        json!({ "id": initiative.id, "status": "COMPLETED", "fundedAmount": "1250.00",
                "spentAmount": "1000.01", "report": "Het veldje ligt er mooi bij" })
    );
    assert_eq!(app.head().await.0, events_before + 1);
    // 1000.01 spent, 249.99 back on the line, nothing committed any more.
    assert_eq!(
        app.line(KLARENDAL, "SPORT").await,
        json!({ "theme": "SPORT", "allocated": "5000.00", "committed": "0.00", "spent": "1000.01", "remaining": "3999.99" })
    );

    // Spending exactly the funded amount is allowed too.
    let second = app.submit(KLARENDAL, "SPORT", "99.99").await;
    app.fund(&second.id, "99.99").await;
    app.data(
        COMPLETE,
        json!({ "input": { "initiativeId": second.id, "spentAmount": "99.99" } }),
        Some(&staff),
    )
    .await;
    assert_eq!(
        app.line(KLARENDAL, "SPORT").await,
        json!({ "theme": "SPORT", "allocated": "5000.00", "committed": "0.00", "spent": "1100.00", "remaining": "3900.00" })
    );
}

async fn reject_initiative(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "VEILIGHEID", "400").await;
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            REJECT,
            json!({ "input": { "initiativeId": initiative.id, "reason": "Dit valt onder de politie" } }),
            Some(&app.staff_token("W2")),
        )
        .await;
    assert_eq!(
        data["rejectInitiative"],
        json!({ "id": initiative.id, "status": "REJECTED", "rejectionReason": "Dit valt onder de politie" })
    );
    assert_eq!(app.head().await.0, events_before + 1);
    // The resident reads the reason without signing in.
    assert_eq!(
        app.initiative(&initiative.id, None).await["rejectionReason"],
        "Dit valt onder de politie"
    );
}

async fn refer_initiative(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "WELZIJN", "150").await;
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            REFER,
            json!({ "input": { "initiativeId": initiative.id, "sociaalWijkteam": "Sociaal wijkteam Noord", "note": "Individuele vraag" } }),
            Some(&app.staff_token("W2")),
        )
        .await;
    assert_eq!(
        data["referInitiative"],
        json!({ "id": initiative.id, "status": "REFERRED", "referredTo": "Sociaal wijkteam Noord" })
    );
    assert_eq!(app.head().await.0, events_before + 1);
}

async fn withdraw_initiative_by_staff_returns_the_funded_amount(app: TestApp) {
    app.allocate(KLARENDAL, "PARTICIPATIE", "2000.00").await;
    let initiative = app.submit(KLARENDAL, "PARTICIPATIE", "800").await;
    app.fund(&initiative.id, "800.00").await;
    assert_eq!(
        app.line(KLARENDAL, "PARTICIPATIE").await["remaining"],
        "1200.00"
    );
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            WITHDRAW,
            json!({ "input": { "initiativeId": initiative.id, "reason": "De initiatiefnemer is verhuisd" } }),
            Some(&app.staff_token("W2")),
        )
        .await;
    assert_eq!(data["withdrawInitiative"]["status"], "WITHDRAWN");
    assert_eq!(data["withdrawInitiative"]["withdrawnBy"], "STAFF");
    assert_eq!(app.head().await.0, events_before + 1);
    assert_eq!(
        app.line(KLARENDAL, "PARTICIPATIE").await,
        json!({ "theme": "PARTICIPATIE", "allocated": "2000.00", "committed": "0.00", "spent": "0.00", "remaining": "2000.00" })
    );
}

async fn withdraw_initiative_by_the_initiator_with_the_tracking_code(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000.00").await;
    let initiative = app.submit(KLARENDAL, "GROEN", "600").await;
    app.fund(&initiative.id, "600.00").await;
    let (events_before, _) = app.head().await;
    // No token: the tracking code is the initiator's proof.
    let data = app
        .data(
            WITHDRAW,
            json!({ "input": { "initiativeId": initiative.id, "trackingCode": initiative.tracking_code } }),
            None,
        )
        .await;
    assert_eq!(data["withdrawInitiative"]["status"], "WITHDRAWN");
    assert_eq!(data["withdrawInitiative"]["withdrawnBy"], "INITIATOR");
    assert_eq!(app.head().await.0, events_before + 1);
    assert_eq!(
        app.line(KLARENDAL, "GROEN").await,
        json!({ "theme": "GROEN", "allocated": "1000.00", "committed": "0.00", "spent": "0.00", "remaining": "1000.00" })
    );
}

async fn erase_initiator_data(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "CULTUUR", "250").await;
    let before = app.initiative(&initiative.id, None).await;
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            ERASE,
            json!({ "input": { "initiativeId": initiative.id } }),
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(
        data["eraseInitiatorData"],
        json!({ "id": initiative.id, "status": "SUBMITTED", "title": before["title"],
                "initiatorErased": true, "initiator": null })
    );
    assert_eq!(app.head().await.0, events_before + 1);
}

async fn change_team_contact(app: TestApp) {
    let (events_before, _) = app.head().await;
    let data = app
        .data(
            CHANGE_TEAM_CONTACT,
            json!({ "input": { "gebiedCode": "W2", "email": "noordwest@arnhem.nl", "phone": "026 377 4000" } }),
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(
        data["changeTeamContact"],
        json!({ "code": "W2", "name": "Noordwest", "team": { "email": "noordwest@arnhem.nl", "phone": "026 377 4000" } })
    );
    assert_eq!(app.head().await.0, events_before + 1);
    // "Mijn wijk" shows it for every wijk of the gebied.
    let data = app
        .data(
            "{ a: wijk(code: \"WK020207\") { gebied { team { email phone } } } b: wijk(code: \"WK020215\") { gebied { team { email } } } c: wijk(code: \"WK020201\") { gebied { team { email } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        data["a"]["gebied"]["team"],
        json!({ "email": "noordwest@arnhem.nl", "phone": "026 377 4000" })
    );
    assert_eq!(data["b"]["gebied"]["team"]["email"], "noordwest@arnhem.nl");
    assert_eq!(
        data["c"]["gebied"]["team"]["email"], "leefomgeving.w1@arnhem.nl",
        "other gebieden keep theirs"
    );
}

/// Right after a mutation returns, a query on a new connection sees it.
async fn read_your_writes_on_a_new_connection(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "100000.00").await;
    for round in 1..=10 {
        let initiative = app.submit(KLARENDAL, "GROEN", "10").await;
        let fresh = reqwest::Client::new();
        let seen = graphql_with(
            &fresh,
            app.address,
            "query($id: ID!) { initiative(id: $id) { status } }",
            json!({ "id": initiative.id }),
            None,
        )
        .await;
        assert_eq!(
            seen["data"]["initiative"]["status"], "SUBMITTED",
            "round {round}: {seen}"
        );

        app.fund(&initiative.id, "10.00").await;
        let fresh = reqwest::Client::new();
        let seen = graphql_with(
            &fresh,
            app.address,
            "query($id: ID!, $c: ID!, $y: Int) { initiative(id: $id) { status } wijk(code: $c) { budget(year: $y) { committed } } }",
            json!({ "id": initiative.id, "c": KLARENDAL, "y": YEAR }),
            None,
        )
        .await;
        assert_eq!(
            seen["data"]["initiative"]["status"], "FUNDED",
            "round {round}: {seen}"
        );
        assert_eq!(
            seen["data"]["wijk"]["budget"]["committed"],
            format!("{}.00", round * 10),
            "round {round}"
        );
    }
}

/// Many staff funding from one line at once: what fits commits, the rest is refused with
/// BUDGET_EXCEEDED, and the line never goes below zero.
async fn concurrent_fundings_never_overspend_a_line(app: TestApp) {
    app.allocate(KLARENDAL, "SPEELTUINEN", "1000.00").await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(app.submit(KLARENDAL, "SPEELTUINEN", "300").await.id);
    }
    let staff = app.staff_token("W2");
    let attempts = ids.iter().map(|id| {
        let staff = staff.clone();
        let app = &app;
        async move {
            app.graphql(
                FUND,
                json!({ "input": { "initiativeId": id, "amount": "300.00", "year": YEAR } }),
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
        if result["data"]["fundInitiative"]["status"] != "FUNDED" {
            assert_eq!(
                result["errors"][0]["extensions"]["code"], "BUDGET_EXCEEDED",
                "{result}"
            );
        }
    }
    assert_eq!(funded, 3, "1000.00 holds three fundings of 300.00");
    assert_eq!(
        app.line(KLARENDAL, "SPEELTUINEN").await,
        json!({ "theme": "SPEELTUINEN", "allocated": "1000.00", "committed": "900.00", "spent": "0.00", "remaining": "100.00" })
    );
    let fundings = app
        .events()
        .await
        .iter()
        .filter(|e| e["type"] == "InitiativeFunded")
        .count();
    assert_eq!(fundings, 3, "exactly the successful fundings were recorded");
}
