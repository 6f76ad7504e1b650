-- Claims up to $1 ready jobs from the channels given, each from a place in
-- the ready queue on, holding them for $2 µs. $3, $4, $6, $7: the
-- channels' names, arguments, and the range of ready_seq to take (from $6,
-- below $7: the places of one priority, see 0010_priorities.sql); $5: now
-- (NULL for the server clock). Ends with job_claim_update.sql.
--
-- The runner's everyday claim. It knows which channels have work (from
-- notifications, which carry each new job's ready_seq, and from its own
-- claims) and where in each the unclaimed jobs begin, so each channel costs
-- one index seek that lands past the jobs claimed before: no walk over
-- channels, and none over the dead index entries claims leave at a
-- channel's front while the xmin horizon is held back. Channels are served
-- in the order given, which the runner rotates for fairness; jobs below a
-- channel's start (a transaction that committed late, a claim that was
-- rolled back) are found by the next full claim (job_claim.sql).
WITH picked AS (
    SELECT bounded.id
    FROM (
        SELECT p.id
        FROM unnest($3::text[], $4::text[], $6::bigint[], $7::bigint[])
                 AS t(channel_name, channel_args, from_seq, until_seq)
        CROSS JOIN LATERAL (
            SELECT j.id
            FROM mq_jobs j
            WHERE j.state = 'ready'
              AND j.channel_name = t.channel_name
              AND j.channel_args = t.channel_args
              AND j.ready_seq >= t.from_seq
              AND j.ready_seq < t.until_seq
              -- A paused channel gives nothing, and the runner forgets it until
              -- a resume's notification; nor does a limited one, which only
              -- job_claim_limited.sql claims from. These tests name no column
              -- of j, so they are made once per channel, before the index is
              -- read.
              AND NOT EXISTS (SELECT 1 FROM mq_channel_pauses paused
                              WHERE paused.channel_name = t.channel_name)
              AND NOT EXISTS (SELECT 1 FROM mq_channel_limits limited
                              WHERE limited.channel_name = t.channel_name)
            ORDER BY j.ready_seq
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ) p
        -- The claim's size class, a bound the planner can read, so that its
        -- generic plan is kept (see `SizeClassed` in mq-sql's lib.rs).
        LIMIT /*size_class*/4294967296
    ) bounded
    LIMIT $1
)
