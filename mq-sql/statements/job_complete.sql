-- Deletes the completed jobs whose leases ($1 ids, $2 lease tokens) are
-- current; $3 is now (NULL for the server clock), which an ordered job
-- unblocked by the completion is measured against (mq.now, read at
-- commit by mq_ordered_settle). Opens with held_leases.sql and ends with
-- lease_outcomes.sql.
clock AS (
    SELECT set_config('mq.now', coalesce($3::timestamptz::text, ''), true) AS now
),
changed AS (
    DELETE FROM mq_jobs j
    USING held, clock
    WHERE j.id = held.id
    RETURNING j.id, j.lease_token, 'done' AS outcome
)
