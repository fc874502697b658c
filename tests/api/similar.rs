//! Similar initiatives (issue 13, item 4): a resident sees before submitting that neighbours
//! have the same idea (`similarInitiatives`, public), and staff see which initiatives are like
//! one they are handling (`Initiative.similar`), to connect the residents behind them.

use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    a_resident_sees_a_neighbour_with_the_same_idea_and_no_personal_data,
    the_wijk_filter_and_withdrawn_or_rejected_initiatives,
    staff_see_initiatives_like_one_the_public_may_not,
    first_and_the_text_are_bounded,
    a_new_initiative_is_found_as_soon_as_its_submission_returns,
);

const SIMILAR: &str = "query($title: String!, $description: String, $wijk: ID, $first: Int) {
    similarInitiatives(title: $title, description: $description, wijk: $wijk, first: $first) {
        score initiative { id title status wijk { code } initiator { name email phone } } } }";

const SIMILAR_TO: &str = "query($id: ID!, $first: Int) { initiative(id: $id) {
    similar(first: $first) { score initiative { id title } } } }";

/// Submits an initiative with this text as the public, with personal data to look out for.
async fn submit(app: &TestApp, wijk: &str, title: &str, description: &str) -> Submitted {
    app.submit_with(
        json!({
            "wijkCode": wijk,
            "title": title,
            "description": description,
            "theme": "SPEELTUINEN",
            "requestedAmount": "800",
            "initiator": { "name": "Fenna Verbeek", "email": "fenna@example.nl", "phone": "0612345678" },
        }),
        None,
    )
    .await
}

/// A few initiatives of different kinds, in Klarendal.
async fn neighbourhood(app: &TestApp) -> [Submitted; 3] {
    [
        submit(
            app,
            KLARENDAL,
            "Speelplek voor kinderen vernieuwen",
            "De toestellen op het pleintje zijn oud.",
        )
        .await,
        submit(
            app,
            KLARENDAL,
            "Defibrillator bij het buurthuis",
            "Een kast aan de gevel die altijd open is.",
        )
        .await,
        submit(
            app,
            KLARENDAL,
            "Regentonnen tegen wateroverlast",
            "Bij buien lopen de kelders onder.",
        )
        .await,
    ]
}

fn ids(answer: &Value) -> Vec<&str> {
    answer
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["initiative"]["id"].as_str().expect("an id"))
        .collect()
}

async fn similar(app: &TestApp, variables: Value, token: Option<&str>) -> Value {
    app.data(SIMILAR, variables, token).await["similarInitiatives"].clone()
}

/// The examples of the issue: the neighbour comes first, with a score, and the public sees no
/// personal data of it.
async fn a_resident_sees_a_neighbour_with_the_same_idea_and_no_personal_data(app: TestApp) {
    let [speelplek, defibrillator, _] = neighbourhood(&app).await;

    let answer = similar(&app, json!({ "title": "Speeltuin opknappen" }), None).await;
    assert_eq!(
        ids(&answer).first(),
        Some(&speelplek.id.as_str()),
        "{answer:#}"
    );
    let best = &answer[0];
    assert!(best["score"].as_f64().unwrap() > 0.0, "{best}");
    assert_eq!(
        best["initiative"]["title"],
        "Speelplek voor kinderen vernieuwen"
    );
    assert_eq!(best["initiative"]["initiator"], Value::Null);
    let scores: Vec<f64> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    let text = answer.to_string();
    for personal in ["Fenna", "fenna@example.nl", "0612345678"] {
        assert!(!text.contains(personal), "{personal} leaked: {text}");
    }

    let answer = similar(
        &app,
        json!({ "title": "AED in de wijk", "description": "Er hangt nergens een AED." }),
        None,
    )
    .await;
    assert_eq!(
        ids(&answer).first(),
        Some(&defibrillator.id.as_str()),
        "{answer:#}"
    );

    // Nothing in common: nothing offered.
    let answer = similar(
        &app,
        json!({ "title": "Zonnepanelen op de sporthal" }),
        None,
    )
    .await;
    assert_eq!(answer, json!([]));
}

/// `wijk` keeps to one wijk; withdrawn and rejected initiatives are not offered.
async fn the_wijk_filter_and_withdrawn_or_rejected_initiatives(app: TestApp) {
    let here = submit(
        &app,
        KLARENDAL,
        "Bankjes langs het wandelpad",
        "Nergens kun je uitrusten.",
    )
    .await;
    let there = submit(
        &app,
        CENTRUM,
        "Zitbank bij de bushalte",
        "Wachten is zwaar voor ouderen.",
    )
    .await;
    let query = json!({ "title": "Een bankje in het park" });
    let all = similar(&app, query.clone(), None).await;
    assert_eq!(ids(&all).len(), 2, "{all:#}");
    let mut wijken: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["initiative"]["wijk"]["code"].as_str().unwrap())
        .collect();
    wijken.sort();
    assert_eq!(wijken, [CENTRUM, KLARENDAL]);

    let mut in_centrum = query.clone();
    in_centrum["wijk"] = json!(CENTRUM);
    assert_eq!(
        ids(&similar(&app, in_centrum, None).await),
        [there.id.as_str()]
    );

    app.reject(&there.id).await;
    app.data(
        WITHDRAW,
        json!({ "input": { "initiativeId": here.id, "trackingCode": here.tracking_code } }),
        None,
    )
    .await;
    assert_eq!(similar(&app, query, None).await, json!([]));
}

/// Staff see which initiatives are like one, not the initiative itself and not those it is
/// connected with already; the public is refused.
async fn staff_see_initiatives_like_one_the_public_may_not(app: TestApp) {
    let [speelplek, _, _] = neighbourhood(&app).await;
    let speeltuin = submit(
        &app,
        SONSBEEK,
        "Speeltuin opknappen",
        "De glijbaan is kapot.",
    )
    .await;
    let staff = app.staff_token("W4"); // another gebied: neighbours may live across a border

    let similar_to = |id: &str| json!({ "id": id });
    let answer = app
        .data(SIMILAR_TO, similar_to(&speeltuin.id), Some(&staff))
        .await;
    let list = &answer["initiative"]["similar"];
    assert_eq!(ids(list).first(), Some(&speelplek.id.as_str()), "{list:#}");
    assert!(
        !ids(list).contains(&speeltuin.id.as_str()),
        "not itself: {list:#}"
    );

    app.refused(
        "UNAUTHENTICATED",
        SIMILAR_TO,
        similar_to(&speeltuin.id),
        None,
    )
    .await;

    app.data(
        CONNECT,
        json!({ "input": { "initiativeId": speeltuin.id, "targetInitiativeId": speelplek.id, "note": "samen" } }),
        Some(&app.staff_token("W2")),
    )
    .await;
    for (from, other) in [(&speeltuin, &speelplek), (&speelplek, &speeltuin)] {
        let answer = app
            .data(SIMILAR_TO, similar_to(&from.id), Some(&staff))
            .await;
        let list = &answer["initiative"]["similar"];
        assert!(
            !ids(list).contains(&other.id.as_str()),
            "connected already: {list:#}"
        );
    }
}

/// `first` is 1 to 20 on both fields, and the text is checked like a submission's.
async fn first_and_the_text_are_bounded(app: TestApp) {
    let [speelplek, ..] = neighbourhood(&app).await;
    let staff = app.staff_token("W2");
    for first in [0, 21, -1, 1000] {
        app.refused(
            "BAD_USER_INPUT",
            SIMILAR,
            json!({ "title": "Speeltuin opknappen", "first": first }),
            None,
        )
        .await;
        app.refused(
            "BAD_USER_INPUT",
            SIMILAR_TO,
            json!({ "id": speelplek.id, "first": first }),
            Some(&staff),
        )
        .await;
    }
    let answer = similar(
        &app,
        json!({ "title": "Speeltuin opknappen", "first": 20 }),
        None,
    )
    .await;
    assert!(!ids(&answer).is_empty());
    let answer = similar(
        &app,
        json!({ "title": "Speeltuin opknappen", "first": 1 }),
        None,
    )
    .await;
    assert_eq!(ids(&answer), [speelplek.id.as_str()]);

    for (title, description) in [
        ("ab".to_owned(), "".to_owned()),
        ("x".repeat(121), "".to_owned()),
        ("Speeltuin".to_owned(), "y".repeat(5001)),
    ] {
        app.refused(
            "BAD_USER_INPUT",
            SIMILAR,
            json!({ "title": title, "description": description }),
            None,
        )
        .await;
    }
    app.refused(
        "BAD_USER_INPUT",
        SIMILAR,
        json!({ "title": "Speeltuin opknappen", "wijk": "Klarendal" }),
        None,
    )
    .await;
}

/// Read-your-writes: the index is updated before a submission returns.
async fn a_new_initiative_is_found_as_soon_as_its_submission_returns(app: TestApp) {
    neighbourhood(&app).await;
    for n in 0..3 {
        let title = format!("Buurtmoestuin nummer {n} op het braakliggende veld");
        let new = submit(&app, KLARENDAL, &title, "Samen groente kweken.").await;
        let answer = similar(&app, json!({ "title": "Moestuin met groente" }), None).await;
        assert!(ids(&answer).contains(&new.id.as_str()), "{answer:#}");
    }
}
