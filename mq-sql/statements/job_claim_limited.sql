-- Claims up to $1 ready jobs of the limited channel name $3, as many as
-- its limit leaves room for, holding them for $2 µs; its arguments are
-- served in turn after $4 (the cursor, '' for none). $5: now (NULL for the
-- statement's time). One statement, run on its own (see
-- 0017_limit_check.sql): the room is what this statement's snapshot
-- counts (mq_limit_count: the running jobs limited claims started,
-- including those whose lease lapsed until they are made ready again, and
-- the recent starts when the limit has a rate); once the jobs are marked,
-- mq_limit_check locks the channel's limit, counts again with this claim,
-- and fails the statement if a concurrent claim took the same room. Ends
-- with job_claim_update.sql (as `claimed`) and
-- job_claim_limited_record.sql.
--
-- Each key (the channel, or each of its arguments with per_args) gets room
-- for the least of $1, the concurrency left and the starts left.
WITH RECURSIVE clock AS (
    SELECT coalesce($5::timestamptz, statement_timestamp()) AS now
),
lim AS (
    SELECT l.*
    FROM mq_channel_limits l
    WHERE l.channel_name = $3::text
      AND NOT EXISTS (SELECT 1 FROM mq_channel_pauses paused
                      WHERE paused.channel_name = $3::text)
),
-- What the channel holds, per key, as this statement's snapshot sees it.
used AS MATERIALIZED (
    SELECT u.*
    FROM lim
    CROSS JOIN clock
    CROSS JOIN LATERAL mq_limit_count($3::text, lim.per_args, lim.rate_period, clock.now) u
),
-- The channel's arguments with ready jobs, after the cursor, wrapping
-- around: a skip scan, as in job_claim.sql.
arg(channel_args, wrapped) AS (
    (SELECT * FROM (
        (SELECT j.channel_args, false
         FROM mq_jobs j
         WHERE j.state = 'ready' AND j.channel_name = $3::text AND j.channel_args > $4::text
         ORDER BY j.channel_args
         LIMIT 1)
        UNION ALL
        (SELECT j.channel_args, true
         FROM mq_jobs j
         WHERE j.state = 'ready' AND j.channel_name = $3::text
         ORDER BY j.channel_args
         LIMIT 1)
    ) first_arg LIMIT 1)
    UNION ALL
    SELECT next_arg.*
    FROM arg a
    CROSS JOIN LATERAL (
        SELECT * FROM (
            (SELECT j.channel_args, a.wrapped
             FROM mq_jobs j
             WHERE j.state = 'ready' AND j.channel_name = $3::text
               AND j.channel_args > a.channel_args
             ORDER BY j.channel_args
             LIMIT 1)
            UNION ALL
            (SELECT j.channel_args, true
             FROM mq_jobs j
             WHERE NOT a.wrapped AND j.state = 'ready' AND j.channel_name = $3::text
             ORDER BY j.channel_args
             LIMIT 1)
        ) n LIMIT 1
    ) next_arg
    WHERE NOT (next_arg.wrapped AND next_arg.channel_args > $4::text)
),
picked AS (
    SELECT bounded.id
    FROM (
        SELECT t.id
        FROM (
            SELECT p.id
            FROM arg a
            CROSS JOIN lim
            CROSS JOIN LATERAL (
                SELECT greatest(0, least($1::bigint,
                                         lim.concurrency - coalesce(used.running, 0),
                                         lim.rate_count - coalesce(used.recent, 0))) AS n
                FROM (SELECT CASE WHEN lim.per_args THEN a.channel_args ELSE '' END AS key) k
                LEFT JOIN used ON used.key = k.key
            ) room
            CROSS JOIN LATERAL (
                SELECT j.id
                FROM mq_jobs j
                WHERE j.state = 'ready'
                  AND j.channel_name = $3::text
                  AND j.channel_args = a.channel_args
                ORDER BY j.ready_seq
                LIMIT room.n
                FOR UPDATE SKIP LOCKED
            ) p
            -- Over the whole channel, the room is shared by its arguments.
            LIMIT (SELECT CASE WHEN lim.per_args THEN $1::bigint
                               ELSE greatest(0, least($1::bigint,
                                                      lim.concurrency - coalesce(used.running, 0),
                                                      lim.rate_count - coalesce(used.recent, 0)))
                          END
                   FROM lim LEFT JOIN used ON used.key = '')
        ) t
        -- Never more than $1 anyway; said apart, with the claim's size class
        -- (see job_claim_targeted.sql), it is what the planner estimates the
        -- rows by. Left to the limit above, which it cannot read, it counts a
        -- tenth of the channel's jobs, and at a million the plan's cost set
        -- off JIT compilation: 400 ms a claim.
        LIMIT /*size_class*/4294967296
    ) bounded
    LIMIT $1::bigint
),
claimed AS (
