//! The shipped Arnhem list matches the table of docs/domain.md, and an operator's file is read or
//! clearly refused.

use wijkpuls_domain::{Command, DomainError, ReferenceData};

use crate::support::Log;

/// (code, name) of a wijk.
type Wijk = (&'static str, &'static str);

/// A gebied: (code, name, wijken), as written in docs/domain.md or as read from the file.
type Gebied<S, W> = (S, S, Vec<W>);

/// The table of docs/domain.md ("The 24 wijken and 8 gebieden"), as (gebied code, gebied name,
/// [wijk code, wijk name]).
const DOMAIN_TABLE: &[(&str, &str, &[Wijk])] = &[
    (
        "W1",
        "Centrum-Spijkerkwartier-Arnhemse Broek",
        &[
            ("WK020201", "Centrum"),
            ("WK020202", "Spijkerkwartier"),
            ("WK020203", "Arnhemse Broek"),
        ],
    ),
    (
        "W2",
        "Noordwest",
        &[
            ("WK020206", "St. Marten/Sonsbeek"),
            ("WK020207", "Klarendal"),
            ("WK020212", "Burgemeesterswijk/Hoogkamp"),
            ("WK020213", "Schaarsbergen"),
            ("WK020214", "Heijenoord/Lombok"),
            ("WK020215", "Klingelbeek e.o."),
        ],
    ),
    (
        "W3",
        "Noordoost",
        &[
            ("WK020208", "Velperweg e.o."),
            ("WK020209", "Alteveer/Cranevelt"),
            ("WK020210", "Geitenkamp"),
            ("WK020211", "Monnikenhuizen"),
        ],
    ),
    (
        "W4",
        "Presikhaaf",
        &[
            ("WK020204", "Presikhaaf-West"),
            ("WK020205", "Presikhaaf-Oost"),
        ],
    ),
    (
        "W5",
        "Malburgen",
        &[
            ("WK020216", "Malburgen-West"),
            ("WK020217", "Malburgen-Oost (Noord)"),
            ("WK020218", "Malburgen-Oost (Zuid)"),
        ],
    ),
    (
        "W6",
        "Schuytgraaf-Elderveld",
        &[("WK020221", "Elderveld"), ("WK020224", "Schuytgraaf")],
    ),
    (
        "W7",
        "Elden-De Laar",
        &[("WK020220", "Elden"), ("WK020222", "De Laar")],
    ),
    (
        "W8",
        "Rijkerswoerd-Kronenburg-Vredenburg",
        &[
            ("WK020219", "Vredenburg/Kronenburg"),
            ("WK020223", "Rijkerswoerd"),
        ],
    ),
];

#[test]
fn arnhem_is_the_table_of_domain_md() {
    let arnhem = ReferenceData::arnhem();
    assert_eq!(arnhem.municipality.code.as_str(), "GM0202");
    assert_eq!(arnhem.municipality.name.as_str(), "Arnhem");
    let actual: Vec<Gebied<String, (String, String)>> = arnhem
        .gebieden
        .iter()
        .map(|g| {
            (
                g.code.to_string(),
                g.name.to_string(),
                g.wijken
                    .iter()
                    .map(|w| (w.code.to_string(), w.name.to_string()))
                    .collect(),
            )
        })
        .collect();
    let expected: Vec<Gebied<String, (String, String)>> = DOMAIN_TABLE
        .iter()
        .map(|(code, name, wijken)| {
            (
                code.to_string(),
                name.to_string(),
                wijken
                    .iter()
                    .map(|(c, n)| (c.to_string(), n.to_string()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(actual, expected);
    assert_eq!(arnhem.wijken().count(), 24);
    assert_eq!(arnhem.gebieden.len(), 8);
    for gebied in &arnhem.gebieden {
        let n = gebied.code.number();
        assert_eq!(
            gebied.team.email.as_str(),
            format!("leefomgeving.w{n}@arnhem.nl")
        );
        assert_eq!(gebied.team.phone.as_str(), "14 026");
    }
}

#[test]
fn arnhem_says_where_it_comes_from() {
    let provenance = ReferenceData::arnhem().provenance;
    for needle in [
        "GM0202",
        "22",
        "medium confidence",
        "WK020210",
        "Geitenkamp",
        "WK020220",
        "Elden",
        "Begroting 2019",
        "placeholders",
    ] {
        assert!(provenance.contains(needle), "provenance lacks {needle:?}");
    }
}

#[test]
fn a_written_list_reads_back_the_same() {
    let arnhem = ReferenceData::arnhem();
    let text = serde_json::to_string_pretty(&arnhem).unwrap();
    assert_eq!(ReferenceData::parse(&text).unwrap(), arnhem);
}

const OTHER_TOWN: &str = r#"{
  "format": "wijkpuls-wijken/1",
  "municipality": { "code": "GM0200", "name": "Apeldoorn" },
  "provenance": "Test list, made up for this test.",
  "gebieden": [
    { "code": "W1", "name": "Noord",
      "team": { "email": "noord@example.nl", "phone": "055 123 4567" },
      "wijken": [ { "code": "WK020001", "name": "Eén" }, { "code": "WK020002", "name": "Twee" } ] },
    { "code": "W10", "name": "Zuid",
      "team": { "email": "zuid@example.nl", "phone": "+31 55 123 4567" },
      "wijken": [ { "code": "WK020010", "name": "Tien" } ] }
  ]
}"#;

#[test]
fn an_operator_can_load_another_municipality() {
    let data = ReferenceData::parse(OTHER_TOWN).unwrap();
    let mut log = Log::empty();
    log.execute(Command::RegisterReferenceData(data));
    assert_eq!(log.state.municipality().unwrap().name.as_str(), "Apeldoorn");
    let gebieden: Vec<&str> = log.state.gebieden().map(|g| g.code.as_str()).collect();
    assert_eq!(gebieden, vec!["W1", "W10"]);
    assert_eq!(log.state.wijken().count(), 3);
}

fn refused(text: &str) -> String {
    match ReferenceData::parse(text) {
        Err(DomainError::InvalidReferenceData { reason }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_broken_file_is_refused_saying_where() {
    let cases: &[(&str, &str, &str)] = &[
        ("not json at all", "not json", "line 1"),
        ("{\"format\": \"wijkpuls-wijken/1\"}", "", "missing field"),
        (
            r#""format": "wijkpuls-wijken/1""#,
            r#""format": "wijkpuls-wijken/2""#,
            "this version reads \"wijkpuls-wijken/1\"",
        ),
        (
            r#""name": "Noord","#,
            r#""name": "Noord", "naam": "x","#,
            "unknown field `naam`",
        ),
        (r#""code": "GM0200""#, r#""code": "GM200""#, "municipality"),
        ("Test list, made up for this test.", "  ", "provenance"),
        (
            r#""code": "W10""#,
            r#""code": "W1""#,
            "gebied W1 is listed twice",
        ),
        (r#""code": "W10""#, r#""code": "Z10""#, "gebied 2 (\"Z10\")"),
        (
            "noord@example.nl",
            "noord-at-example",
            "gebied 1 (\"W1\"): invalid email",
        ),
        (
            "055 123 4567",
            "bel maar",
            "gebied 1 (\"W1\"): invalid phone",
        ),
        (
            r#""code": "WK020010""#,
            r#""code": "WK020001""#,
            "wijk 1 (\"WK020001\"): wijk WK020001 is listed twice",
        ),
        (
            r#""code": "WK020010""#,
            r#""code": "WK020210""#,
            "wijk WK020210 is not in municipality GM0200",
        ),
        (
            r#""code": "WK020002""#,
            r#""code": "WK2""#,
            "wijk 2 (\"WK2\")",
        ),
        (
            r#""name": "Twee""#,
            r#""name": """#,
            "wijk 2 (\"WK020002\"): invalid name",
        ),
        (
            r#"[ { "code": "WK020010", "name": "Tien" } ]"#,
            "[]",
            "gebied 2 (\"W10\"): has no wijken",
        ),
    ];
    for (from, to, expected) in cases {
        let text = if from.starts_with('{') || *from == "not json at all" {
            from.to_string()
        } else {
            assert!(OTHER_TOWN.contains(from), "case {from:?} does not apply");
            OTHER_TOWN.replacen(from, to, 1)
        };
        let reason = refused(&text);
        assert!(
            reason.contains(expected),
            "{from:?} → {to:?}: {reason:?} should mention {expected:?}"
        );
    }
    let no_gebieden = r#"{"format": "wijkpuls-wijken/1", "municipality": {"code": "GM0200", "name": "A"},
        "provenance": "x", "gebieden": []}"#;
    assert!(refused(no_gebieden).contains("\"gebieden\" is empty"));
    let err = ReferenceData::parse("[]").unwrap_err();
    assert!(err
        .to_string()
        .starts_with("the wijken file cannot be used: "));
}

#[test]
fn the_data_readme_documents_the_format() {
    let readme = include_str!("../../data/README.md");
    for needle in [
        "wijkpuls-wijken/1",
        "municipality",
        "provenance",
        "gebieden",
        "team",
        "wijken",
    ] {
        assert!(readme.contains(needle), "data/README.md lacks {needle:?}");
    }
}
