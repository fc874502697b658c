//! What an anonymous attacker tried on the service, each as they would send it: a stranger
//! replaying a resident's idempotency key, tracking codes guessed by the thousand in aliases,
//! crafted tokens, and (in the HTTP tests) slow and too many connections. Each asserts the
//! refusal and that nothing leaks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wijkpuls_api::routes::TrustedProxy;

use serde_json::{json, Value};
use wijkpuls_api::auth::{Claims, Role, TokenKey};

use crate::helpers::*;

e2e_tests!(
    app: [
        a_stranger_replaying_a_residents_key_gets_no_tracking_code_and_no_personal_data,
        future_dated_and_overlong_tokens_are_refused,
        a_person_staff_connect_is_sealed_and_erased_with_the_initiator,
        staff_notes_are_sealed_and_erased_with_the_initiator,
    ],
    backend: [
        a_slow_client_is_disconnected_while_others_are_served,
        connections_beyond_the_cap_are_refused_gracefully,
        forwarded_for_counts_only_from_a_trusted_proxy,
        a_thousand_aliased_wrong_tracking_codes_are_rate_limited,
        tokens_without_a_subject_are_distinct_and_signed_with_the_secret_file,
    ],
);

fn submission(name: &str, email: &str) -> Value {
    json!({ "input": {
        "wijkCode": KLARENDAL,
        "title": "Geveltuinen in de Hommelstraat",
        "description": "Tegels eruit, planten erin.",
        "theme": "GROEN",
        "requestedAmount": "450.00",
        "initiator": { "name": name, "email": email, "phone": "0612345678" },
        "idempotencyKey": "1",
    }})
}

async fn a_stranger_replaying_a_residents_key_gets_no_tracking_code_and_no_personal_data(
    app: TestApp,
) {
    let resident = app
        .data(SUBMIT, submission("Sanne Visser", "sanne@example.nl"), None)
        .await;
    let code = resident["submitInitiative"]["trackingCode"]
        .as_str()
        .unwrap()
        .to_owned();
    // The resident's own retry still answers with their code.
    let retry = app
        .data(SUBMIT, submission("Sanne Visser", "sanne@example.nl"), None)
        .await;
    assert_eq!(retry, resident);

    // Every public field copied, the same key, but other personal data.
    let stranger = app
        .graphql(
            SUBMIT,
            submission("Mallory Jansen", "mallory@example.nl"),
            None,
        )
        .await;
    let text = stranger.to_string();
    assert!(
        !text.contains(&code),
        "the stranger got the resident's tracking code: {text}"
    );
    for personal in ["Sanne", "Visser", "sanne@example.nl"] {
        assert!(!text.contains(personal), "personal data leaked: {text}");
    }
    if let Some(id) = stranger["data"]["submitInitiative"]["initiative"]["id"].as_str() {
        assert_ne!(
            id, resident["submitInitiative"]["initiative"]["id"],
            "the stranger was answered with the resident's initiative"
        );
    }
    // Whatever code the stranger got does not open the resident's data.
    if let Some(theirs) = stranger["data"]["submitInitiative"]["trackingCode"].as_str() {
        let seen = app
            .data(
                "query($id: ID!, $c: String) { initiative(id: $id) { initiator(trackingCode: $c) { name } } }",
                json!({ "id": resident["submitInitiative"]["initiative"]["id"], "c": theirs }),
                None,
            )
            .await;
        assert_eq!(seen["initiative"]["initiator"], json!(null));
    }
}

async fn a_thousand_aliased_wrong_tracking_codes_are_rate_limited(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| config.code_guesses_per_minute = 10).await
    else {
        return;
    };
    let resident = app.submit(KLARENDAL, "GROEN", "100").await;
    let (id, _) = resident.tracking_code.split_once('.').unwrap();
    let aliased = |range: std::ops::Range<usize>| -> String {
        let fields: String = range
            .map(|i| {
                format!("a{i}: trackedInitiative(trackingCode: \"{id}.wrong{i:04}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\") {{ id }}\n")
            })
            .collect();
        format!("query {{ {fields} }}")
    };
    // All 1,000 in one request: refused before anything runs (too many aliases).
    let flood = app.graphql(&aliased(0..1000), json!({}), None).await;
    assert_eq!(
        flood["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{flood}"
    );
    // The same 1,000 in as many requests as the alias cap needs.
    let mut errors = Vec::new();
    for start in (0..1000).step_by(50) {
        let response = app
            .graphql(&aliased(start..start + 50), json!({}), None)
            .await;
        errors.extend(response["errors"].as_array().cloned().unwrap_or_default());
    }
    let limited = errors
        .iter()
        .filter(|e| e["extensions"]["code"] == "RATE_LIMITED")
        .count();
    assert!(
        limited >= 990,
        "after 10 wrong codes the rest are RATE_LIMITED, got {limited} of 1000"
    );
    for error in &errors {
        assert_safe_message(error["message"].as_str().unwrap_or_default());
    }
    // Now even the right code is refused from this address: a guesser learns nothing more.
    let right = app
        .error(
            "query($c: String!) { trackedInitiative(trackingCode: $c) { id } }",
            json!({ "c": resident.tracking_code }),
            None,
        )
        .await;
    assert_eq!(right.code.as_deref(), Some("RATE_LIMITED"));
    // And withdrawing with a guessed code counts too.
    let withdraw = app
        .error(
            WITHDRAW,
            json!({ "input": { "initiativeId": resident.id, "trackingCode": format!("{id}.guess") } }),
            None,
        )
        .await;
    assert_eq!(withdraw.code.as_deref(), Some("RATE_LIMITED"));
    // Cheap queries still answer.
    app.data("{ wijken { code } }", json!({}), None).await;
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn future_dated_and_overlong_tokens_are_refused(app: TestApp) {
    let now = unix_now();
    let claims = |iat: u64, exp: u64| Claims {
        sub: "mallory".into(),
        role: Role::Admin,
        gebieden: vec![],
        exp,
        iat,
    };
    for (what, token, reason) in [
        (
            "issued in an hour",
            app.tokens.sign_claims(&claims(now + 3600, now + 7200)),
            "future",
        ),
        (
            "valid for a year",
            app.tokens.sign_claims(&claims(now, now + 365 * 86_400)),
            "31 days",
        ),
    ] {
        let error = app
            .error("{ wijken { code } }", json!({}), Some(&token))
            .await;
        assert_eq!(error.code.as_deref(), Some("UNAUTHENTICATED"), "{what}");
        assert!(error.message.contains(reason), "{what}: {}", error.message);
    }
    // A token within the limits is accepted.
    let fine = app.tokens.sign_claims(&claims(now, now + 30 * 86_400));
    app.data("{ wijken { code } }", json!({}), Some(&fine))
        .await;
}

/// `wijkpuls token ...` with the secret file: the token.
async fn cli_token(database_url: &str, secret_file: &std::path::Path, args: &[&str]) -> String {
    let output = wijkpuls()
        .arg("token")
        .args(args)
        .args(["--database-url", database_url])
        .arg("--auth-secret-file")
        .arg(secret_file)
        .output()
        .await
        .expect("run wijkpuls token");
    assert!(
        output.status.success(),
        "wijkpuls token {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn tokens_without_a_subject_are_distinct_and_signed_with_the_secret_file(backend: Backend) {
    let secret = "a secret kept outside the database, 32+ chars";
    let Some(app) =
        spawn_app_with(backend, |config| config.auth_secret = Some(secret.into())).await
    else {
        return;
    };
    let url = app.db.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth-secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();

    let first = cli_token(&url, &file, &["--role", "staff", "--gebied", "W2"]).await;
    let second = cli_token(&url, &file, &["--role", "staff", "--gebied", "W2"]).await;
    let key = TokenKey::new(secret.as_bytes());
    let a = key
        .verify(&first, None)
        .expect("signed with the file's key");
    let b = key
        .verify(&second, None)
        .expect("signed with the file's key");
    assert_ne!(a.subject, b.subject, "two staff tokens share a subject");
    assert!(a.subject.starts_with("staff-"), "{}", a.subject);

    // The server given the same secret accepts it; the database's own key no longer counts,
    // so a backup of the database cannot mint tokens.
    app.data("{ wijken { code } }", json!({}), Some(&first))
        .await;
    let db_key = {
        let vault = wijkpuls_event_store::Vault::open(&url).await.unwrap();
        wijkpuls_api::app::token_key(&vault, None).await.unwrap()
    };
    let from_backup = db_key.issue(Role::Admin, "backup", &[], Duration::from_secs(60));
    let error = app
        .error("{ wijken { code } }", json!({}), Some(&from_backup))
        .await;
    assert_eq!(error.code.as_deref(), Some("UNAUTHENTICATED"));

    // The CLI refuses a lifetime the service would refuse, in one line.
    let output = wijkpuls()
        .args(["token", "--role", "admin", "--valid-for", "40d"])
        .args(["--database-url", &url])
        .arg("--auth-secret-file")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("31d"), "{stderr}");
}

/// A connection that sends the start of a request and never finishes its headers.
async fn slow_client(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or `PATIENCE` passes); what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

/// A fresh client (no pooled connection of the test's own counts against the server).
async fn healthz_status(app: &TestApp) -> Option<u16> {
    reqwest::Client::new()
        .get(app.url("/healthz"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

async fn a_slow_client_is_disconnected_while_others_are_served(backend: Backend) {
    let timeout = Duration::from_secs(1);
    let Some(app) = spawn_app_with(backend, |config| config.header_read_timeout = timeout).await
    else {
        return;
    };
    let started = Instant::now();
    let mut slow = slow_client(&app).await;
    // Meanwhile a normal request is served.
    app.data("{ wijken { code } }", json!({}), None).await;
    assert!(
        read_until_closed(&mut slow).await.is_some(),
        "the slow client was not disconnected within {PATIENCE:?}"
    );
    let took = started.elapsed();
    assert!(
        took < timeout + Duration::from_secs(5),
        "closed after {took:?}, the header timeout is {timeout:?}"
    );
    // A connection kept alive but idle is closed too.
    let mut idle = TcpStream::connect(app.address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle)
        .await
        .expect("an idle kept-alive connection was not closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

async fn connections_beyond_the_cap_are_refused_gracefully(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| {
        config.max_connections = 3;
        config.header_read_timeout = Duration::from_secs(60);
    })
    .await
    else {
        return;
    };
    // The test's own pooled connection (from spawning) must not count: wait until it is gone.
    drop(app.client.clone());
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(slow_client(&app).await);
    }
    // The fourth is told, and closed.
    let deadline = Instant::now() + PATIENCE;
    let refused = loop {
        let mut extra = TcpStream::connect(app.address).await.unwrap();
        let _ = extra
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        let answer = read_until_closed(&mut extra).await.unwrap_or_default();
        let answer = String::from_utf8_lossy(&answer).to_string();
        if answer.starts_with("HTTP/1.1 503") || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(refused.starts_with("HTTP/1.1 503"), "got {refused:?}");
    // The server is alive: once a slot is free, requests are served again.
    held.clear();
    let deadline = Instant::now() + PATIENCE;
    while healthz_status(&app).await != Some(200) {
        assert!(
            Instant::now() < deadline,
            "no request served after the slots freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const TRACKED: &str = "query($c: String!) { trackedInitiative(trackingCode: $c) { id } }";

/// One wrong tracking code sent as if forwarded for `client`; its error code (if any).
async fn guess_as(app: &TestApp, client: &str, id: &str) -> Option<String> {
    let response: Value = reqwest::Client::new()
        .post(app.url("/graphql"))
        .header("Content-Type", "application/json")
        .header("X-Forwarded-For", format!("9.9.9.9, {client}"))
        .json(&json!({ "query": TRACKED, "variables": { "c": format!("{id}.wrong") } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

async fn forwarded_for_counts_only_from_a_trusted_proxy(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| {
        config.code_guesses_per_minute = 3;
        config.trusted_proxies = vec![TrustedProxy::parse("127.0.0.0/8").unwrap()];
    })
    .await
    else {
        return;
    };
    let resident = app.submit(KLARENDAL, "GROEN", "100").await;
    for _ in 0..3 {
        assert_eq!(guess_as(&app, "203.0.113.7", &resident.id).await, None);
    }
    assert_eq!(
        guess_as(&app, "203.0.113.7", &resident.id).await.as_deref(),
        Some("RATE_LIMITED")
    );
    // Another client behind the same proxy has its own limit (the right-most address counts,
    // not the forged one left of it).
    assert_eq!(guess_as(&app, "203.0.113.8", &resident.id).await, None);

    // Without a trusted proxy the header is ignored: everyone here is 127.0.0.1.
    let direct = spawn_instance_with(&app, |config| config.code_guesses_per_minute = 3).await;
    for i in 0..3 {
        assert_eq!(
            guess_as(&direct, &format!("198.51.100.{i}"), &resident.id).await,
            None
        );
    }
    assert_eq!(
        guess_as(&direct, "198.51.100.99", &resident.id)
            .await
            .as_deref(),
        Some("RATE_LIMITED")
    );
}

const PERSON: &str = "Piet Zonneveld";

async fn a_person_staff_connect_is_sealed_and_erased_with_the_initiator(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let w2 = app.staff_token("W2");
    let connected = app
        .data(
            CONNECT,
            json!({ "input": {
                "initiativeId": initiative.id,
                "party": { "name": PERSON, "kind": "PERSON" },
                "note": "Buurman met dezelfde plannen",
            }}),
            Some(&w2),
        )
        .await;
    let party = &connected["connectInitiative"]["connections"][0]["party"];
    assert_eq!(party["name"], PERSON, "staff of the gebied see the name");
    // The same person twice is refused, though the name is sealed.
    app.refused(
        "BAD_USER_INPUT",
        CONNECT,
        json!({ "input": {
            "initiativeId": initiative.id,
            "party": { "name": "piet zonneveld", "kind": "PERSON" },
            "note": "nogmaals",
        }}),
        Some(&w2),
    )
    .await;

    let bytes = crate::personal_data::database_bytes(&app.db).await;
    assert!(
        !bytes.windows(PERSON.len()).any(|w| w == PERSON.as_bytes()),
        "the person's name stands in clear text in the database"
    );

    let links = "query($id: ID!) { initiative(id: $id) { connections { party { kind name } } } }";
    let vars = json!({ "id": initiative.id });
    let public = app.data(links, vars.clone(), None).await;
    assert_eq!(
        public["initiative"]["connections"][0]["party"],
        json!({ "kind": "PERSON", "name": null })
    );
    let elsewhere = app
        .data(links, vars.clone(), Some(&app.staff_token("W1")))
        .await;
    assert_eq!(
        elsewhere["initiative"]["connections"][0]["party"]["name"],
        json!(null)
    );

    app.data(
        ERASE,
        json!({ "input": { "initiativeId": initiative.id } }),
        Some(&app.admin_token),
    )
    .await;
    let after = app.data(links, vars, Some(&app.admin_token)).await;
    assert_eq!(
        after["initiative"]["connections"][0]["party"],
        json!({ "kind": "PERSON", "name": null }),
        "erasure reaches the connected person"
    );
}

/// Staff's notes may name people or describe a person's situation: a connection's note and a
/// referral's note are sealed with the initiative's key, so erasure reaches them too.
async fn staff_notes_are_sealed_and_erased_with_the_initiator(app: TestApp) {
    const CONNECT_NOTE: &str = "Overleg met Marieke Boschbloem over de tuin";
    const REFER_NOTE: &str = "Mevrouw Grietje Tuinstra heeft hulp bij het huishouden nodig";
    let initiative = app.submit(KLARENDAL, "GROEN", "100").await;
    let referred = app.submit(KLARENDAL, "WELZIJN", "50").await;
    let w2 = app.staff_token("W2");
    app.data(
        CONNECT,
        json!({ "input": {
            "initiativeId": initiative.id,
            "party": { "name": "Wijkraad Klarendal", "kind": "ORGANISATION" },
            "note": CONNECT_NOTE,
        }}),
        Some(&w2),
    )
    .await;
    app.data(
        REFER,
        json!({ "input": {
            "initiativeId": referred.id,
            "sociaalWijkteam": "Sociaal wijkteam Noord",
            "note": REFER_NOTE,
        }}),
        Some(&w2),
    )
    .await;

    let bytes = crate::personal_data::database_bytes(&app.db).await;
    for text in [CONNECT_NOTE, REFER_NOTE] {
        assert!(
            !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
            "a staff note stands in clear text in the database: {text}"
        );
    }

    let notes = "query($id: ID!) { initiative(id: $id) { connections { note } } }";
    let vars = json!({ "id": initiative.id });
    let staff = app.data(notes, vars.clone(), Some(&w2)).await;
    assert_eq!(staff["initiative"]["connections"][0]["note"], CONNECT_NOTE);
    let public = app.data(notes, vars.clone(), None).await;
    assert_eq!(public["initiative"]["connections"][0]["note"], json!(null));

    app.data(
        ERASE,
        json!({ "input": { "initiativeId": initiative.id } }),
        Some(&app.admin_token),
    )
    .await;
    let after = app.data(notes, vars, Some(&app.admin_token)).await;
    assert_eq!(
        after["initiative"]["connections"][0]["note"],
        json!(null),
        "erasure reaches staff's note"
    );
}
