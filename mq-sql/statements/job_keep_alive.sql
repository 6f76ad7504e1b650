-- Extends the leases ($1 ids, $2 lease tokens) to at least $3 µs from now
-- ($4, NULL for the server clock); never shortens a longer lease.
UPDATE mq_jobs j
SET run_at = greatest(j.run_at, coalesce($4::timestamptz, now()) + $3::bigint * interval '1 microsecond')
FROM unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
WHERE j.id = l.id AND j.lease_token = l.lease_token AND j.state = 'running'
RETURNING j.id, j.lease_token
