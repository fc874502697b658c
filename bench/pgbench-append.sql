-- The baseline of `wijkpuls-bench append`: one event-shaped row per transaction, nothing else.
-- It runs against `pgbench_events`, a copy of the store's `events` table (LIKE events INCLUDING
-- ALL: the same columns, primary key, unique (stream_id, stream_version) and GIN tag index), with
-- positions from the sequence `pgbench_events_position`; the payload and metadata are the size
-- of the benchmark's events (about 200 and 40 bytes).
INSERT INTO pgbench_events (position, stream_id, stream_version, event_type, schema_version,
                            tags, payload, metadata, recorded_at)
SELECT p, 'pgbench-' || :client_id, p, 'BudgetReserved', 1,
       ARRAY['bench:append', 'client:' || :client_id],
       '{"initiative": "WK020207-bench-000000", "amount_cents": 125000, "n": 0,
         "note": "Moestuin Presikhaaf, fase 2: zaden, gereedschap en een regenton"}'::jsonb,
       '{"actor": "bench", "role": "bench"}'::jsonb,
       now()
FROM nextval('pgbench_events_position') AS p;
