-- Every channel limit, by name, with its use at $1 (NULL for the server
-- clock): the jobs running under a limited claim's lease token and the
-- claims younger than the rate period (for a limit per argument, the most
-- of any one argument), and the ready jobs waiting.
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
SELECT l.channel_name, l.per_args, l.concurrency::bigint AS concurrency,
       l.rate_count::bigint AS rate_count,
       (extract(epoch FROM l.rate_period) * 1000000)::bigint AS rate_period_us,
       l.updated_at,
       coalesce(used.running, 0)::bigint AS running,
       coalesce(used.recent, 0)::bigint AS recent_starts,
       (SELECT count(*) FROM mq_jobs j
        WHERE j.state = 'ready' AND j.channel_name = l.channel_name)::bigint AS waiting
FROM mq_channel_limits l
CROSS JOIN clock
LEFT JOIN LATERAL (
    SELECT max(per_key.running) AS running, max(per_key.recent) AS recent
    FROM (
        SELECT count(j.id) AS running,
               count(*) FILTER (WHERE r.claimed_at > clock.now - l.rate_period) AS recent
        FROM mq_limit_claims r
        LEFT JOIN mq_jobs j ON j.id = r.job_id AND j.lease_token = r.lease_token
                           AND j.state::text = 'running'
        WHERE r.channel_name = l.channel_name
        GROUP BY CASE WHEN l.per_args THEN r.channel_args END
    ) per_key
) used ON true
ORDER BY l.channel_name
