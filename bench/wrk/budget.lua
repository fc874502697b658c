-- wrk script: POST a wijk's budget from the live state to /graphql, the same selection as
-- `wijkpuls-bench graphql` (crates/bench/src/graphql.rs), against typename.lua as baseline.
-- wrk -t2 -c64 -d10s -s bench/wrk/budget.lua http://127.0.0.1:8080/graphql
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"query":"{ wijk(code: \\"WK020201\\") { budget { allocated committed spent remaining } } }"}'

function done(summary, latency, requests)
  if summary.errors.status > 0 then
    io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
  end
end
