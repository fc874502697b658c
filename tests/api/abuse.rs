//! Requests an attacker sends to make the service work hard: a fragment bomb, an alias flood, a
//! huge text filter. Each must be refused by the cheap checks that run before any real work,
//! with `BAD_USER_INPUT` and a message naming the limit, while `/healthz` and a small query go on
//! answering. How fast, exactly, is for `wijkpuls-bench abuse`; here only that it happens.

use serde_json::{json, Value};

use crate::helpers::{graphql_with, TestApp, KLARENDAL, PATIENCE};

app_tests!(
    a_fragment_bomb_is_refused_before_it_is_expanded,
    an_alias_flood_is_refused_before_it_runs,
    a_huge_text_filter_is_refused_before_it_is_searched,
    text_filters_are_capped_in_length_and_words,
    ordinary_large_queries_still_answer,
);

/// `fragment G1 on Wijk { ...G0 ...G0 }` and so on under `wijken`: `levels` doublings in about
/// 1 KB.
fn fragment_bomb(levels: usize) -> String {
    fragment_bomb_under("query { wijken", levels)
}

/// A fragment bomb of `levels` doublings spread inside `head` (an operation up to the field of
/// type `Wijk` whose selection it fills), e.g. `"subscription { wijkUpdated(code: \"…\")"`.
pub fn fragment_bomb_under(head: &str, levels: usize) -> String {
    let mut query = String::from("fragment G0 on Wijk { code name }\n");
    for level in 1..=levels {
        let below = level - 1;
        query.push_str(&format!(
            "fragment G{level} on Wijk {{ ...G{below} ...G{below} }}\n"
        ));
    }
    query.push_str(&format!("{head} {{ ...G{levels} }} }}"));
    query
}

/// `count` aliases of a page of 100 initiatives with their descriptions and histories.
fn alias_flood(count: usize) -> String {
    let mut query = String::from("query {");
    for alias in 0..count {
        query.push_str(&format!(
            " a{alias}: initiatives(first: 100) {{ nodes {{ description history {{ summary }} }} }}"
        ));
    }
    query.push('}');
    query
}

const SMALL_QUERY: &str = "{ wijk(code: \"WK020207\") { code name } }";

/// Sends `attack` (twice at once) together with `/healthz` and a small query, and returns the
/// attack's responses once the cheap requests have been answered correctly.
async fn under_attack(app: &TestApp, attack: &str, variables: Value) -> Vec<Value> {
    let attacker = reqwest::Client::new();
    let attacks = futures::future::join_all(
        (0..2).map(|_| graphql_with(&attacker, app.address, attack, variables.clone(), None)),
    );
    let cheap = async {
        let bystander = reqwest::Client::new();
        let health = tokio::time::timeout(PATIENCE, bystander.get(app.url("/healthz")).send())
            .await
            .expect("/healthz answers in time")
            .expect("/healthz answers");
        assert!(health.status().is_success(), "{health:?}");
        let small = graphql_with(&bystander, app.address, SMALL_QUERY, json!({}), None).await;
        assert_eq!(small["data"]["wijk"]["code"], KLARENDAL, "{small:#}");
    };
    let (responses, ()) = tokio::join!(attacks, cheap);
    responses
}

/// Asserts that `response` is a request error (nothing executed, no `data`) with
/// `BAD_USER_INPUT`, and returns its message.
fn refused_up_front(response: &Value) -> String {
    assert!(
        response.get("data").is_none(),
        "a refused request has no data: {response:#}"
    );
    let errors = response["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{response:#}");
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{response:#}"
    );
    errors[0]["message"].as_str().expect("a message").to_owned()
}

async fn a_fragment_bomb_is_refused_before_it_is_expanded(app: TestApp) {
    // 2^24 expansions of two fields: async-graphql's own complexity check took seconds for it.
    let query = fragment_bomb(24);
    assert!(
        query.len() < 1_500,
        "a small document: {} bytes",
        query.len()
    );
    for response in under_attack(&app, &query, json!({})).await {
        let message = refused_up_front(&response);
        assert!(
            message.contains("fields with its fragments expanded")
                && message.contains("limit of 2000"),
            "{message}"
        );
    }
    // A fragment that spreads itself is refused by the same check.
    let cycle = "fragment A on Wijk { code ...B } fragment B on Wijk { ...A } { wijken { ...A } }";
    let message = refused_up_front(&app.graphql(cycle, json!({}), None).await);
    assert!(message.contains("spreads itself"), "{message}");
}

async fn an_alias_flood_is_refused_before_it_runs(app: TestApp) {
    // 3,300 aliases fit in the 256 KB body limit; answered, each was 88 MB.
    let query = alias_flood(3_300);
    assert!(query.len() < 256 * 1024);
    for response in under_attack(&app, &query, json!({})).await {
        let message = refused_up_front(&response);
        assert!(message.contains("limit of 32768 bytes"), "{message}");
    }
    // Under the length limit, 300 aliases are refused before they run.
    let message = refused_up_front(&app.graphql(&alias_flood(300), json!({}), None).await);
    assert!(message.contains("300 top-level fields"), "{message}");
    // Forty aliases pass the field and alias caps but not the estimated result size
    // (40 × 100 initiatives × their histories).
    let message = refused_up_front(&app.graphql(&alias_flood(40), json!({}), None).await);
    assert!(
        message.contains("would return about") && message.contains("limit of 200000"),
        "{message}"
    );
    // Aliases and top-level fields are capped on their own.
    let many: String = (0..101)
        .map(|alias| format!(" a{alias}: wijk(code: \"{KLARENDAL}\") {{ code }}"))
        .collect();
    let message = refused_up_front(&app.graphql(&format!("{{{many} }}"), json!({}), None).await);
    assert!(message.contains("top-level fields"), "{message}");
}

async fn a_huge_text_filter_is_refused_before_it_is_searched(app: TestApp) {
    // 100,000 words in a variable, searched for by 40 aliases: 7 s a request before.
    let text = "a ".repeat(100_000);
    let aliases: String = (0..40)
        .map(|alias| format!(" a{alias}: initiatives(filter: {{ text: $t }}) {{ totalCount }}"))
        .collect();
    let query = format!("query($t: String) {{{aliases} }}");
    for response in under_attack(&app, &query, json!({ "t": text })).await {
        let errors = response["errors"].as_array().expect("errors");
        assert!(!errors.is_empty(), "{response:#}");
        for error in errors {
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error:#}");
            assert_eq!(
                error["message"], "filter.text must be at most 200 characters",
                "{error:#}"
            );
        }
        assert!(
            response["data"].is_null(),
            "nothing was listed: {response:#}"
        );
    }
}

async fn text_filters_are_capped_in_length_and_words(app: TestApp) {
    const LIST: &str = "query($t: String) { initiatives(filter: { text: $t }) { totalCount } }";
    let message = app
        .refused(
            "BAD_USER_INPUT",
            LIST,
            json!({ "t": "x".repeat(201) }),
            None,
        )
        .await;
    assert_eq!(message, "filter.text must be at most 200 characters");
    let message = app
        .refused(
            "BAD_USER_INPUT",
            LIST,
            json!({ "t": "a b c d e f g h i j k" }),
            None,
        )
        .await;
    assert_eq!(
        message,
        "filter.text must have at most 10 words (this one has 11)"
    );
    // At the limits it is a search like any other; in a wijk's list too.
    let data = app
        .data(LIST, json!({ "t": "a b c d e f g h i j" }), None)
        .await;
    assert_eq!(data["initiatives"]["totalCount"], 0);
    let data = app.data(LIST, json!({ "t": "é".repeat(200) }), None).await;
    assert_eq!(data["initiatives"]["totalCount"], 0);
}

async fn ordinary_large_queries_still_answer(app: TestApp) {
    app.submit(KLARENDAL, "GROEN", "100.00").await;
    // A full page with everything a screen shows, and the whole city's budgets.
    let page = format!(
        "{{ initiatives(first: 100) {{ totalCount nodes {{ {} }} }} }}",
        crate::helpers::INITIATIVE_FIELDS
    );
    let data = app.data(&page, json!({}), None).await;
    assert_eq!(data["initiatives"]["totalCount"], 1);
    let city = format!(
        "{{ wijken {{ code name budget(year: {}) {{ {} }} initiatives(first: 20) {{ totalCount }} }} }}",
        crate::helpers::YEAR,
        crate::helpers::BUDGET_FIELDS
    );
    let data = app.data(&city, json!({}), None).await;
    assert_eq!(data["wijken"].as_array().map(Vec::len), Some(24));
}
