-- Declares runner $1's schedules, one array per column: $2 name, $3
-- job_name, $4 expression, $5 time_zone (NULL for none), $6 missed, $7
-- first_due (the due time of a new schedule, or of one whose cadence
-- changed), $11 defined_at (when the runner began declaring that
-- definition; NULL: with this declaration). Takes or renews the lease of
-- each until now + $8 (µs), unless another runner's lease is current;
-- deletes the schedules that no runner declared for $9 (µs). $10 is now
-- (NULL for the server clock).
--
-- The newest definition wins (0020_schedule_definitions.sql): a
-- definition different from the row's and older than it is outdated,
-- while the row's was declared within a lease ($8). It changes nothing of
-- the row but the time it was last declared, and its runner takes no
-- lease. A definition that replaces a different one brings the lease
-- with it.
--
-- The rows are locked first, in name order (so that runners declaring the
-- same schedules lock them in the same order), and everything is decided
-- from them as locked; the upsert only writes it. (A row that another
-- runner inserted after the lock was taken gets this declaration's
-- definition and lease: firing checks the lease, so the other runner then
-- spawns nothing, and its next declaration sorts the two out.) Returns
-- each declared schedule as left: its due time, whether $1 leads it, the
-- lease's end, and now.
WITH clock AS (
    SELECT coalesce($10::timestamptz, now()) AS now
), pruned AS (
    DELETE FROM mq_schedules AS s
    USING clock
    WHERE s.declared_at < clock.now - $9::bigint * interval '1 microsecond'
      AND s.name <> ALL ($2::text[])
), stored AS (
    SELECT s.*
    FROM mq_schedules s
    WHERE s.name = ANY ($2::text[])
    ORDER BY s.name
    FOR UPDATE
), decided AS (
    SELECT d.name,
           -- The definition in force: the row's, against an outdated one.
           CASE WHEN o.outdated THEN s.job_name ELSE d.job_name END AS job_name,
           CASE WHEN o.outdated THEN s.expression ELSE d.expression END AS expression,
           CASE WHEN o.outdated THEN s.time_zone ELSE d.time_zone END AS time_zone,
           CASE WHEN o.outdated THEN s.missed ELSE d.missed END AS missed,
           -- The due time stays unless the cadence changed.
           CASE WHEN o.outdated
                     OR (d.expression = s.expression
                         AND d.time_zone IS NOT DISTINCT FROM s.time_zone)
                THEN s.next_run_at
                ELSE d.first_due
           END AS next_run_at,
           CASE WHEN o.outdated THEN s.defined_at
                WHEN c.differs THEN c.defined_at
                ELSE greatest(s.defined_at, c.defined_at)
           END AS defined_at,
           CASE WHEN o.outdated THEN s.definition_declared_at
                ELSE clock.now
           END AS definition_declared_at,
           -- The lease: a current runner takes it when it is free, its
           -- own, lapsed, or its definition new; otherwise it stays. (So
           -- the leader always declares the definition in force: an
           -- outdated runner never holds the lease.)
           CASE WHEN l.takes THEN $1::uuid ELSE s.leader END AS leader,
           CASE WHEN l.takes THEN clock.now + $8::bigint * interval '1 microsecond'
                ELSE s.leader_until
           END AS leader_until
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                $11::timestamptz[])
             AS d (name, job_name, expression, time_zone, missed, first_due, defined_at)
    CROSS JOIN clock
    LEFT JOIN stored s ON s.name = d.name
    CROSS JOIN LATERAL (
        SELECT s.name IS NOT NULL
               AND (d.job_name, d.expression, d.time_zone, d.missed)
                   IS DISTINCT FROM (s.job_name, s.expression, s.time_zone, s.missed) AS differs,
               coalesce(d.defined_at, clock.now) AS defined_at
    ) c
    CROSS JOIN LATERAL (
        SELECT c.differs AND c.defined_at < s.defined_at
               AND s.definition_declared_at > clock.now - $8::bigint * interval '1 microsecond'
               AS outdated
    ) o
    CROSS JOIN LATERAL (
        SELECT NOT o.outdated
               AND (s.name IS NULL OR c.differs OR s.leader IS NULL OR s.leader = $1::uuid
                    OR s.leader_until <= clock.now) AS takes
    ) l
)
INSERT INTO mq_schedules AS s
    (name, job_name, expression, time_zone, missed, next_run_at, leader, leader_until,
     declared_at, defined_at, definition_declared_at)
SELECT d.name, d.job_name, d.expression, d.time_zone, d.missed, d.next_run_at,
       d.leader, d.leader_until, clock.now, d.defined_at, d.definition_declared_at
FROM decided d
CROSS JOIN clock
ORDER BY d.name
ON CONFLICT (name) DO UPDATE SET
    job_name = excluded.job_name,
    expression = excluded.expression,
    time_zone = excluded.time_zone,
    missed = excluded.missed,
    next_run_at = excluded.next_run_at,
    leader = excluded.leader,
    leader_until = excluded.leader_until,
    declared_at = excluded.declared_at,
    defined_at = excluded.defined_at,
    definition_declared_at = excluded.definition_declared_at
RETURNING s.name, s.next_run_at, s.leader IS NOT DISTINCT FROM $1::uuid AS leading,
          s.leader_until, s.declared_at AS now
