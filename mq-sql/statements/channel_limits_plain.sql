-- Every channel limit, by name, without its use (runners read this every
-- poll interval to know which channels to claim with job_claim_limited;
-- channel_limits.sql adds the use). $1 is unused, for the same parameters.
SELECT l.channel_name, l.per_args, l.concurrency::bigint AS concurrency,
       l.rate_count::bigint AS rate_count,
       (extract(epoch FROM l.rate_period) * 1000000)::bigint AS rate_period_us,
       l.updated_at, 0::bigint AS running, 0::bigint AS recent_starts, 0::bigint AS waiting,
       $1::timestamptz AS unused_now
FROM mq_channel_limits l
ORDER BY l.channel_name
