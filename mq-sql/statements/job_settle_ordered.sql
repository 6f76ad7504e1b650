-- Settles every ordered channel that has blocked jobs and no unblocked one,
-- at $1 (NULL for the server clock): its first job is unblocked. Spawns and
-- completions settle their channels as they commit (mq_ordered_settle),
-- except in transactions above READ COMMITTED, which leave it to runners:
-- they run this when such a transaction notifies them, and every so often.
-- Returns how many jobs were unblocked.
--
-- A skip scan over mq_jobs_blocked visits each blocked channel once; the
-- NOT EXISTS finds the channels without an unblocked job through
-- mq_jobs_ordered_head; mq_ordered_settle_channels then looks again under
-- the channels' locks before it unblocks anything.
WITH RECURSIVE blocked(channel_name, channel_args) AS (
    (SELECT j.channel_name, j.channel_args
     FROM mq_jobs j
     WHERE j.state = 'blocked'
     ORDER BY j.channel_name, j.channel_args
     LIMIT 1)
    UNION ALL
    SELECT n.channel_name, n.channel_args
    FROM blocked b
    CROSS JOIN LATERAL (
        SELECT j.channel_name, j.channel_args
        FROM mq_jobs j
        WHERE j.state = 'blocked'
          AND (j.channel_name, j.channel_args) > (b.channel_name, b.channel_args)
        ORDER BY j.channel_name, j.channel_args
        LIMIT 1
    ) n
)
SELECT mq_ordered_settle_channels(
           coalesce(jsonb_agg(jsonb_build_array(b.channel_name, b.channel_args)), '[]'::jsonb),
           $1::timestamptz)::bigint AS unblocked
FROM blocked b
WHERE NOT EXISTS (SELECT 1 FROM mq_jobs h
                  -- Holding: as mq_jobs_ordered_head's predicate says it
                  -- (0008_cancelled_jobs.sql), so that it serves this.
                  WHERE h.ordered AND h.state <> 'blocked' AND h.state <= 'failed'
                    AND h.channel_name = b.channel_name AND h.channel_args = b.channel_args)
