-- The running jobs whose leases ($1 ids, $2 lease tokens) are current, as
-- the CTE `held`, locked in id order. Not a statement of its own: it opens
-- every statement that changes many running jobs at once (job_complete,
-- job_complete_keep, job_keep_alive; see mq-sql/src/lib.rs). Because they
-- all lock through this one CTE, they lock in the same order, so two of
-- them can wait for each other but never deadlock.
WITH held AS (
    SELECT j.id
    FROM mq_jobs j
    JOIN unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
      ON j.id = l.id AND j.lease_token = l.lease_token
    WHERE j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
)
