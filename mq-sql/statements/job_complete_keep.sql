-- Marks completed the jobs whose leases ($1 ids, $2 lease tokens) are
-- current, keeping them, with the completion time $3 (NULL for the server
-- clock) as run_at. The variant of job_complete.sql for runners that keep
-- completed jobs; a completed job no longer holds its ordered channel.
-- Opens with held_leases.sql and ends with lease_outcomes.sql.
clock AS (
    SELECT coalesce($3::timestamptz, now()) AS now,
           set_config('mq.now', coalesce($3::timestamptz::text, ''), true) AS setting
),
changed AS (
    UPDATE mq_jobs j
    SET state = 'completed',
        run_at = clock.now
    FROM held, clock
    WHERE j.id = held.id
    RETURNING j.id, j.lease_token, 'done' AS outcome
)
