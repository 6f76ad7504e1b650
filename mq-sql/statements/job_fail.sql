-- Records a failed attempt of job $1 (lease token $2): retried after $3 µs while
-- attempts remain, else failed. $4 the error (already cut to 4 KiB by the
-- driver), $5 now (NULL for the server clock).
WITH t AS (SELECT coalesce($5::timestamptz, now()) AS now)
UPDATE mq_jobs
SET state = CASE WHEN attempt > retries THEN 'failed'
                 WHEN $3::bigint = 0 THEN 'ready'
                 ELSE 'scheduled' END::mq_job_state,
    run_at = t.now
             + CASE WHEN attempt > retries THEN interval '0'
                    ELSE $3::bigint * interval '1 microsecond' END,
    -- Append to the history, dropping the oldest entry once it holds 20
    -- (mq_core::backend::MAX_ERROR_HISTORY).
    errors = CASE WHEN jsonb_array_length(errors) >= 20 THEN errors - 0
                  ELSE coalesce(errors, '[]'::jsonb) END
             || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', t.now, 'error', $4::text))
FROM t
WHERE id = $1 AND lease_token = $2 AND state = 'running'
RETURNING state::text
