-- Deletes completed jobs whose leases ($1 ids, $2 attempts) are current.
DELETE FROM mq_jobs j
USING unnest($1::uuid[], $2::int[]) AS l(id, attempt)
WHERE j.id = l.id AND j.attempt = l.attempt AND j.state = 'running'
RETURNING j.id, j.attempt
