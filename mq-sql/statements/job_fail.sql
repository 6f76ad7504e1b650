-- Records failed attempts of the leases ($1 ids, $2 lease tokens): each job
-- is retried after its delay $3 (µs) while attempts remain, else failed;
-- $4 the errors (already cut to 4 KiB by the driver), $5 now (NULL for the
-- server clock). Opens with held_leases.sql and ends with
-- lease_outcomes.sql, where the outcome of a changed row is its new state.
failure AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[])
        AS f(id, lease_token, delay_us, error)
),
clock AS (
    SELECT coalesce($5::timestamptz, now()) AS now
),
changed AS (
    UPDATE mq_jobs j
    SET state = CASE WHEN j.attempt > j.retries THEN 'failed'
                     WHEN f.delay_us = 0 THEN 'ready'
                     ELSE 'scheduled' END::mq_job_state,
        run_at = clock.now
                 + CASE WHEN j.attempt > j.retries THEN interval '0'
                        ELSE f.delay_us * interval '1 microsecond' END,
        -- Append to the history, dropping the oldest entry once it holds 20
        -- (mq_core::backend::MAX_ERROR_HISTORY).
        errors = CASE WHEN jsonb_array_length(j.errors) >= 20 THEN j.errors - 0
                      ELSE coalesce(j.errors, '[]'::jsonb) END
                 || jsonb_build_array(jsonb_build_object('attempt', j.attempt, 'at', clock.now,
                                                         'error', f.error))
    FROM held, failure f, clock
    WHERE j.id = held.id AND f.id = j.id AND f.lease_token = j.lease_token
    RETURNING j.id, j.lease_token, j.state::text AS outcome
)
