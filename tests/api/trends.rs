//! `trends` and `trendsUpdated` (issue 13 item 2) through the real server: a hand-made log of
//! back-dated events (recorded the way the demo loader records, with
//! `Service::execute_back_dated`) whose monthly counts, amounts and lead times are worked out by
//! hand; the filters; the input rules; and a live subscription.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wijkpuls_api::app::system_actor;
use wijkpuls_api::personal::InitiatorData;
use wijkpuls_domain::text::{Note, PartyName, Reason, Report, SociaalWijkteam};
use wijkpuls_domain::{
    Channel, Command, ConnectionTarget, Description, Email, InitiativeId, Money, PartyKind,
    PersonName, Theme, Title, WijkCode, WithdrawnBy,
};
use wijkpuls_event_store::SubjectKey;

use crate::helpers::*;

app_tests!(
    months_and_lead_times_are_the_hand_computed_ones,
    wijk_gebied_and_theme_filter_the_trends,
    bad_arguments_are_refused_and_unknown_places_are_zero,
    a_subscription_gets_the_new_trends_after_a_mutation,
);

/// The year of the story: wholly in the past, so every event can be back-dated into it.
const STORY: i32 = 2025;

const TRENDS: &str = "query($year: Int!, $wijk: ID, $gebied: ID, $theme: Theme) {
    trends(year: $year, wijk: $wijk, gebied: $gebied, theme: $theme) {
        year
        months { month submitted funded completed rejected referred withdrawn
                 allocated committed spent remainingAtEnd }
        leadTimes {
            toFirstAnswer { count medianDays p90Days }
            toFunded { count medianDays p90Days }
            toCompleted { count medianDays p90Days }
        }
    } }";

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

/// Records `command` as having occurred at `at`, and waits until the live state has it.
async fn dated(app: &TestApp, at: &str, command: Command) {
    dated_with_keys(app, at, command, Vec::new()).await
}

/// [`dated`], storing `keys` (a sealed initiator's) in the same transaction.
async fn dated_with_keys(app: &TestApp, at: &str, command: Command, keys: Vec<SubjectKey>) {
    let executed = app
        .state
        .service
        .execute_back_dated(&system_actor(), "test", None, time(at), keys, |_| {
            Ok(command.clone())
        })
        .await
        .unwrap_or_else(|e| panic!("{command:?} was refused: {}", e.detail()));
    let last = executed.outcome.expect("recorded").last_position.0;
    app.state
        .live
        .wait_for(last, PATIENCE)
        .await
        .expect("applied");
}

/// Submits a new initiative at `at`; its id.
async fn submit_at(
    app: &TestApp,
    at: &str,
    wijk: &str,
    theme: Theme,
    amount: &str,
) -> InitiativeId {
    let id = InitiativeId::new();
    let data = InitiatorData {
        name: PersonName::parse("Bewoner Testpersoon").unwrap(),
        email: Some(Email::parse("bewoner@example.nl").unwrap()),
        phone: None,
    };
    let (initiator, key) = app.state.sealer.seal(id, &data);
    let command = Command::Submit {
        id,
        wijk: WijkCode::parse(wijk).unwrap(),
        title: Title::parse(&format!("Initiatief {theme} in {wijk}")).unwrap(),
        description: Description::parse("Een buurtidee voor de wijk").unwrap(),
        theme,
        requested_amount: money(amount),
        channel: Channel::Web,
        initiator,
        tracking_code_hash: "f".repeat(64),
        entered_by_staff: false,
    };
    dated_with_keys(app, at, command, vec![key]).await;
    id
}

fn allocate(wijk: &str, theme: Theme, amount: &str) -> Command {
    Command::AllocateBudget {
        wijk: WijkCode::parse(wijk).unwrap(),
        year: STORY,
        theme,
        amount: money(amount),
    }
}

fn fund(id: InitiativeId, amount: &str) -> Command {
    Command::Fund {
        id,
        year: STORY,
        amount: money(amount),
    }
}

/// The story (UTC; Arnhem is UTC+1 in winter, UTC+2 from 30 March to 26 October 2025):
/// - Klarendal groen 2025 gets € 10.000 in December 2024, sport € 5.000 in January.
/// - #1 (Klarendal, groen) submitted 5 Jan, connected 9 Jan (first answer after 4 days),
///   funded € 1.000 on 5 Feb (31 days after submission), completed 31 May 22:30 UTC (1 June
///   in Arnhem) with € 800 spent, 115.5208… days after funding.
/// - #2 (Klarendal, groen) submitted 20 Jan, rejected 31 Mar (first answer after 70 days).
/// - #3 (Centrum, sport) submitted 3 Feb, referred 13 Feb (first answer after 10 days).
/// - #4 (Klarendal, groen) submitted 1 Mar, funded € 200 on 3 Mar (2 days), withdrawn 10 Apr.
/// - #5 (Sonsbeek, groen) submitted 31 Dec 23:30 UTC: 1 January 2026 in Arnhem.
async fn story(app: &TestApp) {
    dated(
        app,
        "2024-12-15T09:00:00Z",
        allocate(KLARENDAL, Theme::Groen, "10000"),
    )
    .await;
    dated(
        app,
        "2025-01-10T09:00:00Z",
        allocate(KLARENDAL, Theme::Sport, "5000"),
    )
    .await;
    let one = submit_at(app, "2025-01-05T10:00:00Z", KLARENDAL, Theme::Groen, "1000").await;
    dated(
        app,
        "2025-01-09T10:00:00Z",
        Command::Connect {
            id: one,
            target: ConnectionTarget::Party {
                name: PartyName::parse("Wijkraad Klarendal").unwrap(),
                kind: PartyKind::Organisation,
            },
            note: Note::parse("Samen sterker.").unwrap().into(),
        },
    )
    .await;
    let two = submit_at(app, "2025-01-20T10:00:00Z", KLARENDAL, Theme::Groen, "500").await;
    let three = submit_at(app, "2025-02-03T10:00:00Z", CENTRUM, Theme::Sport, "300").await;
    dated(app, "2025-02-05T10:00:00Z", fund(one, "1000")).await;
    dated(
        app,
        "2025-02-13T10:00:00Z",
        Command::Refer {
            id: three,
            sociaal_wijkteam: SociaalWijkteam::parse("Sociaal wijkteam Centrum").unwrap(),
            note: None,
        },
    )
    .await;
    let four = submit_at(app, "2025-03-01T10:00:00Z", KLARENDAL, Theme::Groen, "200").await;
    dated(app, "2025-03-03T10:00:00Z", fund(four, "200")).await;
    dated(
        app,
        "2025-03-31T10:00:00Z",
        Command::Reject {
            id: two,
            reason: Reason::parse("Valt onder regulier onderhoud.").unwrap(),
        },
    )
    .await;
    dated(
        app,
        "2025-04-10T10:00:00Z",
        Command::Withdraw {
            id: four,
            by: WithdrawnBy::Staff,
            reason: None,
        },
    )
    .await;
    dated(
        app,
        "2025-05-31T22:30:00Z",
        Command::Complete {
            id: one,
            spent: money("800"),
            report: Report::parse("Uitgevoerd.").unwrap(),
        },
    )
    .await;
    submit_at(app, "2025-12-31T23:30:00Z", SONSBEEK, Theme::Groen, "100").await;
}

async fn trends(app: &TestApp, variables: Value) -> Value {
    app.data(TRENDS, variables, None).await["trends"].clone()
}

/// A month as `[submitted, funded, completed, rejected, referred, withdrawn]` and
/// `[allocated, committed, spent, remainingAtEnd]`.
fn month(trends: &Value, m: usize) -> (Vec<i64>, Vec<String>) {
    let t = &trends["months"][m - 1];
    assert_eq!(t["month"], m, "{trends}");
    (
        [
            "submitted",
            "funded",
            "completed",
            "rejected",
            "referred",
            "withdrawn",
        ]
        .iter()
        .map(|k| t[*k].as_i64().unwrap())
        .collect(),
        ["allocated", "committed", "spent", "remainingAtEnd"]
            .iter()
            .map(|k| t[*k].as_str().unwrap().to_owned())
            .collect(),
    )
}

fn amounts(list: [&str; 4]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn close(value: &Value, expected: f64) {
    let actual = value
        .as_f64()
        .unwrap_or_else(|| panic!("a number, not {value}"));
    assert!(
        (actual - expected).abs() < 1e-6,
        "{actual} is not {expected}"
    );
}

/// The months hold exactly the story's events, in Arnhem's months; they add up to the status
/// counts; December's remaining is the year's budget remaining; the lead times are the
/// hand-computed ones (median and p90 by linear interpolation).
async fn months_and_lead_times_are_the_hand_computed_ones(app: TestApp) {
    story(&app).await;
    let city = trends(&app, json!({ "year": STORY })).await;
    assert_eq!(city["year"], STORY);
    assert_eq!(city["months"].as_array().unwrap().len(), 12);
    let expected = [
        ([2, 0, 0, 0, 0, 0], ["5000.00", "0.00", "0.00", "15000.00"]),
        ([1, 1, 0, 0, 1, 0], ["0.00", "1000.00", "0.00", "14000.00"]),
        ([1, 1, 0, 1, 0, 0], ["0.00", "200.00", "0.00", "13800.00"]),
        ([0, 0, 0, 0, 0, 1], ["0.00", "-200.00", "0.00", "14000.00"]),
        ([0, 0, 0, 0, 0, 0], ["0.00", "0.00", "0.00", "14000.00"]),
        (
            [0, 0, 1, 0, 0, 0],
            ["0.00", "-200.00", "800.00", "14200.00"],
        ),
    ];
    for m in 1..=12 {
        let (counts, money) = expected
            .get(m - 1)
            .copied()
            .unwrap_or(([0; 6], ["0.00", "0.00", "0.00", "14200.00"]));
        assert_eq!(
            month(&city, m),
            (counts.to_vec(), amounts(money)),
            "month {m}"
        );
    }
    let overview = app
        .data(
            "query($year: Int) { cityOverview(year: $year) { totals { remaining } } }",
            json!({ "year": STORY }),
            None,
        )
        .await;
    assert_eq!(overview["cityOverview"]["totals"]["remaining"], "14200.00");

    // Every initiative is counted once as submitted, in 2025 or (#5) in January 2026; each
    // ending status once in the month it was reached.
    let next = trends(&app, json!({ "year": STORY + 1 })).await;
    assert_eq!(month(&next, 1).0, vec![1, 0, 0, 0, 0, 0]);
    // `cityOverview(year:)` counts the initiatives submitted in that year; the months of both
    // years add up to all of them, so compare with the gebieden's all-time counts.
    let gebieden = app
        .data(
            "{ gebieden { initiativeCounts { submitted connected funded completed rejected withdrawn referred } } }",
            json!({}),
            None,
        )
        .await;
    let mut all_time = serde_json::Map::new();
    for gebied in gebieden["gebieden"].as_array().unwrap() {
        for (key, n) in gebied["initiativeCounts"].as_object().unwrap() {
            let before = all_time.get(key).and_then(|v| v.as_i64()).unwrap_or(0);
            all_time.insert(key.clone(), json!(before + n.as_i64().unwrap()));
        }
    }
    let counts = serde_json::Value::Object(all_time);
    let sum = |key: &str| -> i64 {
        [&city, &next]
            .iter()
            .flat_map(|t| t["months"].as_array().unwrap())
            .map(|m| m[key].as_i64().unwrap())
            .sum()
    };
    let all: i64 = STATUS_FIELDS
        .iter()
        .map(|k| counts[*k].as_i64().unwrap())
        .sum();
    assert_eq!(sum("submitted"), all);
    for key in ["completed", "rejected", "withdrawn", "referred"] {
        assert_eq!(sum(key), counts[key].as_i64().unwrap(), "{key}");
    }

    let lead = &city["leadTimes"];
    // First answers: 2, 4, 10, 70 days: median 7, p90 at rank 2.7: 10 + 0.7 × 60 = 52.
    assert_eq!(lead["toFirstAnswer"]["count"], 4);
    close(&lead["toFirstAnswer"]["medianDays"], 7.0);
    close(&lead["toFirstAnswer"]["p90Days"], 52.0);
    // Funded: 2 and 31 days: median 16.5, p90 2 + 0.9 × 29 = 28.1.
    assert_eq!(lead["toFunded"]["count"], 2);
    close(&lead["toFunded"]["medianDays"], 16.5);
    close(&lead["toFunded"]["p90Days"], 28.1);
    // Completed: 5 Feb 10:00 to 31 May 22:30 UTC.
    assert_eq!(lead["toCompleted"]["count"], 1);
    close(&lead["toCompleted"]["medianDays"], 115.0 + 12.5 / 24.0);
    close(&lead["toCompleted"]["p90Days"], 115.0 + 12.5 / 24.0);
    // Nothing ended in 2026: counts 0, no median or p90.
    assert_eq!(
        next["leadTimes"]["toFunded"],
        json!({ "count": 0, "medianDays": null, "p90Days": null })
    );
}

async fn wijk_gebied_and_theme_filter_the_trends(app: TestApp) {
    story(&app).await;
    let centrum = trends(&app, json!({ "year": STORY, "wijk": CENTRUM })).await;
    assert_eq!(
        month(&centrum, 2),
        (
            vec![1, 0, 0, 0, 1, 0],
            amounts(["0.00", "0.00", "0.00", "0.00"])
        )
    );
    assert_eq!(centrum["leadTimes"]["toFirstAnswer"]["count"], 1);
    close(&centrum["leadTimes"]["toFirstAnswer"]["medianDays"], 10.0);

    let noordwest = trends(&app, json!({ "year": STORY, "gebied": "W2" })).await;
    assert_eq!(
        month(&noordwest, 2),
        (
            vec![0, 1, 0, 0, 0, 0],
            amounts(["0.00", "1000.00", "0.00", "14000.00"])
        )
    );
    assert_eq!(noordwest["leadTimes"]["toFirstAnswer"]["count"], 3);
    // A wijk with its own gebied is the wijk.
    let both = trends(
        &app,
        json!({ "year": STORY, "wijk": KLARENDAL, "gebied": "W2" }),
    )
    .await;
    let klarendal = trends(&app, json!({ "year": STORY, "wijk": KLARENDAL })).await;
    assert_eq!(both, klarendal);
    assert_eq!(month(&klarendal, 1).0, vec![2, 0, 0, 0, 0, 0]);

    let sport = trends(&app, json!({ "year": STORY, "theme": "SPORT" })).await;
    assert_eq!(
        month(&sport, 1),
        (vec![0; 6], amounts(["5000.00", "0.00", "0.00", "5000.00"]))
    );
    assert_eq!(
        month(&sport, 2),
        (
            vec![1, 0, 0, 0, 1, 0],
            amounts(["0.00", "0.00", "0.00", "5000.00"])
        )
    );
    let groen = trends(
        &app,
        json!({ "year": STORY, "wijk": KLARENDAL, "theme": "GROEN" }),
    )
    .await;
    assert_eq!(
        month(&groen, 12),
        (vec![0; 6], amounts(["0.00", "0.00", "0.00", "9200.00"]))
    );
    assert_eq!(groen["leadTimes"]["toFunded"]["count"], 2);
}

async fn bad_arguments_are_refused_and_unknown_places_are_zero(app: TestApp) {
    story(&app).await;
    for (variables, says) in [
        (json!({ "year": 1999 }), "1999"),
        (json!({ "year": 2101 }), "2101"),
        (json!({ "year": STORY, "wijk": "XX" }), "CBS wijk code"),
        (json!({ "year": STORY, "gebied": "Noord" }), "Noord"),
        (
            json!({ "year": STORY, "wijk": KLARENDAL, "gebied": "W1" }),
            "not in gebied W1",
        ),
    ] {
        let message = app
            .refused("BAD_USER_INPUT", TRENDS, variables.clone(), None)
            .await;
        assert!(message.contains(says), "{variables}: {message}");
    }
    // A well-formed code that names nothing: nothing happened there.
    for variables in [
        json!({ "year": STORY, "wijk": "WK999999" }),
        json!({ "year": STORY, "gebied": "W99" }),
    ] {
        let unknown = trends(&app, variables).await;
        for m in unknown["months"].as_array().unwrap() {
            assert_eq!(m["submitted"], 0);
            assert_eq!(m["remainingAtEnd"], "0.00");
        }
        assert_eq!(unknown["leadTimes"]["toFirstAnswer"]["count"], 0);
    }
}

/// `trendsUpdated` sends the trends at once, then the new ones after a mutation; an unknown
/// wijk is `NOT_FOUND`, a bad year `BAD_USER_INPUT`.
async fn a_subscription_gets_the_new_trends_after_a_mutation(app: TestApp) {
    let (year, month) = wijkpuls_domain::projection::local_month(Utc::now());
    let mut ws = app.ws(None).await;
    let id = ws
        .subscribe(
            "subscription($year: Int!, $wijk: ID) { trendsUpdated(year: $year, wijk: $wijk) {
                year months { month submitted } } }",
            json!({ "year": year, "wijk": KLARENDAL }),
        )
        .await;
    let submitted =
        |data: &Value| data["trendsUpdated"]["months"][month as usize - 1]["submitted"].as_i64();
    let first = ws.data(&id).await;
    assert_eq!(first["trendsUpdated"]["year"], year);
    assert_eq!(submitted(&first), Some(0));
    // A submission elsewhere does not change Klarendal's trends; one in Klarendal does.
    app.submit(CENTRUM, "GROEN", "100").await;
    app.submit(KLARENDAL, "GROEN", "100").await;
    let next = ws.data_until(&id, |d| submitted(d) == Some(1)).await;
    assert_eq!(submitted(&next), Some(1));

    for (query, code) in [
        (
            "subscription { trendsUpdated(year: 2026, wijk: \"WK999999\") { year } }",
            "NOT_FOUND",
        ),
        (
            "subscription { trendsUpdated(year: 2026, gebied: \"W99\") { year } }",
            "NOT_FOUND",
        ),
        (
            "subscription { trendsUpdated(year: 1999) { year } }",
            "BAD_USER_INPUT",
        ),
    ] {
        let sub = ws.subscribe(query, json!({})).await;
        match ws.next(&sub).await {
            Next::Errors(errors) => assert_eq!(errors[0].code.as_deref(), Some(code), "{query}"),
            other => panic!("expected {code} for {query}, got {other:?}"),
        }
    }
}
