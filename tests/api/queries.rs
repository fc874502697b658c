//! The queries: Arnhem's reference data, a wijk's page ("Mijn wijk"), budgets that add up to
//! the cent, the initiatives list (Relay pagination and filters), the city overview and the
//! event log.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;

app_tests!(
    wijken_are_the_24_of_arnhem_ordered_by_code,
    gebieden_are_the_8_wijkprogrammas,
    wijk_shows_its_gebied_team_budget_and_counts,
    money_is_exact_and_lines_add_up_to_totals,
    initiatives_paginate_newest_first,
    initiatives_filter_by_wijk_gebied_status_theme_and_text,
    city_overview_adds_up_the_wijken,
    events_page_through_the_log_in_order,
);

/// The table of docs/domain.md: (gebied, gebied name, wijk code, wijk name).
const ARNHEM: &[(&str, &str, &str, &str)] = &[
    (
        "W1",
        "Centrum-Spijkerkwartier-Arnhemse Broek",
        "WK020201",
        "Centrum",
    ),
    (
        "W1",
        "Centrum-Spijkerkwartier-Arnhemse Broek",
        "WK020202",
        "Spijkerkwartier",
    ),
    (
        "W1",
        "Centrum-Spijkerkwartier-Arnhemse Broek",
        "WK020203",
        "Arnhemse Broek",
    ),
    ("W4", "Presikhaaf", "WK020204", "Presikhaaf-West"),
    ("W4", "Presikhaaf", "WK020205", "Presikhaaf-Oost"),
    ("W2", "Noordwest", "WK020206", "St. Marten/Sonsbeek"),
    ("W2", "Noordwest", "WK020207", "Klarendal"),
    ("W3", "Noordoost", "WK020208", "Velperweg e.o."),
    ("W3", "Noordoost", "WK020209", "Alteveer/Cranevelt"),
    ("W3", "Noordoost", "WK020210", "Geitenkamp"),
    ("W3", "Noordoost", "WK020211", "Monnikenhuizen"),
    ("W2", "Noordwest", "WK020212", "Burgemeesterswijk/Hoogkamp"),
    ("W2", "Noordwest", "WK020213", "Schaarsbergen"),
    ("W2", "Noordwest", "WK020214", "Heijenoord/Lombok"),
    ("W2", "Noordwest", "WK020215", "Klingelbeek e.o."),
    ("W5", "Malburgen", "WK020216", "Malburgen-West"),
    ("W5", "Malburgen", "WK020217", "Malburgen-Oost (Noord)"),
    ("W5", "Malburgen", "WK020218", "Malburgen-Oost (Zuid)"),
    (
        "W8",
        "Rijkerswoerd-Kronenburg-Vredenburg",
        "WK020219",
        "Vredenburg/Kronenburg",
    ),
    ("W7", "Elden-De Laar", "WK020220", "Elden"),
    ("W6", "Schuytgraaf-Elderveld", "WK020221", "Elderveld"),
    ("W7", "Elden-De Laar", "WK020222", "De Laar"),
    (
        "W8",
        "Rijkerswoerd-Kronenburg-Vredenburg",
        "WK020223",
        "Rijkerswoerd",
    ),
    ("W6", "Schuytgraaf-Elderveld", "WK020224", "Schuytgraaf"),
];

const THEMES: [&str; 8] = [
    "GROEN",
    "WIJKONDERHOUD",
    "SPEELTUINEN",
    "VEILIGHEID",
    "WELZIJN",
    "PARTICIPATIE",
    "SPORT",
    "CULTUUR",
];

async fn wijken_are_the_24_of_arnhem_ordered_by_code(app: TestApp) {
    let data = app
        .data(
            "{ wijken { code name gebied { code name } } }",
            json!({}),
            None,
        )
        .await;
    let wijken = data["wijken"].as_array().unwrap();
    let expected: Vec<Value> = ARNHEM
        .iter()
        .map(|(gebied, gebied_name, code, name)| {
            json!({ "code": code, "name": name, "gebied": { "code": gebied, "name": gebied_name } })
        })
        .collect();
    assert_eq!(wijken.len(), 24);
    assert_eq!(wijken, &expected);
}

async fn gebieden_are_the_8_wijkprogrammas(app: TestApp) {
    let data = app
        .data(
            "{ gebieden { code name team { email phone } wijken { code } } }",
            json!({}),
            None,
        )
        .await;
    let gebieden = data["gebieden"].as_array().unwrap();
    assert_eq!(gebieden.len(), 8);
    for (i, gebied) in gebieden.iter().enumerate() {
        let code = format!("W{}", i + 1);
        assert_eq!(gebied["code"], code);
        let mut wijken: Vec<&str> = ARNHEM
            .iter()
            .filter(|(g, ..)| *g == code)
            .map(|(_, _, w, _)| *w)
            .collect();
        wijken.sort();
        let listed: Vec<&str> = gebied["wijken"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap())
            .collect();
        assert_eq!(listed, wijken, "wijken of {code}, ordered by code");
        let name = ARNHEM.iter().find(|(g, ..)| *g == code).unwrap().1;
        assert_eq!(gebied["name"], name);
        assert_eq!(
            gebied["team"]["email"],
            format!("leefomgeving.w{}@arnhem.nl", i + 1)
        );
        assert_eq!(gebied["team"]["phone"], "14 026");
    }
}

async fn wijk_shows_its_gebied_team_budget_and_counts(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "5000").await;
    app.allocate(KLARENDAL, "CULTUUR", "2500.50").await;
    let funded = app.submit(KLARENDAL, "GROEN", "1000").await;
    app.fund(&funded.id, "1000").await;
    let rejected = app.submit(KLARENDAL, "CULTUUR", "10").await;
    app.reject(&rejected.id).await;
    app.submit(KLARENDAL, "SPORT", "10").await;
    app.submit(SONSBEEK, "SPORT", "10").await;

    let data = app
        .data(
            &format!(
                "query($c: ID!, $y: Int) {{ wijk(code: $c) {{ code name gebied {{ code name team {{ email phone }} }}
                  budget(year: $y) {{ {BUDGET_FIELDS} }}
                  initiativeCounts {{ submitted connected funded completed rejected withdrawn referred total }}
                  initiatives(first: 10) {{ totalCount }} }} }}"
            ),
            json!({ "c": "wk020207", "y": YEAR }),
            None,
        )
        .await;
    let wijk = &data["wijk"];
    assert_eq!(
        wijk["code"], KLARENDAL,
        "codes are case-insensitive on input, canonical on output"
    );
    assert_eq!(wijk["name"], "Klarendal");
    assert_eq!(
        wijk["gebied"],
        json!({ "code": "W2", "name": "Noordwest", "team": { "email": "leefomgeving.w2@arnhem.nl", "phone": "14 026" } })
    );
    let budget = &wijk["budget"];
    assert_eq!(budget["year"], YEAR);
    assert_eq!(budget["allocated"], "7500.50");
    assert_eq!(budget["committed"], "1000.00");
    assert_eq!(budget["spent"], "0.00");
    assert_eq!(budget["remaining"], "6500.50");
    let themes: Vec<&str> = budget["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["theme"].as_str().unwrap())
        .collect();
    assert_eq!(themes, THEMES, "all eight lines, in the themes' order");
    assert_eq!(
        wijk["initiativeCounts"],
        json!({ "submitted": 1, "connected": 0, "funded": 1, "completed": 0, "rejected": 1, "withdrawn": 0, "referred": 0, "total": 3 })
    );
    assert_eq!(wijk["initiatives"]["totalCount"], 3);

    // Another year's budget is empty, with all lines.
    let other = app
        .data(
            "query($y: Int) { wijk(code: \"WK020207\") { budget(year: $y) { allocated remaining lines { theme } } } }",
            json!({ "y": YEAR + 1 }),
            None,
        )
        .await;
    assert_eq!(other["wijk"]["budget"]["allocated"], "0.00");
    assert_eq!(
        other["wijk"]["budget"]["lines"].as_array().unwrap().len(),
        8
    );
}

/// Amounts travel as strings with two decimals, are exact to the cent however they are
/// written, and every total is the exact sum of its parts.
async fn money_is_exact_and_lines_add_up_to_totals(app: TestApp) {
    let allocations = [
        ("GROEN", "0.01", "0.01"),
        ("WIJKONDERHOUD", "1250", "1250.00"),
        ("SPEELTUINEN", "1250.5", "1250.50"),
        ("VEILIGHEID", "999999.99", "999999.99"),
        ("WELZIJN", " 10.10 ", "10.10"),
        ("SPORT", "0.10", "0.10"),
    ];
    for (theme, written, shown) in allocations {
        let budget = app.allocate(KLARENDAL, theme, written).await;
        assert_eq!(
            line_of(&budget, theme)["allocated"],
            shown,
            "{theme} {written:?}"
        );
    }
    // 0.1 + 0.2 is 0.30 here, not 0.30000000000000004.
    let a = app.submit(KLARENDAL, "SPORT", "0.10").await;
    app.fund(&a.id, "0.07").await;
    let b = app.submit(KLARENDAL, "SPEELTUINEN", "0.2").await;
    app.fund(&b.id, "0.20").await;
    app.data(
        COMPLETE,
        json!({ "input": { "initiativeId": b.id, "spentAmount": "0.15" } }),
        Some(&app.admin_token),
    )
    .await;
    let submitted = app.initiative(&b.id, None).await;
    assert_eq!(submitted["requestedAmount"], "0.20");
    assert_eq!(submitted["spentAmount"], "0.15");

    app.allocate(SONSBEEK, "GROEN", "333.33").await;
    app.allocate(CENTRUM, "CULTUUR", "0.99").await;

    let budget = app.budget(KLARENDAL).await;
    assert_adds_up(&budget);
    assert_eq!(budget["allocated"], "1002510.70");
    assert_eq!(budget["committed"], "0.07");
    assert_eq!(budget["spent"], "0.15");
    assert_eq!(budget["remaining"], "1002510.48");
    assert_eq!(
        line_of(&budget, "SPORT"),
        json!({ "theme": "SPORT", "allocated": "0.10", "committed": "0.07", "spent": "0.00", "remaining": "0.03" })
    );
    assert_eq!(
        line_of(&budget, "SPEELTUINEN"),
        json!({ "theme": "SPEELTUINEN", "allocated": "1250.50", "committed": "0.00", "spent": "0.15", "remaining": "1250.35" })
    );

    // Line → wijk → gebied → city.
    let data = app
        .data(
            &format!(
                "query($y: Int) {{ gebied(code: \"W2\") {{ budget(year: $y) {{ {BUDGET_FIELDS} }} wijken {{ code budget(year: $y) {{ {BUDGET_FIELDS} }} }} }}
                   cityOverview(year: $y) {{ totals {{ {BUDGET_FIELDS} }} wijken {{ budget {{ {BUDGET_FIELDS} }} }} }} }}"
            ),
            json!({ "y": YEAR }),
            None,
        )
        .await;
    let gebied = &data["gebied"];
    assert_adds_up(&gebied["budget"]);
    assert_sum(
        &gebied["budget"],
        gebied["wijken"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| &w["budget"]),
    );
    assert_eq!(gebied["budget"]["allocated"], "1002844.03");
    let city = &data["cityOverview"];
    assert_adds_up(&city["totals"]);
    assert_sum(
        &city["totals"],
        city["wijken"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| &w["budget"]),
    );
    assert_eq!(city["totals"]["allocated"], "1002845.02");
    assert_eq!(city["totals"]["remaining"], "1002844.80");
}

/// A budget's totals are the sums of its lines, and remaining = allocated − committed − spent.
fn assert_adds_up(budget: &Value) {
    let lines = budget["lines"].as_array().unwrap();
    for field in ["allocated", "committed", "spent", "remaining"] {
        let sum: i64 = lines.iter().map(|l| cents(&l[field])).sum();
        assert_eq!(sum, cents(&budget[field]), "{field} of {budget}");
    }
    for part in lines.iter().chain(std::iter::once(budget)) {
        assert_eq!(
            cents(&part["remaining"]),
            cents(&part["allocated"]) - cents(&part["committed"]) - cents(&part["spent"]),
            "{part}"
        );
    }
}

/// `total` is the sum of `parts`, field by field and line by line.
fn assert_sum<'a>(total: &Value, parts: impl Iterator<Item = &'a Value> + Clone) {
    for field in ["allocated", "committed", "spent", "remaining"] {
        let sum: i64 = parts.clone().map(|p| cents(&p[field])).sum();
        assert_eq!(sum, cents(&total[field]), "{field}");
        for theme in THEMES {
            let sum: i64 = parts
                .clone()
                .map(|p| cents(&line_of(p, theme)[field]))
                .sum();
            assert_eq!(sum, cents(&line_of(total, theme)[field]), "{theme} {field}");
        }
    }
}

async fn initiatives_paginate_newest_first(app: TestApp) {
    let mut submitted = Vec::new();
    for i in 0..7 {
        let wijk = if i % 2 == 0 { KLARENDAL } else { CENTRUM };
        submitted.push(app.submit(wijk, "GROEN", "10").await.id);
    }
    let newest_first: Vec<String> = submitted.iter().rev().cloned().collect();
    let query = "query($first: Int, $after: String) { initiatives(first: $first, after: $after) {
        totalCount edges { cursor node { id } } nodes { id }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let data = app
            .data(query, json!({ "first": 3, "after": after }), None)
            .await;
        let page = &data["initiatives"];
        pages += 1;
        assert_eq!(page["totalCount"], 7, "the count covers all pages");
        let edges = page["edges"].as_array().unwrap();
        let ids: Vec<String> = edges
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        let nodes: Vec<String> = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, nodes);
        let info = &page["pageInfo"];
        assert_eq!(info["hasPreviousPage"], pages > 1);
        assert_eq!(info["startCursor"], edges[0]["cursor"]);
        assert_eq!(info["endCursor"], edges.last().unwrap()["cursor"]);
        seen.extend(ids);
        if info["hasNextPage"] == false {
            break;
        }
        assert!(pages < 5, "pagination does not end");
        after = info["endCursor"].clone();
    }
    assert_eq!(pages, 3, "7 in pages of 3");
    assert_eq!(seen, newest_first, "every initiative once, newest first");

    // first: 0 answers the count only; an empty list has no cursors.
    let data = app
        .data(query, json!({ "first": 0, "after": null }), None)
        .await;
    assert_eq!(data["initiatives"]["totalCount"], 7);
    assert_eq!(data["initiatives"]["edges"], json!([]));
    assert_eq!(data["initiatives"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(data["initiatives"]["pageInfo"]["endCursor"], json!(null));
    // The default page holds all seven.
    let data = app
        .data(
            "{ initiatives { totalCount pageInfo { hasNextPage } nodes { id } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(data["initiatives"]["nodes"].as_array().unwrap().len(), 7);
    assert_eq!(data["initiatives"]["pageInfo"]["hasNextPage"], false);
}

async fn initiatives_filter_by_wijk_gebied_status_theme_and_text(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    let moestuin = app
        .submit_with(
            json!({ "wijkCode": KLARENDAL, "title": "Moestuin Klarendal", "description": "Groente en Kruiden",
                    "theme": "GROEN", "requestedAmount": "100",
                    "initiator": { "name": "A", "email": "a@example.nl" } }),
            None,
        )
        .await;
    app.fund(&moestuin.id, "100").await;
    let bankjes = app
        .submit_with(
            json!({ "wijkCode": SONSBEEK, "title": "Bankjes in het park", "description": "Rusten bij de vijver",
                    "theme": "WIJKONDERHOUD", "requestedAmount": "100",
                    "initiator": { "name": "B", "email": "b@example.nl" } }),
            None,
        )
        .await;
    let kruidentuin = app
        .submit_with(
            json!({ "wijkCode": CENTRUM, "title": "Kruidentuin op het dak", "description": "",
                    "theme": "GROEN", "requestedAmount": "100",
                    "initiator": { "name": "C", "email": "c@example.nl" } }),
            None,
        )
        .await;
    app.reject(&kruidentuin.id).await;
    let speeltuin = app
        .submit_with(
            json!({ "wijkCode": PRESIKHAAF_WEST, "title": "Speeltuin opknappen", "description": "Nieuwe schommels",
                    "theme": "SPEELTUINEN", "requestedAmount": "100",
                    "initiator": { "name": "D", "email": "d@example.nl" } }),
            None,
        )
        .await;

    let (moestuin, bankjes, kruidentuin, speeltuin) = (
        moestuin.id.as_str(),
        bankjes.id.as_str(),
        kruidentuin.id.as_str(),
        speeltuin.id.as_str(),
    );
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec![speeltuin, kruidentuin, bankjes, moestuin]),
        (json!({ "wijk": KLARENDAL }), vec![moestuin]),
        (json!({ "gebied": "W2" }), vec![bankjes, moestuin]),
        (json!({ "status": ["FUNDED"] }), vec![moestuin]),
        (
            json!({ "status": ["REJECTED", "SUBMITTED"] }),
            vec![speeltuin, kruidentuin, bankjes],
        ),
        (json!({ "theme": "GROEN" }), vec![kruidentuin, moestuin]),
        // Case-insensitive, in title or description, all words.
        (json!({ "text": "kruiden" }), vec![kruidentuin, moestuin]),
        (json!({ "text": "KRUIDEN groente" }), vec![moestuin]),
        (json!({ "text": "vijver" }), vec![bankjes]),
        (json!({ "text": "nergens" }), vec![]),
        // All conditions together.
        (
            json!({ "gebied": "W2", "theme": "GROEN", "status": ["FUNDED"], "text": "moestuin" }),
            vec![moestuin],
        ),
        (json!({ "gebied": "W1", "status": ["FUNDED"] }), vec![]),
    ];
    for (filter, expected) in cases {
        let data = app
            .data(
                "query($f: InitiativeFilter) { initiatives(first: 100, filter: $f) { totalCount nodes { id } } }",
                json!({ "f": filter }),
                None,
            )
            .await;
        let ids: Vec<&str> = data["initiatives"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "filter {filter}");
        assert_eq!(
            data["initiatives"]["totalCount"],
            expected.len(),
            "filter {filter}"
        );
    }

    // A wijk's own list, by status.
    let data = app
        .data(
            "{ wijk(code: \"WK020207\") { initiatives(status: [FUNDED]) { totalCount nodes { id } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        data["wijk"]["initiatives"]["nodes"],
        json!([{ "id": moestuin }])
    );
}

async fn city_overview_adds_up_the_wijken(app: TestApp) {
    app.allocate(KLARENDAL, "GROEN", "1000").await;
    app.allocate(CENTRUM, "SPORT", "2000").await;
    app.allocate(PRESIKHAAF_WEST, "CULTUUR", "3000.33").await;
    let a = app.submit(KLARENDAL, "GROEN", "500").await;
    app.fund(&a.id, "500").await;
    let b = app.submit(CENTRUM, "SPORT", "500").await;
    app.reject(&b.id).await;
    app.submit(PRESIKHAAF_WEST, "CULTUUR", "5").await;

    let data = app
        .data(
            &format!(
                "query($y: Int) {{ cityOverview(year: $y) {{ year position asOf
                    totals {{ {BUDGET_FIELDS} }}
                    initiativeCounts {{ submitted funded rejected total }}
                    gebieden {{ code budget {{ allocated }} }}
                    wijken {{ code budget {{ {BUDGET_FIELDS} }} initiativeCounts {{ total }} }}
                    recentEvents(limit: 3) {{ type }} }} }}"
            ),
            json!({ "y": YEAR }),
            None,
        )
        .await;
    let city = &data["cityOverview"];
    assert_eq!(city["year"], YEAR);
    assert_eq!(
        city["totals"],
        json!({
            "year": YEAR, "allocated": "6000.33", "committed": "500.00", "spent": "0.00", "remaining": "5500.33",
            "lines": THEMES.iter().map(|t| match *t {
                "GROEN" => json!({ "theme": "GROEN", "allocated": "1000.00", "committed": "500.00", "spent": "0.00", "remaining": "500.00" }),
                "SPORT" => json!({ "theme": "SPORT", "allocated": "2000.00", "committed": "0.00", "spent": "0.00", "remaining": "2000.00" }),
                "CULTUUR" => json!({ "theme": "CULTUUR", "allocated": "3000.33", "committed": "0.00", "spent": "0.00", "remaining": "3000.33" }),
                other => json!({ "theme": other, "allocated": "0.00", "committed": "0.00", "spent": "0.00", "remaining": "0.00" }),
            }).collect::<Vec<_>>(),
        })
    );
    assert_eq!(
        city["initiativeCounts"],
        json!({ "submitted": 1, "funded": 1, "rejected": 1, "total": 3 })
    );
    let wijken = city["wijken"].as_array().unwrap();
    assert_eq!(wijken.len(), 24);
    let codes: Vec<&str> = wijken.iter().map(|w| w["code"].as_str().unwrap()).collect();
    let expected: Vec<&str> = ARNHEM.iter().map(|(_, _, c, _)| *c).collect();
    assert_eq!(codes, expected);
    assert_sum(&city["totals"], wijken.iter().map(|w| &w["budget"]));
    let counted: u64 = wijken
        .iter()
        .map(|w| w["initiativeCounts"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3);
    let gebied_total: i64 = city["gebieden"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| cents(&g["budget"]["allocated"]))
        .sum();
    assert_eq!(gebied_total, 600_033);
    assert_eq!(city["gebieden"].as_array().unwrap().len(), 8);

    let (_, head) = app.head().await;
    assert_eq!(
        position(&city["position"]),
        head,
        "the overview includes every event"
    );
    assert!(city["asOf"].is_string());
    let recent: Vec<&str> = city["recentEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        recent,
        [
            "InitiativeSubmitted",
            "InitiativeRejected",
            "InitiativeSubmitted"
        ],
        "newest first"
    );
}

async fn events_page_through_the_log_in_order(app: TestApp) {
    let initiative = app.submit(KLARENDAL, "GROEN", "10").await;
    app.reject(&initiative.id).await;
    let all = app.events().await;
    let positions: Vec<u64> = all.iter().map(|e| position(&e["position"])).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {positions:?}"
    );
    let distinct: BTreeSet<u64> = positions.iter().copied().collect();
    assert_eq!(distinct.len(), positions.len());
    // Reference data first; the register events are the system's.
    assert_eq!(all[0]["type"], "MunicipalityRegistered");
    assert_eq!(all[0]["actor"], "system");
    assert_eq!(
        all.iter().filter(|e| e["type"] == "WijkRegistered").count(),
        24
    );
    assert_eq!(
        all.iter()
            .filter(|e| e["type"] == "GebiedRegistered")
            .count(),
        8
    );
    let tail: Vec<&str> = all[all.len() - 2..]
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(tail, ["InitiativeSubmitted", "InitiativeRejected"]);

    // after + first: a window of the same log.
    let after = &all[4]["position"];
    let data = app
        .data(
            "query($a: Position) { events(after: $a, first: 3) { position type } }",
            json!({ "a": after }),
            None,
        )
        .await;
    let window: Vec<u64> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| position(&e["position"]))
        .collect();
    assert_eq!(window, positions[5..8]);
    // After the last one: nothing yet.
    let data = app
        .data(
            "query($a: Position) { events(after: $a) { position } }",
            json!({ "a": all.last().unwrap()["position"] }),
            None,
        )
        .await;
    assert_eq!(data["events"], json!([]));
}
