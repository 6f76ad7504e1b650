-- Deletes completed jobs whose leases ($1 ids, $2 lease tokens) are current.
--
-- Rows are locked in id order first. Every statement that changes many
-- running jobs at once (this one, job_complete_keep, job_keep_alive) locks
-- them in that same order, so two of them can wait for each other but never
-- deadlock.
WITH held AS (
    SELECT j.id
    FROM mq_jobs j
    JOIN unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
      ON j.id = l.id AND j.lease_token = l.lease_token
    WHERE j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
)
DELETE FROM mq_jobs j
USING held
WHERE j.id = held.id
RETURNING j.id, j.lease_token
