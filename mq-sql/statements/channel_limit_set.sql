-- Sets channel name $1's limit: $2 per_args, $3 concurrency (NULL for
-- none), $4 rate_count and $5 rate_period in µs (both NULL for none).
-- Returns a row if the limit is new or changed.
INSERT INTO mq_channel_limits AS l
    (channel_name, per_args, concurrency, rate_count, rate_period, updated_at)
VALUES ($1::text, $2::boolean, $3::bigint::integer, $4::bigint::integer,
        $5::bigint * interval '1 microsecond', now())
ON CONFLICT (channel_name) DO UPDATE SET
    per_args = excluded.per_args,
    concurrency = excluded.concurrency,
    rate_count = excluded.rate_count,
    rate_period = excluded.rate_period,
    updated_at = excluded.updated_at
WHERE (l.per_args, l.concurrency, l.rate_count, l.rate_period)
      IS DISTINCT FROM (excluded.per_args, excluded.concurrency, excluded.rate_count,
                        excluded.rate_period)
RETURNING channel_name
