//! `wijkpuls verify` as an operator or auditor runs it: an intact log verifies with exit 0 and
//! prints the chain head; a row altered by hand (append-only triggers dropped in this test's own
//! database) fails with a non-zero exit naming its position; erasing an initiator's personal
//! data (keys, not events) keeps the chain intact.

use serde_json::json;

use crate::helpers::*;

app_tests!(
    verify_prints_the_chain_head_of_an_intact_log,
    verify_names_the_position_of_an_altered_payload,
    erasure_keeps_verify_green,
);

/// Runs `wijkpuls verify` on the app's database: (success, stdout, stderr).
async fn verify(app: &TestApp) -> (bool, String, String) {
    let output = wijkpuls()
        .args(["verify", "--database-url", app.db.url()])
        .output()
        .await
        .expect("run wijkpuls verify");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The head the verifier printed: "... chain head position P hash H".
fn printed_head(stdout: &str) -> (u64, String) {
    let line = stdout
        .lines()
        .find(|line| line.contains("chain head position"))
        .unwrap_or_else(|| panic!("no chain head in {stdout:?}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "position").unwrap();
    (words[at + 1].parse().unwrap(), words[at + 3].to_owned())
}

async fn verify_prints_the_chain_head_of_an_intact_log(app: TestApp) {
    app.submit(KLARENDAL, "CULTUUR", "250").await;
    let (events, head) = app.head().await;
    let (ok, stdout, stderr) = verify(&app).await;
    assert!(ok, "verify failed: {stdout}{stderr}");
    assert!(stdout.contains(&format!("{events} events")), "{stdout}");
    let (position, hash) = printed_head(&stdout);
    assert_eq!(position, head);
    assert_eq!(hash.len(), 64, "a SHA-256 in hex: {hash}");
    // /metrics shows the same head, for an auditor who reads it from the running server.
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "wijkpuls_chain_head_position{{hash=\"{hash}\"}} {position}\n"
        )),
        "{metrics}"
    );
    // The head moves on with the next append, and the earlier head is still part of it.
    app.submit(KLARENDAL, "CULTUUR", "100").await;
    let (ok, stdout, _) = verify(&app).await;
    assert!(ok, "{stdout}");
    let (later, later_hash) = printed_head(&stdout);
    assert!(later > position);
    assert_ne!(later_hash, hash);
}

async fn verify_names_the_position_of_an_altered_payload(app: TestApp) {
    app.submit(KLARENDAL, "CULTUUR", "250").await;
    app.submit(KLARENDAL, "CULTUUR", "300").await;
    let (_, head) = app.head().await;
    let target = head - 1;
    // Someone with database access rewrites the payload of one event.
    let update = match app.db.url().starts_with("sqlite:") {
        true => format!("UPDATE events SET payload = json_set(payload, '$.tampered', 1) WHERE position = {target}"),
        false => format!("UPDATE events SET payload = payload || '{{\"tampered\": 1}}'::jsonb WHERE position = {target}"),
    };
    app.db.tamper(&[&update]).await;
    let (ok, stdout, stderr) = verify(&app).await;
    assert!(!ok, "verify passed an altered log: {stdout}");
    assert!(
        stdout.contains(&format!("verify failed at position {target}:")),
        "{stdout}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one error line: {stderr}");
}

async fn erasure_keeps_verify_green(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "CULTUUR", "250").await;
    let data = app
        .data(
            ERASE,
            json!({ "input": { "initiativeId": initiative.id } }),
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(data["eraseInitiatorData"]["initiatorErased"], json!(true));
    let (_, head) = app.head().await;
    let (ok, stdout, stderr) = verify(&app).await;
    assert!(ok, "verify failed after an erasure: {stdout}{stderr}");
    assert_eq!(printed_head(&stdout).0, head);
}
