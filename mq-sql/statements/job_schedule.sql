-- Applies the transitions due at $1 (NULL for the server clock): scheduled
-- jobs become ready; running jobs whose lease lapsed become ready again, or
-- failed when out of attempts; uncommitted jobs whose interval lapsed are
-- deleted, blocked or not (an ordered one that held its channel unblocks the
-- next at commit, measured against mq.now). Several runners may run this at
-- once: SKIP LOCKED splits the work. Returns the counts, the µs until the
-- next scheduled job or commit deadline is due (not the next lease to
-- lapse: those dead-end in mq_jobs_due, see migration 4, and the next
-- periodic run finds them), and the time up to which every due transition
-- was made (NULL when a bound of 10,000 rows cut the run short).
--
-- $2 (NULL for none) skips transitions due at or before it, which an
-- earlier run made: while the xmin horizon is held back, the due index
-- keeps an entry for every lease ever taken, and a run from the start
-- would walk them all. Runners pass the previous run's time, less a
-- margin for transactions that commit a little late, and now and then
-- NULL, for those that commit very late.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now,
                  set_config('mq.now', coalesce($1::timestamptz::text, ''), true) AS setting),
due AS (
    SELECT j.id, j.state AS old_state
    FROM mq_jobs j, t
    -- The bounds are written out rather than read from `t`, so that both
    -- bound the index scan: from `t` the upper one would only filter it,
    -- and the scan would walk on through every later entry.
    WHERE j.state IN ('scheduled', 'running')
      AND j.run_at <= coalesce($1::timestamptz, now())
      AND j.run_at > coalesce($2::timestamptz, '-infinity')
    ORDER BY j.run_at
    LIMIT 10000
    FOR UPDATE OF j SKIP LOCKED
),
moved AS (
    UPDATE mq_jobs j
    SET state = CASE WHEN due.old_state = 'scheduled' THEN 'ready'
                     WHEN j.attempt > j.retries THEN 'failed'
                     ELSE 'ready' END::mq_job_state,
        -- A lapsed lease counts as a failed attempt: append it to the error
        -- history as job_fail.sql does, keeping the latest 20.
        errors = CASE WHEN due.old_state = 'running'
                      THEN CASE WHEN jsonb_array_length(j.errors) >= 20 THEN j.errors - 0
                                ELSE coalesce(j.errors, '[]'::jsonb) END
                           || jsonb_build_array(jsonb_build_object(
                                  'attempt', j.attempt, 'at', t.now,
                                  'error', 'the job''s lease expired before it finished'))
                      ELSE j.errors END
    FROM due, t
    WHERE j.id = due.id
    RETURNING due.old_state
),
lapsed AS (
    SELECT j.id
    FROM mq_jobs j, t
    WHERE j.commit_deadline <= coalesce($1::timestamptz, now())
      AND j.commit_deadline > coalesce($2::timestamptz, '-infinity')
    LIMIT 10000
    FOR UPDATE OF j SKIP LOCKED
),
discarded AS (
    DELETE FROM mq_jobs j USING lapsed WHERE j.id = lapsed.id RETURNING 1
)
SELECT
    (SELECT count(*) FROM moved WHERE old_state = 'scheduled') AS made_ready,
    (SELECT count(*) FROM moved WHERE old_state = 'running') AS rescued,
    (SELECT count(*) FROM discarded) AS discarded,
    CASE WHEN (SELECT count(*) FROM due) >= 10000 OR (SELECT count(*) FROM lapsed) >= 10000 THEN 0
         ELSE (SELECT (extract(epoch FROM least(
                   (SELECT min(run_at) FROM mq_jobs
                    WHERE state = 'scheduled' AND run_at > t.now),
                   (SELECT min(commit_deadline) FROM mq_jobs
                    WHERE commit_deadline IS NOT NULL AND commit_deadline > t.now)
               ) - t.now) * 1000000)::bigint FROM t)
    END AS next_due_us,
    CASE WHEN (SELECT count(*) FROM due) >= 10000 OR (SELECT count(*) FROM lapsed) >= 10000 THEN NULL
         ELSE (SELECT t.now FROM t)
    END AS due_until
