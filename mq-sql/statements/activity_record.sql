-- Records runner $1's report: its name $2, the $3 jobs it runs of at most
-- $4, or, when it is stopping ($5), removes its row; adds its counts, one
-- array per column ($6 minute, $7 channel_name, $8 completed, $9 retried,
-- $10 failed), to those of their minute and channel name. Deletes minutes
-- older than $11 (µs) and runners not seen for $12 (µs). $13 is now (NULL
-- for the server clock).
--
-- Counts are written in key order, so that runners adding to the same
-- minutes lock them in the same order; the pruning skips rows another
-- report holds, which the next report deletes instead, so that it never
-- waits on one (and two reports never wait on each other).
WITH clock AS (
    SELECT coalesce($13::timestamptz, now()) AS now
), seen AS (
    INSERT INTO mq_runners AS r (id, name, started_at, seen_at, running, max_concurrency)
    SELECT $1::uuid, $2::text, clock.now, clock.now, $3::integer, $4::integer
    FROM clock
    WHERE NOT $5::boolean
    ON CONFLICT (id) DO UPDATE SET
        name = excluded.name,
        seen_at = excluded.seen_at,
        running = excluded.running,
        max_concurrency = excluded.max_concurrency
), stopped AS (
    DELETE FROM mq_runners
    WHERE id = $1::uuid AND $5::boolean
), unseen AS (
    DELETE FROM mq_runners
    WHERE id IN (SELECT r.id
                 FROM mq_runners r, clock
                 WHERE r.id <> $1::uuid
                   AND r.seen_at < clock.now - $12::bigint * interval '1 microsecond'
                 FOR UPDATE OF r SKIP LOCKED)
), counted AS (
    INSERT INTO mq_job_counts AS c (minute, channel_name, completed, retried, failed)
    SELECT n.minute, n.channel_name, n.completed, n.retried, n.failed
    FROM unnest($6::timestamptz[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
             AS n (minute, channel_name, completed, retried, failed)
    ORDER BY n.minute, n.channel_name
    ON CONFLICT (minute, channel_name) DO UPDATE SET
        completed = c.completed + excluded.completed,
        retried = c.retried + excluded.retried,
        failed = c.failed + excluded.failed
)
DELETE FROM mq_job_counts
WHERE (minute, channel_name) IN (
    SELECT c.minute, c.channel_name
    FROM mq_job_counts c, clock
    WHERE c.minute < clock.now - $11::bigint * interval '1 microsecond'
    FOR UPDATE OF c SKIP LOCKED)
