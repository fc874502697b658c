//! `wijkpuls generate --events N`: exactly N events of a realistic history in an empty store,
//! which `verify` passes, `rebuild --check` agrees with, and a server serves with every budget
//! line within its allocation and the initiators' personal data readable to an admin; a store
//! that is not empty, or an N that is not a number of events, is refused with one line.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ops::{event_count, fails, succeeds};

backend_tests!(
    generate_writes_exactly_n_valid_events_a_server_serves,
    generate_refuses_a_store_that_is_not_empty,
    generate_refuses_a_bad_number_of_events,
);

const N: usize = 2_000;

async fn generate_writes_exactly_n_valid_events_a_server_serves(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let url = db.url().to_owned();
    succeeds(&[
        "generate",
        "--events",
        &N.to_string(),
        "--database-url",
        &url,
    ])
    .await;
    assert_eq!(event_count(&url).await, N);
    let verified = String::from_utf8(succeeds(&["verify", "--database-url", &url]).await).unwrap();
    assert!(
        verified.contains(&format!("intact: {N} events; chain head position {N}")),
        "{verified}"
    );
    let app = start(Arc::new(db), |_| {}).await;
    // Every lifecycle path, and every wijk with a budget.
    let overview = app
        .data(
            "{ cityOverview { initiativeCounts { submitted connected funded completed rejected \
               withdrawn referred total } } wijken { code budgetYears } }",
            json!({}),
            None,
        )
        .await;
    let counts = &overview["cityOverview"]["initiativeCounts"];
    for status in STATUS_FIELDS {
        assert!(
            counts[status].as_u64().unwrap() > 0,
            "no {status}: {counts}"
        );
    }
    let wijken = overview["wijken"].as_array().unwrap();
    assert_eq!(wijken.len(), 24);
    let mut years: Vec<i64> = Vec::new();
    for wijk in wijken {
        let theirs: Vec<i64> = wijk["budgetYears"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| y.as_i64().unwrap())
            .collect();
        assert!(!theirs.is_empty(), "a wijk without a budget: {wijk}");
        years.extend(theirs);
    }
    years.sort();
    years.dedup();
    assert!(years.len() >= 2, "several years: {years:?}");
    // No line anywhere, in any year, is committed or spent beyond its allocation.
    for year in &years {
        let data = app
            .data(
                &format!("query($y: Int) {{ cityOverview(year: $y) {{ wijken {{ code budget {{ {BUDGET_FIELDS} }} }} }} }}"),
                json!({ "y": year }),
                None,
            )
            .await;
        for wijk in data["cityOverview"]["wijken"].as_array().unwrap() {
            for line in wijk["budget"]["lines"].as_array().unwrap() {
                let allocated = cents(&line["allocated"]);
                let used = cents(&line["committed"]) + cents(&line["spent"]);
                assert!(
                    used <= allocated,
                    "{} {year}: {line} uses more than its allocation",
                    wijk["code"]
                );
            }
        }
    }
    // The personal data is sealed the way the service seals it: an admin reads it.
    let page = app
        .data(
            "{ initiatives(first: 5) { nodes { initiator { name email phone } initiatorErased } } }",
            json!({}),
            Some(&app.admin_token),
        )
        .await;
    for node in page["initiatives"]["nodes"].as_array().unwrap() {
        assert_eq!(node["initiatorErased"], json!(false));
        let email = node["initiator"]["email"].as_str().unwrap_or_default();
        assert!(email.ends_with("@example.nl"), "{node}");
    }
    // ...and an anonymous caller does not.
    let anonymous = app
        .graphql(
            "{ initiatives(first: 1) { nodes { initiator { name } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        anonymous["data"]["initiatives"]["nodes"][0]["initiator"],
        Value::Null,
        "an anonymous caller must not read personal data: {anonymous}"
    );
    let checked = String::from_utf8(
        succeeds(&[
            "rebuild",
            "--check",
            "--database-url",
            &url,
            "--server",
            &app.url(""),
        ])
        .await,
    )
    .unwrap();
    assert!(checked.contains("the read model agrees"), "{checked}");
}

async fn generate_refuses_a_store_that_is_not_empty(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.submit(KLARENDAL, "CULTUUR", "250").await;
    let (before, _) = app.head().await;
    let url = app.db.url().to_owned();
    let error = fails(&["generate", "--events", "500", "--database-url", &url]).await;
    assert!(error.contains("the target store is not empty"), "{error}");
    assert_eq!(event_count(&url).await, before, "nothing was written");
}

async fn generate_refuses_a_bad_number_of_events(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let url = db.url().to_owned();
    for (events, says) in [
        ("0", "0 is not in 1..=2000000"),
        ("lots", "invalid digit"),
        ("-5", "unexpected argument"),
        ("2000001", "is not in 1..=2000000"),
    ] {
        let output = wijkpuls()
            .args(["generate", "--events", events, "--database-url", &url])
            .output()
            .await
            .unwrap();
        let stderr = plain(&String::from_utf8_lossy(&output.stderr));
        assert!(!output.status.success(), "--events {events} was taken");
        assert!(stderr.contains(says), "--events {events}: {stderr}");
    }
    let error = fails(&["generate", "--events", "10", "--database-url", &url]).await;
    assert!(error.contains("--events must be at least 33"), "{error}");
    assert_eq!(event_count(&url).await, 0, "nothing was written");
}
