-- Claims up to $1 ready jobs of the limited channel name $3, as many as
-- its limit leaves room for, holding them for $2 µs. $5: now (NULL for the
-- statement's time). Where from: with targets ($6 arguments, $7 and $8 the
-- range of ready_seq to take in each, as in job_claim_targeted.sql), from
-- those places on, in the order given; without ($6 empty), from the front
-- of each of the channel's arguments in turn, after $4 (the cursor, ''
-- for none). Targets are what keeps a limited claim fast while the xmin
-- horizon is held back: a seek past the dead entries that claims leave at
-- the front of each argument's ready jobs, which a claim from the front
-- walks (see job_claim_targeted.sql).
--
-- One statement, run on its own (see 0017_limit_check.sql): the room is
-- what this statement's snapshot counts (mq_limit_count: the running jobs
-- limited claims started, including those whose lease lapsed until they
-- are made ready again, and the recent starts when the limit has a rate),
-- or the bound the limit's row keeps when that leaves room for the whole
-- claim (0018_limit_bound.sql); once the jobs are marked, it locks the
-- channel's limit, checks the claim against the claims made since its
-- snapshot, and fails the statement if a concurrent claim took the same
-- room. Ends with job_claim_update.sql (as `claimed`) and
-- job_claim_limited_record.sql.
--
-- Each key (the channel, or each of its arguments with per_args) gets room
-- for the least of $1, the concurrency left and the starts left, however
-- many targets it has.
WITH RECURSIVE clock AS (
    SELECT coalesce($5::timestamptz, statement_timestamp()) AS now
),
lim AS (
    SELECT l.*,
           -- At least the jobs running now (0018_limit_bound.sql), for a
           -- concurrency over the whole channel, when it leaves room for
           -- the whole claim; else NULL, and the claim counts.
           CASE WHEN NOT l.per_args AND l.rate_count IS NULL
                     AND l.claimed_total - l.released_total + $1::bigint <= l.concurrency
                THEN l.claimed_total - l.released_total
           END AS running_bound
    FROM mq_channel_limits l
    WHERE l.channel_name = $3::text
      AND NOT EXISTS (SELECT 1 FROM mq_channel_pauses paused
                      WHERE paused.channel_name = $3::text)
),
-- What the channel holds, per key, as this statement's snapshot sees it:
-- bounded, or counted.
used AS MATERIALIZED (
    SELECT '' AS key, lim.running_bound AS running, 0::bigint AS recent
    FROM lim
    WHERE lim.running_bound IS NOT NULL
    UNION ALL
    SELECT u.*
    FROM lim
    CROSS JOIN clock
    CROSS JOIN LATERAL mq_limit_count($3::text, lim.per_args, lim.rate_period, clock.now) u
    WHERE lim.running_bound IS NULL
),
-- Without targets: the channel's arguments with ready jobs, after the
-- cursor, wrapping around; a skip scan, as in job_claim.sql.
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
    ) first_arg
    WHERE cardinality($6::text[]) = 0
    LIMIT 1)
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
-- The arguments to visit, in order, each with the ranges of ready_seq to
-- take from: the targets, an argument's together (so that its room holds
-- over all of them), or every argument found, whole.
target AS (
    SELECT t.channel_args,
           array_agg(t.from_seq ORDER BY t.ord) AS from_seqs,
           array_agg(t.until_seq ORDER BY t.ord) AS until_seqs,
           min(t.ord) AS ord
    FROM unnest($6::text[], $7::bigint[], $8::bigint[])
             WITH ORDINALITY AS t(channel_args, from_seq, until_seq, ord)
    GROUP BY t.channel_args
),
visit AS (
    (SELECT t.channel_args, t.from_seqs, t.until_seqs FROM target t ORDER BY t.ord)
    UNION ALL
    SELECT a.channel_args,
           ARRAY[-9223372036854775808]::bigint[],
           ARRAY[9223372036854775807]::bigint[]
    FROM arg a
),
picked AS (
    SELECT bounded.id
    FROM (
        SELECT t.id
        FROM (
            SELECT p.id
            FROM visit a
            CROSS JOIN lim
            CROSS JOIN LATERAL (
                SELECT greatest(0, least($1::bigint,
                                         lim.concurrency - coalesce(used.running, 0),
                                         lim.rate_count - coalesce(used.recent, 0))) AS n
                FROM (SELECT CASE WHEN lim.per_args THEN a.channel_args ELSE '' END AS key) k
                LEFT JOIN used ON used.key = k.key
            ) room
            CROSS JOIN LATERAL (
                -- Each range from its start (the oldest first), then the
                -- argument's first jobs of all its ranges, which come in
                -- the order of their priorities.
                SELECT r.id
                FROM unnest(a.from_seqs, a.until_seqs) AS s(from_seq, until_seq)
                CROSS JOIN LATERAL (
                    SELECT j.id, j.ready_seq
                    FROM mq_jobs j
                    WHERE j.state = 'ready'
                      AND j.channel_name = $3::text
                      AND j.channel_args = a.channel_args
                      AND j.ready_seq >= s.from_seq
                      AND j.ready_seq < s.until_seq
                    ORDER BY j.ready_seq
                    LIMIT room.n
                    FOR UPDATE SKIP LOCKED
                ) r
                ORDER BY r.ready_seq
                LIMIT room.n
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
