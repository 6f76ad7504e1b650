-- Deletes completed jobs whose leases ($1 ids, $2 lease tokens) are current.
-- Follows held_leases.sql, which locks those rows in id order.
DELETE FROM mq_jobs j
USING held
WHERE j.id = held.id
RETURNING j.id, j.lease_token
