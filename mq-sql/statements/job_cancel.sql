-- Cancels the jobs $1 that have not finished, at $2 (NULL for the server
-- clock). Returns each stored job of $1 once: its id, the state it was in
-- (once its row was locked), whether this cancelled it, and its channel
-- name and whether it is ordered (the caller wakes runners for the job
-- that a cancelled ordered one lets run).
--
-- A running job's lease stops being current here (every statement made
-- for a running job checks that it is running), so its runner can change
-- nothing more; the caller notifies the runner. A cancelled ordered job
-- that held its channel lists it for settling at commit
-- (mq_jobs_ordered_touch_update, 0008_cancelled_jobs.sql), so the next
-- job of the channel is unblocked as the cancel commits.
WITH target AS (
    SELECT j.id, j.state, j.channel_name, j.ordered
    FROM mq_jobs j
    WHERE j.id = ANY($1::uuid[])
    -- Locked in one order, so that two cancels of overlapping jobs cannot
    -- deadlock.
    ORDER BY j.id
    FOR UPDATE
),
cancelled AS (
    UPDATE mq_jobs j
    SET state = 'cancelled',
        run_at = t.now,
        commit_deadline = NULL
    FROM target
    CROSS JOIN (SELECT coalesce($2::timestamptz, now()) AS now,
                       set_config('mq.now', coalesce($2::timestamptz::text, ''), true)) t
    WHERE j.id = target.id
      AND target.state NOT IN ('failed', 'completed', 'cancelled')
    RETURNING j.id
)
SELECT target.id, target.state::text AS state, c.id IS NOT NULL AS cancelled,
       target.channel_name, target.ordered
FROM target
LEFT JOIN cancelled c ON c.id = target.id
