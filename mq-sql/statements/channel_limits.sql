-- Every channel limit, by name, with its use at $1 (NULL for the server
-- clock): the jobs a limited claim started that run and, when it has a
-- rate, the starts younger than its period (for a limit per argument, the
-- most of any one argument), and the ready jobs waiting. Counted as the
-- limited claims count (mq_limit_count, 0017_limit_check.sql).
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
SELECT l.channel_name, l.per_args, l.concurrency::bigint AS concurrency,
       l.rate_count::bigint AS rate_count,
       (extract(epoch FROM l.rate_period) * 1000000)::bigint AS rate_period_us,
       l.updated_at,
       coalesce(used.running, 0) AS running,
       coalesce(used.recent, 0) AS recent_starts,
       (SELECT count(*) FROM mq_jobs j
        WHERE j.state = 'ready' AND j.channel_name = l.channel_name)::bigint AS waiting
FROM mq_channel_limits l
CROSS JOIN clock
-- The most any one key holds.
LEFT JOIN LATERAL (
    SELECT max(u.running) AS running, max(u.recent) AS recent
    FROM mq_limit_count(l.channel_name, l.per_args, l.rate_period, clock.now) u
) used ON true
ORDER BY l.channel_name
