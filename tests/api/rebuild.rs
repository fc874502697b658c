//! `wijkpuls rebuild --check` as an operator runs it: on a clean log the refold, the recount
//! and a running server agree (exit 0); when the log was altered under a running server, the
//! check names the wijk and line whose figures differ, with the log's and the server's amounts
//! (exit 1); a store or server it cannot reach is one line of error.

use crate::helpers::*;
use crate::ops::{fails, succeeds};

app_tests!(
    a_clean_log_agrees_with_its_recount_and_the_server,
    an_allocation_altered_under_the_server_is_named,
    an_unreachable_store_or_server_is_one_line,
);

/// A little of everything: allocations, a funding, a completion, a rejection.
async fn history(app: &TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    app.allocate(CENTRUM, "SPORT", "250.50").await;
    let funded = app.submit(KLARENDAL, "GROEN", "300").await;
    app.fund(&funded.id, "300").await;
    let rejected = app.submit(CENTRUM, "SPORT", "40").await;
    app.reject(&rejected.id).await;
    app.submit(CENTRUM, "SPORT", "60").await;
}

async fn a_clean_log_agrees_with_its_recount_and_the_server(app: TestApp) {
    history(&app).await;
    let (_, head) = app.head().await;
    let url = app.db.url().to_owned();
    let alone =
        String::from_utf8(succeeds(&["rebuild", "--check", "--database-url", &url]).await).unwrap();
    assert!(
        alone.contains(&format!(
            "the read model agrees: {head} events folded (positions 1-{head})"
        )),
        "{alone}"
    );
    let server = app.url("");
    let with_server = String::from_utf8(
        succeeds(&[
            "rebuild",
            "--check",
            "--database-url",
            &url,
            "--server",
            &server,
        ])
        .await,
    )
    .unwrap();
    assert!(
        with_server.contains(&format!(
            "compared with the recount and the server at {server}"
        )),
        "{with_server}"
    );
}

async fn an_allocation_altered_under_the_server_is_named(app: TestApp) {
    history(&app).await;
    let klarendal = app.line(KLARENDAL, "GROEN").await;
    assert_eq!(klarendal["allocated"], "1000.00");
    // Someone with database access rewrites the allocation; the server, which folded the log
    // before, still shows the old amount.
    let update = match app.db.url().starts_with("sqlite:") {
        true => "UPDATE events SET payload = json_set(payload, '$.allocated', '5000.00') \
                 WHERE event_type = 'BudgetAllocated' AND json_extract(payload, '$.line.theme') = 'groen'"
            .to_owned(),
        false => "UPDATE events SET payload = jsonb_set(payload, '{allocated}', '\"5000.00\"') \
                  WHERE event_type = 'BudgetAllocated' AND payload->'line'->>'theme' = 'groen'"
            .to_owned(),
    };
    app.db.tamper(&[&update]).await;
    let url = app.db.url().to_owned();
    let output = wijkpuls()
        .args([
            "rebuild",
            "--check",
            "--database-url",
            &url,
            "--server",
            &app.url(""),
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = plain(&String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let year = klarendal_year(&app).await;
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![format!(
            "wijk {KLARENDAL} line {year} groen: allocated is 5000.00 in the log, 1000.00 shown \
             by the server"
        )],
        "exactly the one difference: {stdout}"
    );
    assert!(
        stderr.contains("1 differences between the fold of positions"),
        "{stderr}"
    );
}

/// The year the test's allocations are for (the current one).
async fn klarendal_year(app: &TestApp) -> i64 {
    let data = app
        .data("{ cityOverview { year } }", serde_json::json!({}), None)
        .await;
    data["cityOverview"]["year"].as_i64().unwrap()
}

async fn an_unreachable_store_or_server_is_one_line(app: TestApp) {
    let missing = std::env::temp_dir().join("wijkpuls-rebuild-no-such.db");
    let error = fails(&[
        "rebuild",
        "--check",
        "--database-url",
        &format!("sqlite://{}", missing.display()),
    ])
    .await;
    assert!(error.contains("there is no database at"), "{error}");
    assert!(!missing.exists(), "the check created a database");
    let error = fails(&[
        "rebuild",
        "--check",
        "--database-url",
        app.db.url(),
        "--server",
        "http://127.0.0.1:1",
    ])
    .await;
    assert!(error.contains("cannot reach the server"), "{error}");
    if !app.db.url().starts_with("sqlite:") {
        let error = fails(&[
            "rebuild",
            "--check",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/wijkpuls",
        ])
        .await;
        assert!(error.contains("cannot open the database"), "{error}");
    }
}
