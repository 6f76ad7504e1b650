-- Every channel limit, by name, with its use at $1 (NULL for the server
-- clock): the jobs a limited claim started that run and, when it has a
-- rate, the starts younger than its period (for a limit per argument, the
-- most of any one argument), and the ready jobs waiting. Counted as mq_limit_used counts
-- (0016_limit_used.sql), without its lock.
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
SELECT l.channel_name, l.per_args, l.concurrency::bigint AS concurrency,
       l.rate_count::bigint AS rate_count,
       (extract(epoch FROM l.rate_period) * 1000000)::bigint AS rate_period_us,
       l.updated_at,
       coalesce((SELECT max(per_key.n) FROM (
                     SELECT count(*) AS n
                     FROM mq_jobs j
                     WHERE j.state = 'running' AND j.limit_slot
                       AND j.channel_name = l.channel_name
                     GROUP BY CASE WHEN l.per_args THEN j.channel_args END
                 ) per_key), 0)::bigint AS running,
       coalesce((SELECT max(per_key.n) FROM (
                     SELECT count(*) AS n
                     FROM mq_limit_claims r
                     WHERE r.channel_name = l.channel_name
                       AND r.claimed_at > clock.now - l.rate_period
                     GROUP BY CASE WHEN l.per_args THEN r.channel_args END
                 ) per_key), 0)::bigint AS recent_starts,
       (SELECT count(*) FROM mq_jobs j
        WHERE j.state = 'ready' AND j.channel_name = l.channel_name)::bigint AS waiting
FROM mq_channel_limits l
CROSS JOIN clock
ORDER BY l.channel_name
