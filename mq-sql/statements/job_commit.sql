-- Commits the two-phase jobs $1 whose commit interval has not lapsed at $2
-- (NULL for the server clock). Returns each committed job with its new state
-- and channel name (for notifying), and each id that was not waiting for a
-- commit (state NULL); ids committed before are not returned.
WITH t AS (SELECT coalesce($2::timestamptz, now()) AS now),
committed AS (
    UPDATE mq_jobs j
    SET state = CASE WHEN j.run_at <= t.now THEN 'ready' ELSE 'scheduled' END::mq_job_state,
        commit_deadline = NULL
    FROM t
    WHERE j.id = ANY($1::uuid[]) AND j.state = 'uncommitted' AND j.commit_deadline > t.now
    RETURNING j.id, j.state, j.channel_name
)
SELECT c.id, c.state::text AS state, c.channel_name FROM committed c
UNION ALL
SELECT i.id, NULL, NULL
FROM unnest($1::uuid[]) AS i(id)
WHERE NOT EXISTS (SELECT 1 FROM committed c WHERE c.id = i.id)
  -- The snapshot predates this statement's update: 'uncommitted' here means
  -- not committed before.
  AND NOT EXISTS (SELECT 1 FROM mq_jobs m WHERE m.id = i.id AND m.state <> 'uncommitted')
