-- wrk script: POST { __typename } to /graphql, GraphQL's own cost (the baseline).
-- wrk -t2 -c64 -d10s -s bench/wrk/typename.lua http://127.0.0.1:8080/graphql
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"query":"{ __typename }"}'

function done(summary, latency, requests)
  if summary.errors.status > 0 then
    io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
  end
end
