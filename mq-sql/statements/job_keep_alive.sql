-- Extends the leases ($1 ids, $2 lease tokens) to at least $3 µs from now
-- ($4, NULL for the server clock); never shortens a longer lease. Locks in
-- id order, like job_complete.sql, so the two never deadlock.
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
SET run_at = greatest(j.run_at, coalesce($4::timestamptz, now()) + $3::bigint * interval '1 microsecond')
FROM held
WHERE j.id = held.id
RETURNING j.id, j.lease_token
