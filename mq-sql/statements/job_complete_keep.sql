-- Marks completed the jobs whose leases ($1 ids, $2 lease tokens) are current,
-- keeping them, with the completion time $3 (NULL for the server clock) as
-- run_at. The variant of job_complete.sql for runners that keep completed jobs;
-- a completed job no longer heads its ordered channel (see mq_jobs_ordered).
-- Follows held_leases.sql, which locks those rows in id order.
UPDATE mq_jobs j
SET state = 'completed',
    run_at = coalesce($3::timestamptz, now())
FROM held
WHERE j.id = held.id
RETURNING j.id, j.lease_token
