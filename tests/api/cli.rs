//! The program itself, `wijkpuls`, as an operator runs it: `serve` on port 0 says where it
//! listens and answers health checks; `token` prints a token that server accepts; mistakes
//! end in one line naming the problem and a non-zero exit code; SIGTERM stops it cleanly.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

backend_tests!(
    serve_logs_its_address_and_answers_health_and_readiness,
    token_printed_by_the_cli_is_accepted_by_the_server,
    sigterm_stops_the_server_gracefully,
    sigterm_closes_websockets_with_1001,
    serve_logs_json_lines_with_the_request_id,
    text_logs_have_no_colours_when_not_on_a_terminal,
);

/// Lines of `log` that mention `needle`.
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(needle)).collect()
}

async fn serve_logs_json_lines_with_the_request_id(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    // The flag, and the same through the environment.
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("WIJKPULS_LOG_FORMAT", "json")][..]),
    ] {
        let server = Binary::serve(db.url(), args, env).await;
        let id = "cli-json-test-42";
        let response = reqwest::Client::new()
            .post(format!("http://{}/graphql", server.address))
            .header("Content-Type", "application/json")
            .header("x-request-id", id)
            .json(&json!({ "query": "query Wijken { wijken { code } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], id);
        let (status, log) = server.terminate().await;
        assert!(status.success(), "{status}; log:\n{log}");
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect();
        assert!(!lines.is_empty());
        let mentioning = lines_with(&log, id);
        // One line when the operation is executed, one when the request is answered.
        let operation = mentioning
            .iter()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .find(|line| line["fields"]["message"] == "executed")
            .unwrap_or_else(|| panic!("no operation line with {id}:\n{log}"));
        assert_eq!(operation["level"], "INFO");
        assert_eq!(operation["span"]["request_id"], id, "{operation}");
        assert_eq!(operation["span"]["operation"], "Wijken", "{operation}");
        assert_eq!(operation["span"]["kind"], "query", "{operation}");
        assert_eq!(operation["span"]["role"], "public", "{operation}");
        assert_eq!(operation["span"]["outcome"], "OK", "{operation}");
        assert!(
            operation["fields"]["duration_ms"].is_number(),
            "{operation}"
        );
        let answered = mentioning
            .iter()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .find(|line| line["fields"]["message"] == "answered")
            .unwrap_or_else(|| panic!("no request line with {id}:\n{log}"));
        assert_eq!(answered["span"]["request_id"], id, "{answered}");
        assert_eq!(answered["span"]["method"], "POST", "{answered}");
        assert_eq!(answered["span"]["path"], "/graphql", "{answered}");
        assert_eq!(answered["fields"]["status"], 200, "{answered}");
    }
}

async fn text_logs_have_no_colours_when_not_on_a_terminal(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Binary::serve(db.url(), &[], &[]).await;
    let id = "cli-text-test-7";
    reqwest::Client::new()
        .post(format!("http://{}/graphql", server.address))
        .header("Content-Type", "application/json")
        .header("x-request-id", id)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    let wrote_colours = server.wrote_colours();
    let (status, log) = server.terminate().await;
    assert!(status.success(), "{status}; log:\n{log}");
    assert!(!wrote_colours, "colour sequences in a piped log:\n{log}");
    assert!(
        lines_with(&log, &format!("request_id={id}")).len() >= 2,
        "the request's lines name its id:\n{log}"
    );
}

async fn serve_logs_its_address_and_answers_health_and_readiness(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Binary::serve(db.url(), &[], &[]).await;
    assert_eq!(server.address.ip().to_string(), "127.0.0.1");
    assert_ne!(server.address.port(), 0, "the log names the port it picked");
    let client = reqwest::Client::new();
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = client
            .get(format!("http://{}{path}", server.address))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status(), 200, "GET {path}");
        assert_eq!(response.text().await.unwrap().trim(), body, "GET {path}");
    }
    let metrics = client
        .get(format!("http://{}/metrics", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("wijkpuls_live_position"));
    // It serves the reference data it registered on the empty database.
    let wijken = graphql_with(
        &client,
        server.address,
        "{ wijken { code } }",
        json!({}),
        None,
    )
    .await;
    assert_eq!(wijken["data"]["wijken"].as_array().map(Vec::len), Some(24));
    let (status, log) = server.terminate().await;
    assert!(status.success(), "{status}; log:\n{log}");
}

/// `wijkpuls token ...` against the same database: prints exactly one line.
async fn token(database_url: &str, args: &[&str]) -> String {
    let output = wijkpuls()
        .arg("token")
        .args(args)
        .args(["--database-url", database_url])
        .output()
        .await
        .expect("run wijkpuls token");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "wijkpuls token {args:?} failed: {stderr}"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one token on stdout: {stdout:?}");
    stdout.trim().to_owned()
}

async fn token_printed_by_the_cli_is_accepted_by_the_server(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Binary::serve(db.url(), &["--submit-per-minute", "0"], &[]).await;
    let admin = token(db.url(), &["--role", "admin"]).await;
    let staff = token(
        db.url(),
        &[
            "--role",
            "staff",
            "--gebied",
            "W2",
            "--subject",
            "piet",
            "--valid-for",
            "30m",
        ],
    )
    .await;
    let elsewhere = token(db.url(), &["--role", "staff", "--gebied", "W1"]).await;
    let client = reqwest::Client::new();
    let call = |query: &'static str, variables: serde_json::Value, token: Option<String>| {
        let client = client.clone();
        let address = server.address;
        async move { graphql_with(&client, address, query, variables, token.as_deref()).await }
    };

    let allocated = call(
        ALLOCATE,
        json!({ "input": { "wijkCode": KLARENDAL, "year": YEAR, "theme": "GROEN", "amount": "500" } }),
        Some(admin.clone()),
    )
    .await;
    assert_eq!(
        allocated["data"]["allocateBudget"]["allocated"], "500.00",
        "{allocated}"
    );
    let submitted = call(
        SUBMIT,
        json!({ "input": { "wijkCode": KLARENDAL, "title": "Tegeltuin", "theme": "GROEN", "requestedAmount": "50",
                           "initiator": { "name": "R", "email": "r@example.nl" } } }),
        None,
    )
    .await;
    let id = submitted["data"]["submitInitiative"]["initiative"]["id"].clone();
    let fund = json!({ "input": { "initiativeId": id, "amount": "50", "year": YEAR } });
    let refused = call(FUND, fund.clone(), Some(elsewhere)).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "the token's gebied counts: {refused}"
    );
    let funded = call(FUND, fund, Some(staff)).await;
    assert_eq!(
        funded["data"]["fundInitiative"]["status"], "FUNDED",
        "{funded}"
    );
    let events = call(
        "{ events(first: 500) { type actor } }",
        json!({}),
        Some(admin),
    )
    .await;
    let last = events["data"]["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last, json!({ "type": "InitiativeFunded", "actor": "piet" }));
    let (status, log) = server.terminate().await;
    assert!(status.success(), "{status}; log:\n{log}");
}

async fn sigterm_stops_the_server_gracefully(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Binary::serve(db.url(), &[], &[]).await;
    let address = server.address;
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let (status, log) = server.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM ends with exit code 0; log:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the port is closed after the server stopped"
    );
}

/// On shutdown, open subscriptions are told: close code 1001 (going away).
async fn sigterm_closes_websockets_with_1001(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Binary::serve(db.url(), &[], &[]).await;
    let mut ws = WsClient::connect(server.address).await;
    assert!(matches!(ws.init(None).await, Init::Acknowledged));
    let id = ws
        .subscribe("subscription { cityOverviewUpdated { year } }", json!({}))
        .await;
    ws.data(&id).await;
    let (status, log) = server.terminate().await;
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    match ws.closed().await {
        Init::Closed(Some(1001)) => {}
        other => {
            panic!("an open subscription should be closed with 1001 on shutdown, got {other:?}")
        }
    }
}

/// A failed command: its exit status, and its stderr without colour codes.
async fn fails(args: &[&str]) -> String {
    let output = tokio::time::timeout(Duration::from_secs(120), wijkpuls().args(args).output())
        .await
        .unwrap_or_else(|_| panic!("wijkpuls {args:?} did not end within 120 s"))
        .expect("run wijkpuls");
    let stderr = plain(&String::from_utf8_lossy(&output.stderr));
    assert!(
        !output.status.success(),
        "wijkpuls {args:?} should fail; stderr: {stderr}"
    );
    assert!(
        output.status.code().is_some(),
        "it exits, it is not killed by a signal"
    );
    for word in ["panicked", "backtrace", "RUST_BACKTRACE", "src/"] {
        assert!(!stderr.contains(word), "no panic or stack trace: {stderr}");
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "a one-line error, got: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    lines[0].to_owned()
}

#[tokio::test]
async fn token_for_staff_without_a_gebied_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("untouched.db");
    let url = format!("sqlite://{}", path.display());
    let line = fails(&["token", "--role", "staff", "--database-url", &url]).await;
    assert!(
        line.contains("--gebied"),
        "the error names the missing option: {line}"
    );
    assert!(
        !path.exists(),
        "a refused command does not create a database"
    );
}

/// `wijkpuls token ARGS` on a database path that must stay untouched: the one-line error.
async fn token_refused(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("untouched.db");
    let url = format!("sqlite://{}", path.display());
    let mut all = vec!["token"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", &url]);
    let line = fails(&all).await;
    assert!(
        !path.exists(),
        "a refused command does not create a database"
    );
    line
}

#[tokio::test]
async fn token_for_an_unknown_gebied_fails_with_one_line() {
    let line = token_refused(&["--role", "staff", "--gebied", "W2", "--gebied", "W9"]).await;
    assert!(
        line.contains("W9"),
        "the error names the unknown gebied: {line}"
    );
}

#[tokio::test]
async fn token_for_a_gebied_of_another_wijken_file_is_refused_or_accepted_by_that_file() {
    // Arnhem's W2 is no gebied of a municipality whose file has only W1.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wijken.json");
    let mut reference: serde_json::Value =
        serde_json::from_str(wijkpuls_domain::ReferenceData::arnhem_file()).unwrap();
    let gebieden = reference["gebieden"].as_array_mut().unwrap();
    gebieden.retain(|g| g["code"] == "W1");
    assert_eq!(gebieden.len(), 1, "Arnhem's file has a gebied W1");
    std::fs::write(&file, reference.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let line = token_refused(&["--role", "staff", "--gebied", "W2", "--wijken-file", file]).await;
    assert!(line.contains("W2"), "the error names the gebied: {line}");

    let db = dir.path().join("other.db");
    let url = format!("sqlite://{}", db.display());
    let printed = token(
        &url,
        &["--role", "staff", "--gebied", "W1", "--wijken-file", file],
    )
    .await;
    assert!(printed.starts_with("wp1."), "a token: {printed}");
}

#[tokio::test]
async fn token_for_an_admin_with_a_gebied_fails_with_one_line() {
    let line = token_refused(&["--role", "admin", "--gebied", "W2"]).await;
    assert!(
        line.contains("admin") && line.contains("--gebied"),
        "the error says an admin token takes no gebied: {line}"
    );
}

#[tokio::test]
async fn serve_with_an_unreachable_database_fails_with_one_line() {
    let line = fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/x",
    ])
    .await;
    assert!(
        line.contains("database"),
        "the error names the problem: {line}"
    );
}
