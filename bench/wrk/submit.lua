-- wrk script: every request is one anonymous submitInitiative mutation (run the server with
-- --submit-per-minute 0). Counts answers that carry GraphQL errors, which wrk itself does not
-- see (they come with status 200), and prints them at the end: a run with errors is no figure.
--
--   wrk -t2 -c64 -d10s -s bench/wrk/submit.lua http://127.0.0.1:8080/graphql

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/graphql-response+json, application/json"
wrk.body = '{"query":"mutation { submitInitiative(input: { wijkCode: \\"WK020207\\", ' ..
  'title: \\"Bankjes bij de speeltuin\\", description: \\"Drie bankjes\\", theme: SPEELTUINEN, ' ..
  'requestedAmount: \\"1250.00\\", initiator: { name: \\"Bench Mark\\", email: \\"bench@example.nl\\" } }) ' ..
  '{ initiative { id } } }"}'

local threads = {}

function setup(thread)
  thread:set("failed", 0)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
    if failed == 1 then
      io.stderr:write("first failed answer: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failed")
  end
  io.write(string.format("answers with errors: %d of %d\n", failed, summary.requests))
end
