# The everyday recipes. `just` is optional: each recipe is a plain command you can run yourself.

# Build everything, tests and benches included.
build:
    cargo build --workspace --all-targets

# All tests (the README's test command). Set TEST_DATABASE_URL for the PostgreSQL half.
test:
    scripts/test

# Tests against the local PostgreSQL too.
test-pg:
    TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/test

# Format and lint as CI expects.
check:
    cargo fmt --all --check
    cargo clippy --all-targets -- -D warnings

# Run the service on the embedded SQLite file with a demo year.
serve-demo:
    cargo run --release -- serve --demo

# Run the service on the local PostgreSQL (database `wijkpuls`, created if missing).
serve-pg:
    psql postgres://postgres@127.0.0.1:5432/postgres -tc "select 1 from pg_database where datname = 'wijkpuls'" | grep -q 1 || createdb -h 127.0.0.1 -U postgres wijkpuls
    cargo run --release -- serve --demo --database-url postgres://postgres@127.0.0.1:5432/wijkpuls

# Regenerate schema.graphql from the code (a test fails when they drift).
schema:
    cargo run -- schema > schema.graphql

# The event store's append benchmark, against pgbench on the local PostgreSQL.
bench-append:
    cargo run --release -p wijkpuls-bench -- append --postgres-url postgres://postgres@127.0.0.1:5432/postgres

# Live fan-out: 10,000 subscribers on one server started from the release binary.
bench-fanout:
    cargo build --release -p wijkpuls -p wijkpuls-bench
    target/release/wijkpuls-bench fanout

# Reads from outside: wrk on a wijk's budget against { __typename } (needs wrk installed).
bench-wrk:
    cargo build --release -p wijkpuls
    bench/wrk/run.sh target/release/wijkpuls

# The domain's fold benchmark.
bench-fold:
    cargo bench -p wijkpuls-domain --bench fold

# The browser tests alone (overview, CORS, GraphiQL, example dashboard) against a debug build.
test-browser: dashboard
    cargo build -p wijkpuls
    cd tests/browser && (test -d node_modules || npm ci --no-audit --no-fund) && node --test overview.test.mjs cors.test.mjs graphiql.test.mjs dashboard.test.mjs

# Build the example dashboard (codegen from schema.graphql, type-check, bundle into dist/).
dashboard:
    cd examples/dashboard && (test -d node_modules || npm ci --no-audit --no-fund) && npm run build

# Every `serve` option with its environment variable and default.
config:
    cargo run -q -- serve --help

# A realistic log of N events into an empty store (default: a new SQLite file).
generate events="100000" url="sqlite://wijkpuls-generated.db":
    cargo run --release -- generate --events {{events}} --database-url {{url}}

# Refold the read model from the log and compare (add a running server with --server URL).
rebuild-check url="sqlite://wijkpuls.db":
    cargo run --release -- rebuild --check --database-url {{url}}

# What the hash chain costs an append, on SQLite and the local PostgreSQL.
bench-chain:
    cargo run --release -p wijkpuls-bench -- chain --postgres-url postgres://postgres@127.0.0.1:5432/postgres

# Start-up on a million events (SQLite): generate a log, start with --no-snapshots (the whole
# log folded), then twice with snapshots (the first folds and stores one, the second loads it),
# then where the heap goes (wijkpuls-bench memory).
bench-startup events="1000000":
    cargo build --release -p wijkpuls
    rm -rf target/bench-startup && mkdir -p target/bench-startup
    target/release/wijkpuls generate --events {{events}} --database-url sqlite://target/bench-startup/log.db
    bench/startup.sh sqlite://target/bench-startup/log.db --no-snapshots
    SETTLE=30 bench/startup.sh sqlite://target/bench-startup/log.db
    bench/startup.sh sqlite://target/bench-startup/log.db
    cargo build --release -p wijkpuls-bench
    target/release/wijkpuls-bench memory --database-url sqlite://target/bench-startup/log.db

# Every benchmark in BENCHMARKS.md, one after another (about half an hour; needs the local PostgreSQL).
bench:
    cargo build --release -p wijkpuls -p wijkpuls-bench
    target/release/wijkpuls-bench append --postgres-url postgres://postgres@127.0.0.1:5432/postgres
    target/release/wijkpuls-bench chain --events 20000 --seconds 3 --postgres-url postgres://postgres@127.0.0.1:5432/postgres
    target/release/wijkpuls-bench graphql --postgres-url postgres://postgres@127.0.0.1:5432/postgres
    target/release/wijkpuls-bench fanout
    target/release/wijkpuls-bench contention --postgres-url postgres://postgres@127.0.0.1:5432/postgres
    target/release/wijkpuls-bench abuse
    target/release/wijkpuls-bench asof --events 200000 --moments 10
    bench/wrk/run.sh target/release/wijkpuls
    just bench-startup
    cargo bench -p wijkpuls-domain --bench trends
    cargo bench -p wijkpuls-domain --bench fold
