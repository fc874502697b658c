//! `--demo` (and `--demo-years`): the demo years are dated over the year, never in the future,
//! each initiative's history in time order; two instances starting together record them once;
//! and no client can date an event itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use futures::TryStreamExt;
use serde_json::{json, Value};
use wijkpuls_event_store::{Position, RecordedEvent};

use crate::helpers::{start, start_demo, Backend, TestApp, KLARENDAL, SUBMIT};

e2e_tests!(
    app: [a_client_cannot_date_an_event],
    backend: [
        demo_years_are_dated_over_the_year_up_to_now,
        two_instances_starting_together_record_the_demo_once,
        a_pages_histories_and_connections_are_each_initiatives_own,
    ],
);

/// The whole log, as the store has it.
async fn log(app: &TestApp) -> Vec<RecordedEvent> {
    app.state
        .service
        .store
        .read_all(Position::START)
        .try_collect()
        .await
        .expect("read the log")
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a time: {value}"))
}

/// Every initiative, page by page: status, times and history.
async fn initiatives(app: &TestApp) -> Vec<Value> {
    let query = "query($after: String) { initiatives(first: 100, after: $after) {
        edges { cursor node { id status submittedAt updatedAt history { at type } } }
        pageInfo { hasNextPage endCursor } } }";
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(query, json!({ "after": after }), Some(&app.admin_token))
            .await;
        let page = &data["initiatives"];
        for edge in page["edges"].as_array().unwrap() {
            all.push(edge["node"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Histories and connections are read from the log, a page's together (one batch): each
/// initiative still gets its own, as it gets it asked alone.
async fn a_pages_histories_and_connections_are_each_initiatives_own(backend: Backend) {
    let Some(app) = start_demo(backend, 1).await else {
        return;
    };
    let fields = "id history { position at type status summary } \
        connections { initiativeId incoming note party { kind name } }";
    let page = app
        .data(
            &format!("{{ initiatives(first: 100) {{ nodes {{ {fields} }} }} }}"),
            json!({}),
            Some(&app.admin_token),
        )
        .await;
    let nodes = page["initiatives"]["nodes"].as_array().unwrap().clone();
    assert!(
        nodes.len() > 20,
        "a page of demo initiatives: {}",
        nodes.len()
    );
    assert!(
        nodes
            .iter()
            .any(|n| n["history"].as_array().unwrap().len() > 2),
        "some with a longer history"
    );
    assert!(
        nodes
            .iter()
            .any(|n| !n["connections"].as_array().unwrap().is_empty()),
        "some with connections"
    );
    for node in &nodes {
        let alone = app
            .data(
                &format!("query($id: ID!) {{ initiative(id: $id) {{ {fields} }} }}"),
                json!({ "id": node["id"] }),
                Some(&app.admin_token),
            )
            .await;
        assert_eq!(alone["initiative"], *node);
        let history = node["history"].as_array().unwrap();
        assert_eq!(history[0]["type"], "InitiativeSubmitted", "{node}");
        assert!(history.windows(2).all(|w| w[0]["position"]
            .as_str()
            .map(|p| p.parse::<u64>().unwrap())
            < w[1]["position"].as_str().map(|p| p.parse::<u64>().unwrap())));
    }
}

async fn demo_years_are_dated_over_the_year_up_to_now(backend: Backend) {
    let Some(app) = start_demo(backend, 2).await else {
        return;
    };
    let now = Utc::now();
    let initiatives = initiatives(&app).await;

    let mut by_year: HashMap<i32, Vec<&Value>> = HashMap::new();
    for initiative in &initiatives {
        let submitted = time(&initiative["submittedAt"]);
        by_year
            .entry(submitted.year())
            .or_default()
            .push(initiative);
        assert!(submitted <= now, "{initiative}");
        assert!(time(&initiative["updatedAt"]) <= now, "{initiative}");
        let history: Vec<DateTime<Utc>> = initiative["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| time(&entry["at"]))
            .collect();
        assert_eq!(history[0], submitted);
        assert!(
            history.windows(2).all(|w| w[0] <= w[1]),
            "history in time order: {initiative}"
        );
        assert_eq!(history.last(), Some(&time(&initiative["updatedAt"])));
    }
    let current = (now + chrono::Duration::hours(1)).year();
    let years: HashSet<i32> = by_year.keys().copied().collect();
    assert!(
        years.contains(&(current - 1)) && years.iter().all(|y| *y >= current - 1),
        "two years of initiatives: {years:?}"
    );
    let past = &by_year[&(current - 1)];
    assert!((280..=360).contains(&past.len()), "{}", past.len());
    let months: HashSet<u32> = past
        .iter()
        .map(|i| time(&i["submittedAt"]).month())
        .collect();
    assert!(
        months.len() >= 6,
        "the past year's submissions in months {months:?}"
    );
    let ended = past
        .iter()
        .filter(|i| {
            ["COMPLETED", "REJECTED", "REFERRED", "WITHDRAWN"]
                .contains(&i["status"].as_str().unwrap())
        })
        .count();
    assert!(
        ended * 4 >= past.len() * 3,
        "{ended} of {} ended",
        past.len()
    );

    // Both years have their budget, allocated in January.
    for year in [current - 1, current] {
        let data = app
            .data(
                "query($year: Int) { cityOverview(year: $year) { totals { allocated } } }",
                json!({ "year": year }),
                None,
            )
            .await;
        assert_ne!(
            data["cityOverview"]["totals"]["allocated"],
            json!("0.00"),
            "{year}"
        );
    }
    // The store kept when each was recorded as well: now, not then.
    let log = log(&app).await;
    let demo: Vec<&RecordedEvent> = log
        .iter()
        .filter(|e| e.metadata.occurred_at.is_some())
        .collect();
    assert!(demo.len() > 1_000, "{} back-dated events", demo.len());
    assert!(demo.iter().all(|e| e.occurred_at() < e.recorded_at));
}

async fn two_instances_starting_together_record_the_demo_once(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let db = Arc::new(db);
    // Migrated first: SQLite's migrations do not take two instances creating the file at once
    // (PostgreSQL's do); what is tested here is the demo.
    wijkpuls_event_store::EventStore::open(db.url(), Default::default())
        .await
        .expect("migrate");
    let demo = |c: &mut wijkpuls_api::Config| c.demo = true;
    let (first, second) = tokio::join!(start(db.clone(), demo), start(db.clone(), demo));

    let log = log(&first).await;
    let count = |event_type: &str| log.iter().filter(|e| e.event_type == event_type).count();
    assert_eq!(
        count("BudgetAllocated"),
        24 * 8,
        "every line allocated once"
    );
    let submitted = count("InitiativeSubmitted");
    assert!((280..=360).contains(&submitted), "{submitted} submissions");
    let mut seen = HashSet::new();
    for event in log
        .iter()
        .filter(|e| e.event_type.starts_with("Initiative"))
    {
        assert!(
            seen.insert((event.event_type.clone(), event.stream_id.clone())),
            "{} of {} recorded twice",
            event.event_type,
            event.stream_id
        );
    }
    // Each instance answers from its live state, which follows the other's appends a moment
    // later: wait until both have applied the whole log.
    let head = log.last().expect("a demo was recorded").position.0;
    for app in [&first, &second] {
        app.state
            .live
            .wait_for(head, std::time::Duration::from_secs(20))
            .await
            .expect("each instance catches up with the whole demo");
        assert_eq!(initiatives(app).await.len(), submitted);
    }
}

async fn a_client_cannot_date_an_event(app: TestApp) {
    let input = json!({
        "wijkCode": KLARENDAL,
        "title": "Bankje bij de speeltuin",
        "theme": "GROEN",
        "requestedAmount": "250.00",
        "initiator": { "name": "Bewoner Testpersoon", "email": "bewoner@example.nl" },
    });
    let head = log(&app).await.len();
    for field in ["occurredAt", "recordedAt", "submittedAt"] {
        let mut dated = input.clone();
        dated[field] = json!("2020-03-01T12:00:00Z");
        let error = app
            .error(SUBMIT, json!({ "input": dated }), Some(&app.admin_token))
            .await;
        assert!(error.message.contains(field), "{field}: {error:?}");
    }
    let error = app
        .error(
            "mutation($input: SubmitInitiativeInput!) {
                submitInitiative(input: $input, occurredAt: \"2020-03-01T12:00:00Z\") { trackingCode } }",
            json!({ "input": input }),
            Some(&app.admin_token),
        )
        .await;
    assert!(error.message.contains("occurredAt"), "{error:?}");
    assert_eq!(
        log(&app).await.len(),
        head,
        "a refused request records nothing"
    );

    let before = Utc::now();
    let data = app
        .data(SUBMIT, json!({ "input": input }), Some(&app.admin_token))
        .await;
    let after = Utc::now();
    let id = data["submitInitiative"]["initiative"]["id"].clone();
    let view = app
        .data(
            "query($id: ID!) { initiative(id: $id) { submittedAt history { at } } }",
            json!({ "id": id }),
            None,
        )
        .await;
    let submitted = time(&view["initiative"]["submittedAt"]);
    let slack = chrono::Duration::milliseconds(1);
    assert!(
        submitted >= before - slack && submitted <= after + slack,
        "{submitted}"
    );
    let last = log(&app).await.pop().unwrap();
    assert_eq!(
        last.metadata.occurred_at, None,
        "a client's change happens when recorded"
    );
    assert_eq!(last.occurred_at(), last.recorded_at);
}
