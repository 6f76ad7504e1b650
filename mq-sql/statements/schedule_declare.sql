-- Declares runner $1's schedules, one array per column: $2 name, $3
-- job_name, $4 expression, $5 time_zone (NULL for none), $6 missed, $7
-- first_due (the due time of a new schedule, or of one whose cadence
-- changed). Takes or renews the lease of each until now + $8 (µs), unless
-- another runner's lease is current; deletes the schedules that no runner
-- declared for $9 (µs). $10 is now (NULL for the server clock).
--
-- Rows are written in name order, so that runners declaring the same
-- schedules lock them in the same order. Returns each declared schedule as
-- left: its due time, whether $1 leads it, the lease's end, and now.
WITH clock AS (
    SELECT coalesce($10::timestamptz, now()) AS now
), pruned AS (
    DELETE FROM mq_schedules AS s
    USING clock
    WHERE s.declared_at < clock.now - $9::bigint * interval '1 microsecond'
      AND s.name <> ALL ($2::text[])
)
INSERT INTO mq_schedules AS s
    (name, job_name, expression, time_zone, missed, next_run_at, leader, leader_until, declared_at)
SELECT d.name, d.job_name, d.expression, d.time_zone, d.missed, d.first_due,
       $1::uuid, clock.now + $8::bigint * interval '1 microsecond', clock.now
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
         AS d (name, job_name, expression, time_zone, missed, first_due)
CROSS JOIN clock
ORDER BY d.name
ON CONFLICT (name) DO UPDATE SET
    job_name = excluded.job_name,
    expression = excluded.expression,
    time_zone = excluded.time_zone,
    missed = excluded.missed,
    next_run_at = CASE
        WHEN s.expression = excluded.expression
             AND s.time_zone IS NOT DISTINCT FROM excluded.time_zone
        THEN s.next_run_at
        ELSE excluded.next_run_at
    END,
    declared_at = excluded.declared_at,
    leader = CASE
        WHEN s.leader IS NULL OR s.leader = excluded.leader
             OR s.leader_until <= excluded.declared_at
        THEN excluded.leader
        ELSE s.leader
    END,
    leader_until = CASE
        WHEN s.leader IS NULL OR s.leader = excluded.leader
             OR s.leader_until <= excluded.declared_at
        THEN excluded.leader_until
        ELSE s.leader_until
    END
RETURNING s.name, s.next_run_at, s.leader = $1::uuid AS leading, s.leader_until,
          s.declared_at AS now
