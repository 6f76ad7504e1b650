-- Saves a checkpoint of job $1 (lease token $2): a new JSON payload $3 and/or
-- binary payload $4 (NULL keeps the current one), and $5 more retries.
UPDATE mq_jobs
SET payload_json = coalesce($3::text::json, payload_json),
    payload_bytes = coalesce($4::bytea, payload_bytes),
    retries = least(retries::bigint + $5::bigint, 2147483647)::int
WHERE id = $1 AND lease_token = $2 AND state = 'running'
