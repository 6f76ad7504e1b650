-- Extends the leases ($1 ids, $2 lease tokens) to at least $3 µs from now
-- ($4, NULL for the server clock); never shortens a longer lease. Opens
-- with held_leases.sql and ends with lease_outcomes.sql.
changed AS (
    UPDATE mq_jobs j
    SET run_at = greatest(j.run_at, coalesce($4::timestamptz, now()) + $3::bigint * interval '1 microsecond')
    FROM held
    WHERE j.id = held.id
    RETURNING j.id, j.lease_token, 'done' AS outcome
)
