-- job_retry.sql for every failed job of channel name $1 (NULL for any), ready
-- at $2 (NULL for the server clock). Finds them through mq_jobs_finished.
UPDATE mq_jobs
SET state = 'ready',
    attempt = 0,
    run_at = coalesce($2::timestamptz, now())
WHERE state = 'failed'
  AND ($1::text IS NULL OR channel_name = $1::text)
RETURNING id, channel_name
