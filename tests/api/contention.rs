//! Many people at once: fundings that race on one budget line queue instead of failing, on one
//! instance and on two; every wait a mutation or readiness does has a deadline; WebSocket
//! limits; state subscriptions shared by every screen that follows the same view.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;

e2e_tests!(
    app: [
        racing_fundings_on_one_line_all_get_a_decision,
        racing_fundings_on_two_instances_all_get_a_decision,
        a_funding_right_after_a_submission_elsewhere_finds_it,
        a_mutation_not_applied_in_time_answers_with_what_is_known,
        readiness_says_so_when_the_live_state_stalls,
        a_socket_may_run_only_so_many_operations,
        an_operation_id_over_the_limit_closes_the_socket,
        screens_on_the_same_view_share_one_execution,
        a_fragment_bomb_over_a_websocket_is_refused_before_it_runs,
    ],
    backend: [
        connections_per_address_are_capped,
        behind_a_trusted_proxy_the_cap_is_per_forwarded_client,
        readiness_says_so_when_the_database_refuses_writes,
    ],
);

/// The line fits exactly this many fundings of [`EACH`].
const FIT: usize = 37;
const EACH: &str = "100.00";
const RACERS: usize = 200;

/// Submits `count` initiatives in Klarendal (GROEN), a few at a time.
async fn submit_many(app: &TestApp, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(16) {
        let submitted = join_all(chunk.iter().map(|_| app.submit(KLARENDAL, "GROEN", EACH))).await;
        ids.extend(submitted.into_iter().map(|s| s.id));
    }
    ids
}

/// Funds every initiative at once, spread over `instances`; the codes of the answers (`OK`
/// for a funding).
async fn fund_all_at_once(instances: &[&TestApp], ids: &[String]) -> Vec<String> {
    let answers = join_all(ids.iter().enumerate().map(|(index, id)| {
        let app = instances[index % instances.len()];
        async move {
            let response = app
                .graphql(
                    FUND,
                    json!({ "input": { "initiativeId": id, "amount": EACH, "year": YEAR } }),
                    Some(&app.admin_token),
                )
                .await;
            match response["errors"].as_array() {
                None => "OK".to_owned(),
                Some(errors) => GqlError::from_json(&errors[0])
                    .code
                    .unwrap_or_else(|| format!("no code: {response}")),
            }
        }
    }))
    .await;
    answers
}

async fn assert_exactly_the_fitting_ones_were_funded(app: &TestApp, answers: &[String]) {
    let funded = answers.iter().filter(|code| *code == "OK").count();
    let exceeded = answers
        .iter()
        .filter(|code| *code == "BUDGET_EXCEEDED")
        .count();
    assert_eq!(
        (funded, exceeded),
        (FIT, RACERS - FIT),
        "every funding that fits succeeds, every other one is told the budget is exceeded; got {answers:?}"
    );
    let line = app.line(KLARENDAL, "GROEN").await;
    assert_eq!(cents(&line["committed"]), FIT as i64 * 10_000);
    assert_eq!(cents(&line["remaining"]), 0);
    let funding_events = app
        .events()
        .await
        .iter()
        .filter(|event| event["type"] == "InitiativeFunded")
        .count();
    assert_eq!(
        funding_events, FIT,
        "the log holds exactly one funding per success"
    );
}

async fn racing_fundings_on_one_line_all_get_a_decision(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "3700.00").await;
    let ids = submit_many(&app, RACERS).await;
    let answers = fund_all_at_once(&[&app], &ids).await;
    assert_exactly_the_fitting_ones_were_funded(&app, &answers).await;
    assert_eq!(
        metric(&app, "wijkpuls_conflict_retries_total").await,
        0,
        "on one instance, decisions on one budget line queue: none loses a race to another"
    );
}

async fn racing_fundings_on_two_instances_all_get_a_decision(app: TestApp) {
    let other = spawn_instance(&app).await;
    app.allocate(KLARENDAL, "GROEN", "3700.00").await;
    let ids = submit_many(&app, RACERS).await;
    // The second instance knows them all before the race starts.
    let last = ids.last().expect("submitted");
    tokio::time::timeout(PATIENCE, async {
        while other
            .graphql(
                "query($id: ID!) { initiative(id: $id) { id } }",
                json!({ "id": last }),
                None,
            )
            .await["data"]["initiative"]
            .is_null()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the second instance follows the log");
    let answers = fund_all_at_once(&[&app, &other], &ids).await;
    assert_exactly_the_fitting_ones_were_funded(&app, &answers).await;
    assert_exactly_the_fitting_ones_were_funded(&other, &answers).await;
}

async fn a_mutation_not_applied_in_time_answers_with_what_is_known(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000.00").await;
    let submitted = app.submit(KLARENDAL, "GROEN", EACH).await;
    let deadline = app.state.service.options.deadline;
    let paused = app.state.live.pause();
    let asked = tokio::time::Instant::now();
    let answer = tokio::time::timeout(
        deadline + PATIENCE,
        app.graphql(
            FUND,
            json!({ "input": { "initiativeId": submitted.id, "amount": EACH, "year": YEAR } }),
            Some(&app.admin_token),
        ),
    )
    .await
    .expect("the mutation answers although its result is not applied");
    assert!(
        asked.elapsed() >= deadline,
        "it waited for its result until the deadline"
    );
    let error = GqlError::from_json(&answer["errors"][0]);
    assert_eq!(
        error.code.as_deref(),
        Some("INTERNAL_SERVER_ERROR"),
        "{answer}"
    );
    assert!(
        error.message.contains("recorded"),
        "the message says the change was recorded: {}",
        error.message
    );
    drop(paused);
    let funded = tokio::time::timeout(PATIENCE, async {
        loop {
            let initiative = app.initiative(&submitted.id, None).await;
            if initiative["status"] == "FUNDED" {
                return initiative;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("once the tailer goes on, the funding shows");
    assert_eq!(funded["fundedAmount"], EACH);
    assert_eq!(
        metric(&app, "wijkpuls_apply_timeouts_total").await,
        1,
        "counted"
    );
}

async fn readiness(app: &TestApp) -> (u16, String) {
    let response = tokio::time::timeout(PATIENCE, app.client.get(app.url("/readyz")).send())
        .await
        .expect("readiness answers")
        .expect("readiness answers over HTTP");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn readiness_says_so_when_the_live_state_stalls(app: TestApp) {
    assert_eq!(readiness(&app).await.0, 200);
    let paused = app.state.live.pause();
    app.allocate_answer(KLARENDAL, "GROEN", "10.00").await;
    // The allocation answered (its deadline passed) but the live state is behind the log.
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("catching up"), "{body}");
    drop(paused);
    tokio::time::timeout(PATIENCE, async {
        while readiness(&app).await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("ready again once the live state goes on");
}

async fn readiness_says_so_when_the_database_refuses_writes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    assert_eq!(readiness(&app).await.0, 200);
    // Another process holds the database's write lock.
    let holder = WriteLockHolder::take(app.db.url()).await;
    // The probe's last result is kept for two seconds.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let asked = tokio::time::Instant::now();
    let (status, body) = readiness(&app).await;
    assert!(
        asked.elapsed() < PATIENCE,
        "readiness answered in bounded time"
    );
    assert_eq!(status, 503, "{body}");
    holder.release().await;
    tokio::time::timeout(PATIENCE, async {
        while readiness(&app).await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("ready again once the lock is released");
}

/// A transaction of another connection that holds the write lock on the settings table (the
/// readiness probe writes there) until released.
enum WriteLockHolder {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLockHolder {
    async fn take(url: &str) -> WriteLockHolder {
        use sqlx::Connection as _;
        if url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut connection)
                .await
                .expect("take the write lock");
            WriteLockHolder::Sqlite(connection)
        } else {
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query("BEGIN")
                .execute(&mut connection)
                .await
                .expect("begin");
            sqlx::query("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE")
                .execute(&mut connection)
                .await
                .expect("lock the settings");
            WriteLockHolder::Postgres(connection)
        }
    }

    async fn release(self) {
        match self {
            WriteLockHolder::Sqlite(mut connection) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut connection)
                    .await
                    .expect("release");
            }
            WriteLockHolder::Postgres(mut connection) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut connection)
                    .await
                    .expect("release");
            }
        }
    }
}

const CITY: &str = "subscription { cityOverviewUpdated(year: 2026) { year position totals { committed remaining } } }";

async fn a_socket_may_run_only_so_many_operations(app: TestApp) {
    let mut ws = app.ws(None).await;
    let mut ids = Vec::new();
    for _ in 0..100 {
        let id = ws.subscribe(CITY, json!({})).await;
        ws.data(&id).await;
        ids.push(id);
    }
    let over = ws.subscribe(CITY, json!({})).await;
    match ws.next(&over).await {
        Next::Errors(errors) => {
            assert_eq!(
                errors[0].code.as_deref(),
                Some("RATE_LIMITED"),
                "{errors:?}"
            );
            assert!(errors[0].message.contains("at most 100"), "{errors:?}");
        }
        other => panic!("the 101st operation is refused, got {other:?}"),
    }
    // The connection goes on: the operations it has still follow changes.
    app.allocate(KLARENDAL, "GROEN", "500.00").await;
    let updated = ws
        .data_until(&ids[0], |data| {
            data["cityOverviewUpdated"]["totals"]["remaining"] == "500.00"
        })
        .await;
    assert_eq!(updated["cityOverviewUpdated"]["year"], 2026);
}

async fn an_operation_id_over_the_limit_closes_the_socket(app: TestApp) {
    let mut ws = app.ws(None).await;
    let id = "x".repeat(129);
    ws.send_raw(json!({
        "id": id,
        "type": "subscribe",
        "payload": { "query": CITY },
    }))
    .await;
    match ws.closed().await {
        Init::Closed(Some(4400)) => {}
        other => panic!("a 129-byte id closes the socket with 4400, got {other:?}"),
    }
    // An id at the limit is fine.
    let mut ws = app.ws(None).await;
    let id = "y".repeat(128);
    ws.send_raw(json!({
        "id": id,
        "type": "subscribe",
        "payload": { "query": CITY },
    }))
    .await;
    ws.data(&id).await;
}

async fn connections_per_address_are_capped(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| config.ws_limits.max_per_address = 3).await
    else {
        return;
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.ws(None).await);
    }
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/graphql/ws", app.address)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429)
        }
        other => {
            panic!("the fourth connection from one address is refused with 429, got {other:?}")
        }
    }
    // Closing one makes room.
    drop(open.pop());
    tokio::time::timeout(PATIENCE, async {
        loop {
            let attempt =
                tokio_tungstenite::connect_async(format!("ws://{}/graphql/ws", app.address)).await;
            if attempt.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a connection is admitted once another one closed");
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

async fn screens_on_the_same_view_share_one_execution(app: TestApp) {
    let mut screens = Vec::new();
    for _ in 0..3 {
        let mut ws = app.ws(None).await;
        let id = ws.subscribe(CITY, json!({})).await;
        ws.data(&id).await;
        screens.push((ws, id));
    }
    // A staff screen sees the same view differently (it may see personal data): its own.
    let mut staff = app.ws(Some(&app.staff_token("W2"))).await;
    let staff_id = staff.subscribe(CITY, json!({})).await;
    staff.data(&staff_id).await;
    assert_eq!(metric(&app, "wijkpuls_ws_operations").await, 4);
    assert_eq!(metric(&app, "wijkpuls_ws_shared_executions").await, 2);

    app.allocate(KLARENDAL, "GROEN", "750.00").await;
    let mut seen: Vec<Value> = Vec::new();
    for (ws, id) in &mut screens {
        seen.push(
            ws.data_until(id, |data| {
                data["cityOverviewUpdated"]["totals"]["remaining"] == "750.00"
            })
            .await,
        );
    }
    assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{seen:?}");
    staff
        .data_until(&staff_id, |data| {
            data["cityOverviewUpdated"]["totals"]["remaining"] == "750.00"
        })
        .await;

    // When every screen has gone, so has the execution.
    drop(screens);
    drop(staff);
    tokio::time::timeout(PATIENCE, async {
        while metric(&app, "wijkpuls_ws_shared_executions").await != 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("shared executions stop with their last subscriber");
}

async fn a_fragment_bomb_over_a_websocket_is_refused_before_it_runs(app: TestApp) {
    let query =
        crate::abuse::fragment_bomb_under("subscription { wijkUpdated(code: \"WK020207\")", 23);
    let mut ws = app.ws(None).await;
    let asked = tokio::time::Instant::now();
    let bomb = ws.subscribe(&query, json!({})).await;
    match ws.next(&bomb).await {
        Next::Errors(errors) => {
            assert_eq!(
                errors[0].code.as_deref(),
                Some("BAD_USER_INPUT"),
                "{errors:?}"
            )
        }
        other => panic!("the fragment bomb is refused, got {other:?}"),
    }
    assert!(asked.elapsed() < PATIENCE);
    // The socket serves on.
    let id = ws.subscribe(CITY, json!({})).await;
    ws.data(&id).await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket as if forwarded by a proxy for `client`: the socket, or the refusal's
/// HTTP status.
async fn ws_from(app: &TestApp, client: &str) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/graphql/ws", app.address)
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("X-Forwarded-For", client.parse().expect("a header value"));
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("the upgrade failed otherwise: {other}"),
    }
}

async fn behind_a_trusted_proxy_the_cap_is_per_forwarded_client(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| {
        config.ws_limits.max_per_address = 2;
        config.trusted_proxies =
            vec![wijkpuls_api::routes::TrustedProxy::parse("127.0.0.1").expect("an address")];
    })
    .await
    else {
        return;
    };
    let mut open = Vec::new();
    for client in ["203.0.113.7", "203.0.113.7", "203.0.113.8", "203.0.113.8"] {
        match ws_from(&app, client).await {
            Ok(socket) => open.push(socket),
            Err(status) => panic!("{client} has room, got {status}"),
        }
    }
    assert!(matches!(ws_from(&app, "203.0.113.7").await, Err(429)));
}

/// Behind a load balancer the next request may reach another instance: one that has not yet
/// applied the submission catches up with the log instead of answering NOT_FOUND.
async fn a_funding_right_after_a_submission_elsewhere_finds_it(app: TestApp) {
    let other = spawn_instance(&app).await;
    app.allocate(KLARENDAL, "GROEN", "1000.00").await;
    for _ in 0..20 {
        let submitted = app.submit(KLARENDAL, "GROEN", "10.00").await;
        let funded = other.fund(&submitted.id, "10.00").await;
        assert_eq!(funded["status"], "FUNDED", "{funded}");
    }
}
