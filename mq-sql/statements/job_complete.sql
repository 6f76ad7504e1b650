-- Deletes the completed jobs whose leases ($1 ids, $2 lease tokens) are
-- current; $3 is now (NULL for the server clock), which an ordered job
-- unblocked by the completion is measured against (mq.now, read at
-- commit by mq_ordered_settle). Opens with held_leases.sql and ends with
-- lease_outcomes.sql.
--
-- A job unique for a while after it completes is kept instead, completed
-- at $3, to hold its key that long (0011_unique_jobs.sql), as
-- job_complete_keep.sql keeps every job.
clock AS (
    SELECT coalesce($3::timestamptz, now()) AS now,
           set_config('mq.now', coalesce($3::timestamptz::text, ''), true) AS setting
),
deleted AS (
    DELETE FROM mq_jobs j
    USING held, clock
    WHERE j.id = held.id AND NOT held.holds_key_after
    RETURNING j.id, j.lease_token, 'done' AS outcome
),
kept AS (
    UPDATE mq_jobs j
    SET state = 'completed',
        run_at = clock.now
    FROM held, clock
    WHERE j.id = held.id AND held.holds_key_after
    RETURNING j.id, j.lease_token, 'done' AS outcome
),
changed AS (
    SELECT * FROM deleted UNION ALL SELECT * FROM kept
)
