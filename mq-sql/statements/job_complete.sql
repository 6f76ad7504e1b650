-- Deletes completed jobs whose leases ($1 ids, $2 lease tokens) are current.
DELETE FROM mq_jobs j
USING unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
WHERE j.id = l.id AND j.lease_token = l.lease_token AND j.state = 'running'
RETURNING j.id, j.lease_token
