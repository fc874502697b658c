//! `schema.graphql` at the repository root is what clients rely on; it must be exactly the
//! schema the code serves, and what `wijkpuls schema` prints.

/// Where the checked-in schema lives.
fn checked_in() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn schema_graphql_matches_the_code() {
    let code = wijkpuls_api::schema::sdl();
    let file = checked_in();
    if code != file {
        let first = code
            .lines()
            .zip(file.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| code.lines().count().min(file.lines().count()));
        panic!(
            "schema.graphql has drifted from the code (first difference at line {}: code {:?}, file {:?}).\n\
             Run `cargo run -- schema > schema.graphql` and commit the result.",
            first + 1,
            code.lines().nth(first),
            file.lines().nth(first),
        );
    }
}

#[tokio::test]
async fn wijkpuls_schema_prints_the_same() {
    let output = crate::helpers::wijkpuls()
        .arg("schema")
        .output()
        .await
        .expect("run wijkpuls schema");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        wijkpuls_api::schema::sdl()
    );
}
