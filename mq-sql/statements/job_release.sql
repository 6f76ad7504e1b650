-- Gives the jobs of the leases ($1 ids, $2 lease tokens) back without
-- counting their attempts; ready again after $3 µs from $4 (NULL for the
-- server clock). Opens with held_leases.sql and ends with
-- lease_outcomes.sql.
clock AS (
    SELECT coalesce($4::timestamptz, now()) AS now
),
changed AS (
    UPDATE mq_jobs j
    SET attempt = j.attempt - 1,
        state = CASE WHEN $3::bigint = 0 THEN 'ready' ELSE 'scheduled' END::mq_job_state,
        run_at = clock.now + $3::bigint * interval '1 microsecond'
    FROM held, clock
    WHERE j.id = held.id
    RETURNING j.id, j.lease_token, 'done' AS outcome
)
