//! `wijkpuls copy`, `export` and `import`, run as the operator runs them: the round trip is
//! exact on both backends (export → import → export gives the same bytes, and a server on the
//! imported store answers as the original did), a copy from SQLite to PostgreSQL is complete,
//! erased personal data stays erased, the open-data CSV files hold no personal data, and bad
//! input ends in one line naming the problem with nothing imported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use wijkpuls_event_store::testing::TestDatabase;
use wijkpuls_event_store::{EventStore, Vault};

use crate::helpers::*;

e2e_tests!(
    app: [
        export_import_export_is_byte_identical_and_serves_the_same,
        a_key_that_survived_its_erasure_is_neither_exported_nor_imported,
        open_data_holds_every_initiative_and_budget_line_but_no_personal_data,
        import_refuses_a_store_that_is_not_empty,
        import_names_a_corrupt_line_and_imports_nothing,
        import_refuses_a_file_that_is_cut_off,
    ],
    backend: [],
);

const NAME: &str = "Evertje Blauwgrond-Visscher";
const EMAIL: &str = "evertje.blauwgrond@voorbeeld.nl";
const PHONE: &str = "+31 26 555 0199";

/// A log with something of everything: budgets, submissions with personal data (one with an
/// idempotency key), a funding, a rejection, and an erasure. Returns the initiative whose
/// initiator is still known and the erased one.
async fn history(app: &TestApp) -> (Submitted, Submitted) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    app.allocate(CENTRUM, "SPORT", "250.50").await;
    let kept = app
        .submit_with(
            json!({ "wijkCode": KLARENDAL, "title": "Geveltuinen", "theme": "GROEN",
                    "requestedAmount": "300", "idempotencyKey": "ops-kept",
                    "initiator": { "name": NAME, "email": EMAIL, "phone": PHONE } }),
            None,
        )
        .await;
    app.fund(&kept.id, "300").await;
    let erased = app.submit(CENTRUM, "SPORT", "40").await;
    app.reject(&erased.id).await;
    app.data(
        ERASE,
        json!({ "input": { "initiativeId": erased.id } }),
        Some(&app.admin_token),
    )
    .await;
    (kept, erased)
}

/// Runs `wijkpuls ARGS`, which must succeed; its stdout.
pub(crate) async fn succeeds(args: &[&str]) -> Vec<u8> {
    let output = tokio::time::timeout(Duration::from_secs(120), wijkpuls().args(args).output())
        .await
        .unwrap_or_else(|_| panic!("wijkpuls {args:?} did not end within 120 s"))
        .expect("run wijkpuls");
    assert!(
        output.status.success(),
        "wijkpuls {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs `wijkpuls ARGS`, which must fail with exit code 1 and one line on stderr, without a
/// panic; that line.
pub(crate) async fn fails(args: &[&str]) -> String {
    let output = tokio::time::timeout(Duration::from_secs(120), wijkpuls().args(args).output())
        .await
        .unwrap_or_else(|_| panic!("wijkpuls {args:?} did not end within 120 s"))
        .expect("run wijkpuls");
    let stderr = plain(&String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "wijkpuls {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "a one-line error, got: {stderr}");
    lines[0].to_owned()
}

/// `wijkpuls export --database-url URL FILE`; the file's bytes.
async fn export(url: &str, file: &Path) -> Vec<u8> {
    succeeds(&["export", "--database-url", url, file.to_str().unwrap()]).await;
    std::fs::read(file).expect("the export file")
}

/// The export's lines as JSON values.
fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// A new, empty database of the same kind as `app`'s.
async fn empty_like(app: &TestApp) -> TestDatabase {
    if app.db.url().starts_with("sqlite:") {
        TestDatabase::sqlite()
    } else {
        TestDatabase::postgres("ops")
            .await
            .expect("PostgreSQL is configured")
    }
}

/// How many events the store at `url` holds.
pub(crate) async fn event_count(url: &str) -> usize {
    let store = EventStore::open(url, Default::default()).await.unwrap();
    let n = store
        .read_batch(Default::default(), 100_000)
        .await
        .unwrap()
        .len();
    store.close().await;
    n
}

/// What a server answers about the whole city, staff's event feed and the kept initiator.
async fn answers(app: &TestApp, kept: &Submitted, erased: &Submitted) -> Value {
    app.data(
        &format!(
            "query($y: Int, $kept: ID!, $erased: ID!) {{
               cityOverview(year: $y) {{ year position asOf totals {{ {BUDGET_FIELDS} }}
                 initiativeCounts {{ submitted funded rejected total }}
                 wijken {{ code budget {{ {BUDGET_FIELDS} }} }} }}
               events(first: 500) {{ position type summary actor recordedAt initiativeId }}
               kept: initiative(id: $kept) {{ {INITIATIVE_FIELDS} initiator {{ name email phone }} }}
               erased: initiative(id: $erased) {{ {INITIATIVE_FIELDS} initiator {{ name }} }} }}"
        ),
        json!({ "y": YEAR, "kept": kept.id, "erased": erased.id }),
        Some(&app.admin_token),
    )
    .await
}

async fn export_import_export_is_byte_identical_and_serves_the_same(app: TestApp) {
    let (kept, erased) = history(&app).await;
    let before = answers(&app, &kept, &erased).await;
    assert_eq!(before["kept"]["initiator"]["email"], EMAIL, "{before}");
    let dir = tempfile::tempdir().unwrap();
    let first = export(app.db.url(), &dir.path().join("first.ndjson")).await;

    let target = std::sync::Arc::new(empty_like(&app).await);
    let file = dir.path().join("first.ndjson");
    succeeds(&[
        "import",
        "--database-url",
        target.url(),
        file.to_str().unwrap(),
    ])
    .await;
    // The hash chain came along as it was: the imported log verifies, with the same head.
    let head = |out: Vec<u8>| {
        let out = String::from_utf8(out).unwrap();
        out.split("chain head")
            .nth(1)
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no head: {out}"))
    };
    assert_eq!(
        head(succeeds(&["verify", "--database-url", target.url()]).await),
        head(succeeds(&["verify", "--database-url", app.db.url()]).await),
    );
    let second = export(target.url(), &dir.path().join("second.ndjson")).await;
    assert!(
        first == second,
        "export → import → export gives the same bytes:\n{}\n---\n{}",
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
    let kinds: Vec<String> = lines(&first)
        .iter()
        .map(|l| l["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("header"));
    assert_eq!(kinds.last().map(String::as_str), Some("end"));
    for kind in ["event", "idempotency_key", "subject_key", "setting"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "the export holds {kind} lines"
        );
    }
    assert!(
        !String::from_utf8_lossy(&first).contains(NAME),
        "personal data stays sealed in the export"
    );

    // A server on the imported store answers exactly as the original: positions, times,
    // budgets, the kept initiator (its key came along) and the erased one (it did not).
    let imported = start(target, |_| {}).await;
    let after = answers(&imported, &kept, &erased).await;
    assert_eq!(after, before);
    // Tokens of the original still work there: the signing key came along.
    let staff = app.staff_token("W2");
    let mine = imported
        .data(
            "query($id: ID!) { initiative(id: $id) { initiator { email } } }",
            json!({ "id": kept.id }),
            Some(&staff),
        )
        .await;
    assert_eq!(mine["initiative"]["initiator"]["email"], EMAIL);
    // And the imported store goes on from the last position.
    let (count, head) = imported.head().await;
    imported.submit(SONSBEEK, "GROEN", "10").await;
    assert_eq!(imported.head().await, (count + 1, head + 1));
}

async fn a_key_that_survived_its_erasure_is_neither_exported_nor_imported(app: TestApp) {
    let (_, erased) = history(&app).await;
    let key_id = wijkpuls_api::personal::key_id(&erased.id.parse().unwrap());
    // The erasure is recorded before the key is destroyed; a key that survived a failure in
    // between is still in the vault.
    let vault = Vault::open(app.db.url()).await.unwrap();
    vault.put_key(&key_id, &[7; 32]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    let exported = String::from_utf8(export(app.db.url(), &file).await).unwrap();
    let key_lines: Vec<Value> = lines(exported.as_bytes())
        .into_iter()
        .filter(|l| l["kind"] == "subject_key")
        .collect();
    assert!(
        !key_lines.iter().any(|l| l["id"] == key_id.as_str()),
        "the erased initiator's key is not exported: {key_lines:?}"
    );
    assert!(
        exported.contains("\"kind\":\"subject_key\""),
        "other keys are"
    );

    // A file that carries it anyway (made by hand, or by an older version) does not bring it
    // back either.
    let smuggled = format!(
        "{{\"kind\":\"subject_key\",\"id\":\"{key_id}\",\"key\":\"{}\",\"created_at\":\"2026-01-01T00:00:00Z\"}}",
        "07".repeat(32)
    );
    let mut with_key: Vec<&str> = exported.lines().collect();
    let mut counts: Value = serde_json::from_str(with_key.pop().unwrap()).unwrap();
    counts["subject_keys"] = json!(counts["subject_keys"].as_u64().unwrap() + 1);
    with_key.push(&smuggled);
    let counts = counts.to_string();
    with_key.push(&counts);
    let file = dir.path().join("smuggled.ndjson");
    std::fs::write(&file, with_key.join("\n")).unwrap();
    let target = empty_like(&app).await;
    succeeds(&[
        "import",
        "--database-url",
        target.url(),
        file.to_str().unwrap(),
    ])
    .await;
    let keys = Vault::open(target.url())
        .await
        .unwrap()
        .keys(&[key_id.as_str()])
        .await
        .unwrap();
    assert!(keys.is_empty(), "the erased key was not imported");
}

async fn open_data_holds_every_initiative_and_budget_line_but_no_personal_data(app: TestApp) {
    let (kept, _) = history(&app).await;
    let person = "Gerrit-Jan Oosterbeek";
    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": kept.id, "party": { "kind": "PERSON", "name": person },
                           "note": format!("belde {person} op 06-12345678") } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("open-data");
    succeeds(&[
        "export",
        "--database-url",
        app.db.url(),
        "--open-data",
        out.to_str().unwrap(),
    ])
    .await;
    let read = |name: &str| -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_path(out.join(name)).expect("the CSV file");
        let header = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    };
    let (header, initiatives) = read("initiatives.csv");
    assert_eq!(header[0], "id");
    assert_eq!(initiatives.len(), 2, "{initiatives:?}");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = initiatives
        .iter()
        .find(|r| r[column("id")] == kept.id)
        .unwrap();
    assert_eq!(row[column("status")], "funded");
    assert_eq!(row[column("funded_amount")], "300.00");
    assert_eq!(row[column("wijk_code")], KLARENDAL);
    let (header, lines) = read("budget_lines.csv");
    let line = lines
        .iter()
        .find(|l| l[1] == KLARENDAL && l[4] == "groen" && l[0] == YEAR.to_string())
        .expect("Klarendal's groen line");
    assert_eq!(
        header[5..],
        ["allocated", "committed", "spent", "remaining"]
    );
    assert_eq!(line[5..], ["1000.00", "300.00", "0.00", "700.00"]);
    for file in ["initiatives.csv", "budget_lines.csv"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        for personal in [
            NAME,
            EMAIL,
            PHONE,
            person,
            "06-12345678",
            &kept.tracking_code,
        ] {
            assert!(!text.contains(personal), "{file} holds {personal:?}");
        }
    }
}

async fn import_refuses_a_store_that_is_not_empty(app: TestApp) {
    history(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    export(app.db.url(), &file).await;
    let before = app.head().await;
    let line = fails(&[
        "import",
        "--database-url",
        app.db.url(),
        file.to_str().unwrap(),
    ])
    .await;
    assert!(line.contains("not empty"), "{line}");
    assert_eq!(app.head().await, before, "nothing was added");
    let line = fails(&["copy", "--from", app.db.url(), "--to", app.db.url()]).await;
    assert!(line.contains("not empty"), "{line}");
}

/// Spoils one line of an export.
type Corruption = fn(&str) -> String;

async fn import_names_a_corrupt_line_and_imports_nothing(app: TestApp) {
    history(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    let text = String::from_utf8(export(app.db.url(), &file).await).unwrap();
    let total = text.lines().count();
    let corruptions: [(usize, Corruption); 3] = [
        // Not JSON: cut in half.
        (total - 3, |l| l[..l.len() / 2].to_owned()),
        // A gap in the positions.
        (7, |l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["position"] = json!(v["position"].as_u64().unwrap() + 1);
            v.to_string()
        }),
        // An invalid stream id.
        (total - 10, |l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["kind"] == "event" {
                v["stream_id"] = json!("no spaces allowed");
            } else {
                v["kind"] = json!("mystery");
            }
            v.to_string()
        }),
    ];
    for (number, corrupt) in corruptions {
        let broken: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i + 1 == number {
                    corrupt(l)
                } else {
                    l.to_owned()
                }
            })
            .collect();
        let path = dir.path().join(format!("broken-{number}.ndjson"));
        std::fs::write(&path, broken.join("\n") + "\n").unwrap();
        let target = empty_like(&app).await;
        let line = fails(&[
            "import",
            "--database-url",
            target.url(),
            path.to_str().unwrap(),
        ])
        .await;
        assert!(line.contains(&format!("line {number}:")), "{line}");
        assert!(line.contains("nothing was imported"), "{line}");
        if let Some(sqlite) = target.url().strip_prefix("sqlite://") {
            assert!(
                !Path::new(sqlite).exists(),
                "no database file is left behind"
            );
        } else {
            assert_eq!(event_count(target.url()).await, 0, "nothing was imported");
        }
    }
}

async fn import_refuses_a_file_that_is_cut_off(app: TestApp) {
    history(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    let text = String::from_utf8(export(app.db.url(), &file).await).unwrap();
    let mut kept: Vec<&str> = text.lines().collect();
    kept.truncate(kept.len() - 3);
    let cut = dir.path().join("cut.ndjson");
    std::fs::write(&cut, kept.join("\n")).unwrap();
    let target = empty_like(&app).await;
    let line = fails(&[
        "import",
        "--database-url",
        target.url(),
        cut.to_str().unwrap(),
    ])
    .await;
    assert!(line.contains("cut off"), "{line}");
    if target.url().starts_with("postgres") {
        assert_eq!(event_count(target.url()).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_from_sqlite_to_postgres_is_complete_and_verified() {
    let Some(target) = TestDatabase::postgres("ops::copy_from_sqlite_to_postgres").await else {
        return;
    };
    let app = spawn_app(Backend::sqlite("ops::copy")).await.unwrap();
    let (kept, erased) = history(&app).await;
    let before = answers(&app, &kept, &erased).await;
    succeeds(&["copy", "--from", app.db.url(), "--to", target.url()]).await;
    // The copy keeps the hash chain: it verifies on PostgreSQL as it did on SQLite.
    succeeds(&["verify", "--database-url", target.url()]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut source = lines(&export(app.db.url(), &dir.path().join("sqlite.ndjson")).await);
    let copied = lines(&export(target.url(), &dir.path().join("postgres.ndjson")).await);
    // The vault on SQLite dates a key to the nanosecond, PostgreSQL holds microseconds.
    for line in source.iter_mut().filter(|l| l["kind"] == "subject_key") {
        let at: chrono::DateTime<chrono::Utc> =
            line["created_at"].as_str().unwrap().parse().unwrap();
        let micros = at.timestamp_micros();
        line["created_at"] = json!(chrono::DateTime::from_timestamp_micros(micros).unwrap());
    }
    // jsonb writes JSON its own way: the same values, line by line.
    assert_eq!(copied, source);
    let server = start(std::sync::Arc::new(target), |_| {}).await;
    assert_eq!(answers(&server, &kept, &erased).await, before);
}

#[tokio::test]
async fn import_of_a_missing_file_fails_with_one_line_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let url = format!("sqlite://{}", db.display());
    let missing = dir.path().join("missing.ndjson");
    let line = fails(&["import", "--database-url", &url, missing.to_str().unwrap()]).await;
    assert!(
        line.contains("cannot read") && line.contains("missing.ndjson"),
        "{line}"
    );
    assert!(!db.exists(), "no database was created");
    let line = fails(&["export", "--database-url", &url]).await;
    assert!(line.contains("no database"), "{line}");
    assert!(!db.exists(), "export does not create a database either");
}

#[tokio::test]
async fn an_unreachable_database_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("export.ndjson");
    std::fs::write(&file, "").unwrap();
    let unreachable = "postgres://nobody@127.0.0.1:1/wijkpuls";
    for args in [
        vec!["export", "--database-url", unreachable],
        vec![
            "import",
            "--database-url",
            unreachable,
            file.to_str().unwrap(),
        ],
        vec!["copy", "--from", unreachable, "--to", "sqlite://never.db"],
    ] {
        let line = fails(&args).await;
        assert!(line.contains("database unavailable"), "{args:?}: {line}");
    }
    assert!(!Path::new("never.db").exists());
    assert!(!file.with_extension("partial").exists());
}
