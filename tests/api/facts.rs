//! Structured facts beside the Dutch text (issue 16, items 5 and 6): linked initiatives in one
//! request, the moments of an initiative's decisions, typed event fields, amounts after a
//! withdrawal, counts of the year asked for, ordering, and the naming scheme.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde_json::{json, Value};

use crate::helpers::*;

e2e_tests!(
    app: [
        a_link_carries_the_linked_initiative,
        an_initiative_says_when_it_was_funded_decided_and_completed,
        an_event_carries_its_facts_as_data,
        the_initiative_of_an_event_shows_personal_data_only_to_whom_it_may,
        amounts_after_a_withdrawal_and_a_completion_mean_what_they_say,
        initiatives_page_through_every_order,
        a_cursor_holds_its_place_when_its_initiative_moves,
        a_cursor_is_valid_only_in_its_own_order,
        old_and_new_names_give_the_same,
        deprecated_names_say_what_replaces_them,
    ],
    backend: [counts_follow_the_year_asked],
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

/// The year (in Arnhem) of a moment as the API writes it.
fn arnhem_year(time: &Value) -> i32 {
    let time: DateTime<Utc> = time
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a time: {time}"));
    (time + chrono::Duration::hours(1)).year()
}

const FACTS: &str = "kind type theme year amount returnedAmount statusAfter occurredAt recordedAt
    initiativeId initiative { id status } wijk { code }";

/// The log's events after `after`, with their facts.
async fn events_with_facts(app: &TestApp, after: u64) -> Vec<Value> {
    let query = format!(
        "query($after: Position) {{ events(after: $after, first: 500) {{ position {FACTS} }} }}"
    );
    let data = app
        .data(&query, json!({ "after": after.to_string() }), None)
        .await;
    data["events"].as_array().unwrap().clone()
}

/// `SCREAMING_SNAKE` of a CamelCase event type: `InitiativeFunded` → `INITIATIVE_FUNDED`.
fn screaming(event_type: &str) -> String {
    let mut out = String::new();
    for (i, c) in event_type.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Every event says as data what its Dutch line says: its kind, theme, year, amount (and what
/// went back), the initiative and its status after the event.
async fn an_event_carries_its_facts_as_data(app: TestApp) {
    let staff = app.staff_token("W2");
    let registered = events_with_facts(&app, 0).await;
    let (_, start) = app.head().await;
    let this_year = arnhem_year(&json!(Utc::now().to_rfc3339()));

    app.allocate(KLARENDAL, "GROEN", "5000").await;
    let completed = app.submit(KLARENDAL, "GROEN", "1000").await;
    app.fund(&completed.id, "1000").await;
    app.data(
        COMPLETE,
        json!({ "input": { "initiativeId": completed.id, "spentAmount": "900" } }),
        Some(&staff),
    )
    .await;
    let withdrawn = app.submit(KLARENDAL, "GROEN", "300").await;
    app.fund(&withdrawn.id, "300").await;
    app.data(
        WITHDRAW,
        json!({ "input": { "initiativeId": withdrawn.id } }),
        Some(&staff),
    )
    .await;
    let rejected = app.submit(KLARENDAL, "SPORT", "50").await;
    app.reject(&rejected.id).await;

    let events = events_with_facts(&app, start).await;
    let facts = |e: &Value| {
        json!([
            e["kind"],
            e["theme"],
            e["year"],
            e["amount"],
            e["returnedAmount"],
            e["statusAfter"],
            e["initiative"]["id"],
            e["initiative"]["status"]
        ])
    };
    let got: Vec<Value> = events.iter().map(facts).collect();
    let (c, w, r) = (&completed.id, &withdrawn.id, &rejected.id);
    assert_eq!(
        got,
        vec![
            json!([
                "BUDGET_ALLOCATED",
                "GROEN",
                YEAR,
                "5000.00",
                null,
                null,
                null,
                null
            ]),
            json!([
                "INITIATIVE_SUBMITTED",
                "GROEN",
                this_year,
                "1000.00",
                null,
                "SUBMITTED",
                c,
                "COMPLETED"
            ]),
            json!([
                "INITIATIVE_FUNDED",
                "GROEN",
                YEAR,
                "1000.00",
                null,
                "FUNDED",
                c,
                "COMPLETED"
            ]),
            json!([
                "INITIATIVE_COMPLETED",
                "GROEN",
                YEAR,
                "900.00",
                "100.00",
                "COMPLETED",
                c,
                "COMPLETED"
            ]),
            json!([
                "INITIATIVE_SUBMITTED",
                "GROEN",
                this_year,
                "300.00",
                null,
                "SUBMITTED",
                w,
                "WITHDRAWN"
            ]),
            json!([
                "INITIATIVE_FUNDED",
                "GROEN",
                YEAR,
                "300.00",
                null,
                "FUNDED",
                w,
                "WITHDRAWN"
            ]),
            json!([
                "INITIATIVE_WITHDRAWN",
                "GROEN",
                YEAR,
                "300.00",
                "300.00",
                "WITHDRAWN",
                w,
                "WITHDRAWN"
            ]),
            json!([
                "INITIATIVE_SUBMITTED",
                "SPORT",
                this_year,
                "50.00",
                null,
                "SUBMITTED",
                r,
                "REJECTED"
            ]),
            json!([
                "INITIATIVE_REJECTED",
                "SPORT",
                this_year,
                null,
                null,
                "REJECTED",
                r,
                "REJECTED"
            ]),
        ]
    );
    for event in events.iter().chain(&registered) {
        // The enum names the same type as the string; the id field and the object agree.
        assert_eq!(event["kind"], screaming(event["type"].as_str().unwrap()));
        assert_eq!(event["initiative"]["id"], event["initiativeId"]);
        // Made through the API: it happened when it was recorded.
        assert_eq!(event["occurredAt"], event["recordedAt"]);
    }
    // Registrations concern no line and no initiative.
    let wijk = registered
        .iter()
        .find(|e| e["kind"] == "WIJK_REGISTERED")
        .expect("a wijk registered");
    assert_eq!(
        facts(wijk),
        json!(["WIJK_REGISTERED", null, null, null, null, null, null, null])
    );

    // The admin's events: a team contact concerns no initiative; an erasure keeps the facts.
    let (_, before_admin) = app.head().await;
    app.data(
        CHANGE_TEAM_CONTACT,
        json!({ "input": { "gebiedCode": "W2", "email": "noordwest@arnhem.nl", "phone": "026 377 4000" } }),
        Some(&app.admin_token),
    )
    .await;
    app.data(
        ERASE,
        json!({ "input": { "initiativeId": rejected.id } }),
        Some(&app.admin_token),
    )
    .await;
    let admin: Vec<Value> = events_with_facts(&app, before_admin)
        .await
        .iter()
        .map(facts)
        .collect();
    assert_eq!(
        admin,
        vec![
            json!([
                "TEAM_CONTACT_CHANGED",
                null,
                null,
                null,
                null,
                null,
                null,
                null
            ]),
            json!([
                "INITIATOR_DATA_ERASED",
                "SPORT",
                this_year,
                null,
                null,
                "REJECTED",
                r,
                "REJECTED"
            ]),
        ]
    );
    let events = events_with_facts(&app, start).await;

    // The overview's recent lines and the public ticker are the same records.
    let recent = app
        .data(
            &format!("{{ cityOverview {{ recentEvents(first: 3) {{ position {FACTS} }} }} }}"),
            json!({}),
            None,
        )
        .await;
    let newest: Vec<Value> = events.iter().rev().take(3).cloned().collect();
    assert_eq!(recent["cityOverview"]["recentEvents"], json!(newest));
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            &format!("subscription {{ publicEvents(first: 1) {{ position {FACTS} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(ws.data(&id).await["publicEvents"], newest[0]);
    app.submit(KLARENDAL, "CULTUUR", "75").await;
    let live = &ws.data(&id).await["publicEvents"];
    assert_eq!(
        facts(live),
        json!([
            "INITIATIVE_SUBMITTED",
            "CULTUUR",
            this_year,
            "75.00",
            null,
            "SUBMITTED",
            live["initiativeId"],
            "SUBMITTED"
        ])
    );
}

/// `EventRecord.initiative` is the initiative as anyone may see it: its initiator's contact
/// details only for staff of its gebied and admins, like everywhere else.
async fn the_initiative_of_an_event_shows_personal_data_only_to_whom_it_may(app: TestApp) {
    let submitted = app.submit(KLARENDAL, "GROEN", "100").await;
    let query = "{ events(first: 500) { kind initiative { id initiator { name email } } } }";
    let initiator = |data: Value| {
        data["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "INITIATIVE_SUBMITTED")
            .map(|e| e["initiative"]["initiator"].clone())
            .expect("the submission")
    };
    assert_eq!(
        initiator(app.data(query, json!({}), None).await),
        Value::Null
    );
    let elsewhere = app.staff_token("W1");
    assert_eq!(
        initiator(app.data(query, json!({}), Some(&elsewhere)).await),
        Value::Null
    );
    let own = app.staff_token("W2");
    assert_eq!(
        initiator(app.data(query, json!({}), Some(&own)).await),
        json!({ "name": "Bewoner Testpersoon", "email": "bewoner@example.nl" })
    );
    // The public's text of the whole answer holds none of it.
    let public = app.data(query, json!({}), None).await.to_string();
    assert!(
        !public.contains("Testpersoon") && !public.contains("bewoner@"),
        "{public}"
    );
    assert!(public.contains(&submitted.id));
}

const AMOUNTS: &str = "query($id: ID!) { initiative(id: $id) {
    status requestedAmount fundedAmount fundedYear spentAmount returnedAmount } }";

/// After a withdrawal the money is back on the line: `fundedAmount` is `"0.00"` and
/// `returnedAmount` says what went back. After a completion `fundedAmount` stays what was funded,
/// split into `spentAmount` and `returnedAmount`. The line's `committed` and `spent` follow from
/// the initiatives' amounts.
async fn amounts_after_a_withdrawal_and_a_completion_mean_what_they_say(app: TestApp) {
    let staff = app.staff_token("W2");
    app.allocate(KLARENDAL, "GROEN", "5000").await;
    let amounts = |id: String| {
        let app = &app;
        async move { app.data(AMOUNTS, json!({ "id": id }), None).await["initiative"].clone() }
    };

    let withdrawn = app.submit(KLARENDAL, "GROEN", "800").await;
    app.fund(&withdrawn.id, "700").await;
    assert_eq!(
        amounts(withdrawn.id.clone()).await,
        json!({ "status": "FUNDED", "requestedAmount": "800.00", "fundedAmount": "700.00",
                "fundedYear": YEAR, "spentAmount": null, "returnedAmount": null })
    );
    app.data(
        WITHDRAW,
        json!({ "input": { "initiativeId": withdrawn.id } }),
        Some(&staff),
    )
    .await;
    assert_eq!(
        amounts(withdrawn.id.clone()).await,
        json!({ "status": "WITHDRAWN", "requestedAmount": "800.00", "fundedAmount": "0.00",
                "fundedYear": YEAR, "spentAmount": null, "returnedAmount": "700.00" })
    );

    let completed = app.submit(KLARENDAL, "GROEN", "1000").await;
    app.fund(&completed.id, "1000").await;
    app.data(
        COMPLETE,
        json!({ "input": { "initiativeId": completed.id, "spentAmount": "650" } }),
        Some(&staff),
    )
    .await;
    assert_eq!(
        amounts(completed.id.clone()).await,
        json!({ "status": "COMPLETED", "requestedAmount": "1000.00", "fundedAmount": "1000.00",
                "fundedYear": YEAR, "spentAmount": "650.00", "returnedAmount": "350.00" })
    );

    let open = app.submit(KLARENDAL, "GROEN", "400").await;
    app.fund(&open.id, "400").await;
    let never = app.submit(KLARENDAL, "GROEN", "90").await;
    app.data(
        WITHDRAW,
        json!({ "input": { "initiativeId": never.id } }),
        Some(&staff),
    )
    .await;
    assert_eq!(
        amounts(never.id.clone()).await,
        json!({ "status": "WITHDRAWN", "requestedAmount": "90.00", "fundedAmount": null,
                "fundedYear": null, "spentAmount": null, "returnedAmount": null })
    );

    // committed = what FUNDED initiatives hold; spent = what COMPLETED ones spent; every
    // funded amount is spent, returned or still held.
    let line = app.line(KLARENDAL, "GROEN").await;
    assert_eq!(
        line,
        json!({ "theme": "GROEN", "allocated": "5000.00", "committed": "400.00",
                "spent": "650.00", "remaining": "3950.00" })
    );
    let history = app
        .data(
            "query($id: ID!) { initiative(id: $id) { history { kind summary } } }",
            json!({ "id": withdrawn.id }),
            None,
        )
        .await;
    // What was funded at the time stays in the history.
    let funded_line = history["initiative"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "INITIATIVE_FUNDED")
        .map(|h| h["summary"].as_str().unwrap().to_owned())
        .expect("the funding in the history");
    assert!(funded_line.contains("700"), "{funded_line}");
}

/// The year counts of the city, its gebieden and its wijken: initiatives submitted in `year`
/// (in Arnhem), per status; all years where no year is asked or implied.
async fn counts_follow_the_year_asked(backend: Backend) {
    let Some(app) = start_demo(backend, 2).await else {
        return;
    };
    // Every initiative with its year, status, wijk and gebied, from the list.
    let query = "query($after: String) { initiatives(first: 100, after: $after) {
        edges { node { submittedAt status wijk { code gebied { code } } } }
        pageInfo { hasNextPage endCursor } } }";
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.data(query, json!({ "after": after }), None).await;
        let page = &data["initiatives"];
        all.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let statuses = [
        "SUBMITTED",
        "CONNECTED",
        "FUNDED",
        "COMPLETED",
        "REJECTED",
        "WITHDRAWN",
        "REFERRED",
    ];
    // The counts a client computes from the list, for initiatives that `keep`.
    let expected = |keep: &dyn Fn(&Value) -> bool| {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for status in statuses {
            counts.insert(status.to_lowercase(), 0);
        }
        let mut total = 0;
        for i in all.iter().filter(|i| keep(i)) {
            *counts
                .get_mut(&i["status"].as_str().unwrap().to_lowercase())
                .unwrap() += 1;
            total += 1;
        }
        counts.insert("total".into(), total);
        json!(counts)
    };
    let this_year = arnhem_year(&json!(Utc::now().to_rfc3339()));
    let last_year = this_year - 1;
    let counts = "submitted connected funded completed rejected withdrawn referred total";

    for year in [last_year, this_year] {
        let in_year = |i: &Value| arnhem_year(&i["submittedAt"]) == year;
        let data = app
            .data(
                &format!(
                    "query($year: Int) {{ cityOverview(year: $year) {{ initiativeCounts {{ {counts} }}
                     gebieden {{ code initiativeCounts {{ {counts} }} }}
                     wijken {{ code initiativeCounts {{ {counts} }} }} }} }}"
                ),
                json!({ "year": year }),
                None,
            )
            .await;
        let overview = &data["cityOverview"];
        let city = expected(&in_year);
        assert!(city["total"].as_u64().unwrap() > 100, "{year}: {city}");
        assert_eq!(overview["initiativeCounts"], city, "the city in {year}");
        for gebied in overview["gebieden"].as_array().unwrap() {
            let code = gebied["code"].clone();
            let keep = |i: &Value| in_year(i) && i["wijk"]["gebied"]["code"] == code;
            assert_eq!(
                gebied["initiativeCounts"],
                expected(&keep),
                "gebied {code} in {year}"
            );
        }
        for wijk in overview["wijken"].as_array().unwrap() {
            let code = wijk["code"].clone();
            let keep = |i: &Value| in_year(i) && i["wijk"]["code"] == code;
            assert_eq!(
                wijk["initiativeCounts"],
                expected(&keep),
                "wijk {code} in {year}"
            );
        }
        // The same when asked of a wijk or gebied directly.
        let direct = app
            .data(
                &format!(
                    "query($year: Int) {{ wijk(code: \"{KLARENDAL}\") {{ initiativeCounts(year: $year) {{ {counts} }} }}
                     gebied(code: \"W2\") {{ initiativeCounts(year: $year) {{ {counts} }} }} }}"
                ),
                json!({ "year": year }),
                None,
            )
            .await;
        assert_eq!(
            direct["wijk"]["initiativeCounts"],
            expected(&|i: &Value| in_year(i) && i["wijk"]["code"] == KLARENDAL)
        );
        assert_eq!(
            direct["gebied"]["initiativeCounts"],
            expected(&|i: &Value| in_year(i) && i["wijk"]["gebied"]["code"] == "W2")
        );
    }

    // Without a year (and outside an overview) a wijk or gebied counts all years.
    let all_years = app
        .data(
            &format!(
                "{{ wijk(code: \"{KLARENDAL}\") {{ initiativeCounts {{ {counts} }} }}
                   gebied(code: \"W2\") {{ initiativeCounts {{ {counts} }} }} }}"
            ),
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        all_years["wijk"]["initiativeCounts"],
        expected(&|i: &Value| i["wijk"]["code"] == KLARENDAL)
    );
    assert_eq!(
        all_years["gebied"]["initiativeCounts"],
        expected(&|i: &Value| i["wijk"]["gebied"]["code"] == "W2")
    );
    // A year without initiatives counts none; a year out of range is refused.
    let empty = app
        .data(
            "{ cityOverview(year: 2001) { initiativeCounts { total } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(empty["cityOverview"]["initiativeCounts"]["total"], 0);
    app.refused(
        "BAD_USER_INPUT",
        "{ wijk(code: \"WK020207\") { initiativeCounts(year: 1800) { total } } }",
        json!({}),
        None,
    )
    .await;
}

const ORDERED: &str = "query($after: String, $order: InitiativeOrder, $first: Int) {
    initiatives(first: $first, after: $after, orderBy: $order) {
        totalCount edges { cursor node { id submittedAt updatedAt requestedAmount } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

/// Every initiative in `order`, `size` at a time; checks each page's `pageInfo`.
async fn page_through(app: &TestApp, order: Value, size: i64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                ORDERED,
                json!({ "after": after, "order": order, "first": size }),
                None,
            )
            .await;
        let page = &data["initiatives"];
        let edges = page["edges"].as_array().unwrap();
        assert_eq!(page["pageInfo"]["hasPreviousPage"], json!(!after.is_null()));
        if let Some(last) = edges.last() {
            assert_eq!(page["pageInfo"]["endCursor"], last["cursor"]);
            assert_eq!(page["pageInfo"]["startCursor"], edges[0]["cursor"]);
        }
        all.extend(edges.iter().map(|e| e["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            assert_eq!(all.len() as u64, page["totalCount"].as_u64().unwrap());
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Submits initiatives with amounts that tie, and changes some so `updatedAt` differs from
/// `submittedAt` order. Returns their ids in submission order.
async fn varied_initiatives(app: &TestApp) -> Vec<String> {
    app.allocate(KLARENDAL, "GROEN", "10000").await;
    let mut ids = Vec::new();
    for amount in ["300", "100", "300", "50", "900", "100", "300"] {
        ids.push(app.submit(KLARENDAL, "GROEN", amount).await.id);
    }
    app.fund(&ids[1], "100").await;
    app.reject(&ids[4]).await;
    app.fund(&ids[0], "300").await;
    ids
}

/// `orderBy` on each field, both ways, paged two at a time: each initiative once, in the
/// order of its key with ties in submission order; the default is newest first as before.
async fn initiatives_page_through_every_order(app: TestApp) {
    let ids = varied_initiatives(&app).await;
    let submission = |id: &Value| ids.iter().position(|i| i == id).unwrap();
    let newest_first = page_through(&app, Value::Null, 2).await;
    let got: Vec<&Value> = newest_first.iter().map(|i| &i["id"]).collect();
    let expected: Vec<&String> = ids.iter().rev().collect();
    assert_eq!(got, expected, "the default: newest first");
    for field in ["SUBMITTED_AT", "UPDATED_AT", "REQUESTED_AMOUNT"] {
        let key = |i: &Value| match field {
            "SUBMITTED_AT" => (0, submission(&i["id"])),
            "UPDATED_AT" => {
                let t: DateTime<Utc> = i["updatedAt"].as_str().unwrap().parse().unwrap();
                (t.timestamp_micros(), submission(&i["id"]))
            }
            _ => (cents(&i["requestedAmount"]), submission(&i["id"])),
        };
        let mut by_key = newest_first.clone();
        by_key.sort_by_key(key);
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let got: Vec<Value> = page_through(&app, order.clone(), 2).await;
            let mut want = by_key.clone();
            if direction == "DESC" {
                want.reverse();
            }
            let ids_of = |list: &[Value]| list.iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
            assert_eq!(ids_of(&got), ids_of(&want), "{order}");
            // Pages of another size give the same order.
            assert_eq!(
                ids_of(&page_through(&app, order.clone(), 3).await),
                ids_of(&want)
            );
        }
    }
    // The amounts really are in order (ties included), not only as the test sorted them.
    let by_amount = page_through(
        &app,
        json!({ "field": "REQUESTED_AMOUNT", "direction": "DESC" }),
        100,
    )
    .await;
    let amounts: Vec<i64> = by_amount
        .iter()
        .map(|i| cents(&i["requestedAmount"]))
        .collect();
    assert_eq!(
        amounts,
        vec![90000, 30000, 30000, 30000, 10000, 10000, 5000]
    );
}

/// A cursor of `updatedAt` order names a place, not only an initiative: when the initiative
/// changes (and moves to the end), the next page still starts right after where it was.
async fn a_cursor_holds_its_place_when_its_initiative_moves(app: TestApp) {
    let ids = varied_initiatives(&app).await;
    let order = json!({ "field": "UPDATED_AT", "direction": "ASC" });
    let before = page_through(&app, order.clone(), 100).await;
    let first = app
        .data(ORDERED, json!({ "order": order, "first": 3 }), None)
        .await;
    let cursor = first["initiatives"]["pageInfo"]["endCursor"].clone();
    let moved = first["initiatives"]["edges"][2]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ids.contains(&moved));
    // The cursor's own initiative changes: it is now the latest updated.
    app.reject(&moved).await;
    let next = app
        .data(
            ORDERED,
            json!({ "order": order, "first": 100, "after": cursor }),
            None,
        )
        .await;
    let rest: Vec<Value> = next["initiatives"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    let mut want: Vec<Value> = before[3..].iter().map(|i| i["id"].clone()).collect();
    want.push(json!(moved));
    assert_eq!(rest, want);
    assert_eq!(next["initiatives"]["pageInfo"]["hasPreviousPage"], true);
}

/// A cursor belongs to its order: one of another order is refused, and so is nonsense.
async fn a_cursor_is_valid_only_in_its_own_order(app: TestApp) {
    varied_initiatives(&app).await;
    let cursor_of = |data: &Value| data["initiatives"]["pageInfo"]["endCursor"].clone();
    let by_amount = json!({ "field": "REQUESTED_AMOUNT", "direction": "ASC" });
    let by_update = json!({ "field": "UPDATED_AT", "direction": "DESC" });
    let amount_cursor = cursor_of(
        &app.data(ORDERED, json!({ "order": by_amount, "first": 2 }), None)
            .await,
    );
    let plain_cursor = cursor_of(&app.data(ORDERED, json!({ "first": 2 }), None).await);
    for (order, cursor) in [
        (by_update.clone(), amount_cursor.clone()),
        (by_update.clone(), plain_cursor.clone()),
        (Value::Null, amount_cursor.clone()),
        (
            by_amount.clone(),
            json!("requestedAmount:abc:0190a0b0-0000-7000-8000-000000000000"),
        ),
        (by_amount.clone(), json!("requestedAmount:100")),
    ] {
        app.refused(
            "BAD_USER_INPUT",
            ORDERED,
            json!({ "order": order, "first": 2, "after": cursor }),
            None,
        )
        .await;
    }
    // A default cursor is the initiative's id, as it always was, in both directions.
    let ascending = json!({ "field": "SUBMITTED_AT", "direction": "ASC" });
    app.data(
        ORDERED,
        json!({ "order": ascending, "first": 2, "after": plain_cursor }),
        None,
    )
    .await;
}

/// The names of the one scheme (sizes `first`, times `…At`, `sociaalWijkteam`, `kind`) give
/// what the old names give.
async fn old_and_new_names_give_the_same(app: TestApp) {
    let staff = app.staff_token("W2");
    let here = app.submit(KLARENDAL, "WELZIJN", "100").await;
    let there = app.submit(KLARENDAL, "GROEN", "100").await;
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": here.id, "targetInitiativeId": there.id, "note": "samen" } }),
        Some(&staff),
    )
    .await;
    app.data(
        REFER,
        json!({ "input": { "initiativeId": here.id, "sociaalWijkteam": "Sociaal wijkteam Noord" } }),
        Some(&staff),
    )
    .await;
    let data = app
        .data(
            "query($id: ID!) { initiative(id: $id) { referredTo sociaalWijkteam
                history { at occurredAt type kind } connections { at connectedAt } }
              cityOverview { old: recentEvents(limit: 3) { position } new: recentEvents(first: 3) { position }
                default: recentEvents { position } } }",
            json!({ "id": here.id }),
            None,
        )
        .await;
    let initiative = &data["initiative"];
    assert_eq!(initiative["referredTo"], "Sociaal wijkteam Noord");
    assert_eq!(initiative["sociaalWijkteam"], initiative["referredTo"]);
    for entry in initiative["history"].as_array().unwrap() {
        assert_eq!(entry["occurredAt"], entry["at"]);
        assert_eq!(entry["kind"], screaming(entry["type"].as_str().unwrap()));
    }
    let link = &initiative["connections"][0];
    assert_eq!(link["connectedAt"], link["at"]);
    let overview = &data["cityOverview"];
    assert_eq!(overview["old"], overview["new"]);
    assert_eq!(overview["new"].as_array().unwrap().len(), 3);
    assert_eq!(overview["default"].as_array().unwrap().len(), 10);
    // The same size under both names is fine; two different sizes are refused.
    app.data(
        "{ cityOverview { recentEvents(first: 2, limit: 2) { position } } }",
        json!({}),
        None,
    )
    .await;
    app.refused(
        "BAD_USER_INPUT",
        "{ cityOverview { recentEvents(first: 2, limit: 3) { position } } }",
        json!({}),
        None,
    )
    .await;

    // The ticker: `first` and `recent` send the same latest lines.
    let mut ws = app.ws(None).await;
    let new = ws
        .subscribe(
            "subscription { publicEvents(first: 1) { position } }",
            json!({}),
        )
        .await;
    let old = ws
        .subscribe(
            "subscription { publicEvents(recent: 1) { position } }",
            json!({}),
        )
        .await;
    let newest = ws.data(&new).await["publicEvents"].clone();
    assert_eq!(ws.data(&old).await["publicEvents"], newest);
    assert_eq!(newest, overview["new"][0]);
}

/// Introspection marks each old name deprecated and says what to use instead.
async fn deprecated_names_say_what_replaces_them(app: TestApp) {
    let data = app
        .data(
            "{ __schema { types { name
                fields(includeDeprecated: true) { name isDeprecated deprecationReason
                  args(includeDeprecated: true) { name isDeprecated deprecationReason } } } } }",
            json!({}),
            None,
        )
        .await;
    let mut deprecated = Vec::new();
    for ty in data["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        if name.starts_with("__") {
            continue;
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            if field["isDeprecated"] == true {
                deprecated.push(format!(
                    "{name}.{}: {}",
                    field["name"].as_str().unwrap(),
                    field["deprecationReason"].as_str().unwrap()
                ));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if arg["isDeprecated"] == true {
                    deprecated.push(format!(
                        "{name}.{}({}): {}",
                        field["name"].as_str().unwrap(),
                        arg["name"].as_str().unwrap(),
                        arg["deprecationReason"].as_str().unwrap()
                    ));
                }
            }
        }
    }
    deprecated.sort();
    assert_eq!(
        deprecated,
        [
            "CityOverview.recentEvents(limit): Use `first` instead.",
            "EventRecord.type: Use `kind` instead.",
            "HistoryEntry.at: Use `occurredAt` instead.",
            "HistoryEntry.type: Use `kind` instead.",
            "Initiative.referredTo: Use `sociaalWijkteam` instead (the name the input uses).",
            "InitiativeLink.at: Use `connectedAt` instead.",
            "Subscription.publicEvents(recent): Use `first` instead.",
        ]
    );
}
