-- Gives job $1 (lease token $2) back without counting the attempt; ready again
-- after $3 µs. $4 now (NULL for the server clock).
UPDATE mq_jobs
SET attempt = attempt - 1,
    state = CASE WHEN $3::bigint = 0 THEN 'ready' ELSE 'scheduled' END::mq_job_state,
    run_at = coalesce($4::timestamptz, now()) + $3::bigint * interval '1 microsecond'
WHERE id = $1 AND lease_token = $2 AND state = 'running'
