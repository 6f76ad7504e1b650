-- Records a failed attempt of job $1 (lease token $2): retried after $3 µs while
-- attempts remain, else failed. $4 the error, $5 now (NULL for the server clock).
UPDATE mq_jobs
SET state = CASE WHEN attempt > retries THEN 'failed'
                 WHEN $3::bigint = 0 THEN 'ready'
                 ELSE 'scheduled' END::mq_job_state,
    run_at = coalesce($5::timestamptz, now())
             + CASE WHEN attempt > retries THEN interval '0'
                    ELSE $3::bigint * interval '1 microsecond' END,
    last_error = $4
WHERE id = $1 AND lease_token = $2 AND state = 'running'
RETURNING state::text
