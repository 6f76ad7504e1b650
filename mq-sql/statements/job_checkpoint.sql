-- Saves a checkpoint of job $1 (lease token $2): a new JSON payload $3 and/or
-- binary payload $4 (NULL keeps the current one), and $5 more retries; with
-- $6 (µs, NULL for none), also holds the job for at least that long from $7
-- (NULL for the server clock).
UPDATE mq_jobs
SET payload_json = coalesce($3::text::json, payload_json),
    payload_bytes = coalesce($4::bytea, payload_bytes),
    retries = least(retries::bigint + $5::bigint, 2147483647)::int,
    run_at = CASE WHEN $6::bigint IS NULL THEN run_at
                  ELSE greatest(run_at, coalesce($7::timestamptz, now())
                                        + $6::bigint * interval '1 microsecond') END
WHERE id = $1 AND lease_token = $2 AND state = 'running'
