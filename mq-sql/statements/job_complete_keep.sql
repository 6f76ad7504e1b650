-- Marks completed the jobs whose leases ($1 ids, $2 lease tokens) are current,
-- keeping them, with the completion time $3 (NULL for the server clock) as
-- run_at. The variant of job_complete.sql for runners that keep completed jobs;
-- a completed job no longer heads its ordered channel (see mq_jobs_ordered).
UPDATE mq_jobs j
SET state = 'completed',
    run_at = coalesce($3::timestamptz, now())
FROM unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
WHERE j.id = l.id AND j.lease_token = l.lease_token AND j.state = 'running'
RETURNING j.id, j.lease_token
