-- Marks completed the jobs whose leases ($1 ids, $2 lease tokens) are current,
-- keeping them, with the completion time $3 (NULL for the server clock) as
-- run_at. The variant of job_complete.sql for runners that keep completed jobs;
-- a completed job no longer heads its ordered channel (see mq_jobs_ordered).
-- Locks in id order, like job_complete.sql.
WITH held AS (
    SELECT j.id
    FROM mq_jobs j
    JOIN unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
      ON j.id = l.id AND j.lease_token = l.lease_token
    WHERE j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
)
UPDATE mq_jobs j
SET state = 'completed',
    run_at = coalesce($3::timestamptz, now())
FROM held
WHERE j.id = held.id
RETURNING j.id, j.lease_token
