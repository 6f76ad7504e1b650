-- Deletes the jobs in states $1 (failed and/or completed) whose run_at, the
-- time they failed or completed, is at least $2 µs before $3 (NULL for the
-- server clock). Finds them through mq_jobs_finished. A failed ordered job
-- holds its channel: pruning it unblocks the next (mq.now is the clock for
-- that).
DELETE FROM mq_jobs
USING (SELECT set_config('mq.now', coalesce($3::timestamptz::text, ''), true)) AS clock
WHERE state = ANY($1::text[]::mq_job_state[])
  -- Implied by $1, and spelt out so that the planner uses mq_jobs_finished.
  AND state IN ('failed', 'completed')
  AND run_at <= coalesce($3::timestamptz, now()) - $2::bigint * interval '1 microsecond'
