-- Commits the two-phase jobs $1 whose commit interval has not lapsed at $2
-- (NULL for the server clock): an uncommitted job becomes ready or
-- scheduled; a blocked one stays blocked, committed, until its turn.
-- Returns each committed job with its new state and channel name (for
-- notifying). Ids not returned were committed before, or are missing
-- (job_commit_check.sql tells which).
WITH t AS (SELECT coalesce($2::timestamptz, now()) AS now)
UPDATE mq_jobs j
SET state = CASE WHEN j.state = 'blocked' THEN 'blocked'
                 WHEN j.run_at <= t.now THEN 'ready'
                 ELSE 'scheduled' END::mq_job_state,
    commit_deadline = NULL
FROM t
WHERE j.id = ANY($1::uuid[]) AND j.state IN ('uncommitted', 'blocked')
  AND j.commit_deadline > t.now
RETURNING j.id, j.state::text AS state, j.channel_name
