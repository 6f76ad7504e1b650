-- Claims up to $1 ready jobs, fairly across channels, holding them for $2 µs.
-- $3, $4: the fairness cursor (channel name and args; '' and '' for none).
-- $5: now (NULL for the server clock). The channel_names variant adds $6.
--
-- Channels are visited in (channel_name, channel_args) order starting after
-- the cursor, then wrapping around to the start: a skip scan over
-- mq_jobs_ready that costs a few index probes per channel, however many jobs
-- each channel holds. Each visited channel gives its ready jobs in the order
-- they became ready (ready_seq), until the limit is reached. Ends with
-- job_claim_update.sql.
--
-- Each probe starts at a channel's front, so while the xmin horizon is held
-- back it walks the dead entries that claims left there (see
-- 0003_ready_seq.sql). Runners therefore make this full claim only now and
-- then, and otherwise claim from channels they know, past what they have
-- claimed (job_claim_targeted.sql).
--
-- Why this is live: mq_jobs_ready holds only jobs that may run now. An
-- ordered job behind its channel's head is 'blocked' (see
-- 0002_ordered_blocked.sql), so a channel whose head cannot run has no row
-- here and costs the scan nothing; every channel visited gives at least one
-- job unless concurrent claims hold all its ready rows. The cursor then
-- moves past the channels served, so the next claim starts where this one
-- stopped and every channel with ready work is served within as many claims
-- as there are such channels. A paused channel (mq_channel_pauses) or a
-- limited one (mq_channel_limits) is visited but gives nothing, and the
-- cursor passes it with the others.
WITH RECURSIVE channel(channel_name, channel_args, wrapped) AS (
    (SELECT * FROM (
        -- The first channel after the cursor: same name, later args...
        (SELECT j.channel_name, j.channel_args, false
         FROM mq_jobs j
         WHERE j.state = 'ready' AND j.channel_name = $3 AND j.channel_args > $4 /*channel_filter*/
         ORDER BY j.channel_args
         LIMIT 1)
        UNION ALL
        -- ...or a later name...
        (SELECT j.channel_name, j.channel_args, false
         FROM mq_jobs j
         WHERE j.state = 'ready' AND j.channel_name > $3 /*channel_filter*/
         ORDER BY j.channel_name, j.channel_args
         LIMIT 1)
        UNION ALL
        -- ...or, wrapping around, the first channel of all.
        (SELECT j.channel_name, j.channel_args, true
         FROM mq_jobs j
         WHERE j.state = 'ready' /*channel_filter*/
         ORDER BY j.channel_name, j.channel_args
         LIMIT 1)
    ) first_channel LIMIT 1)
    UNION ALL
    SELECT next_channel.*
    FROM channel c
    CROSS JOIN LATERAL (
        SELECT * FROM (
            (SELECT j.channel_name, j.channel_args, c.wrapped
             FROM mq_jobs j
             WHERE j.state = 'ready' AND j.channel_name = c.channel_name
               AND j.channel_args > c.channel_args
             ORDER BY j.channel_args
             LIMIT 1)
            UNION ALL
            (SELECT j.channel_name, j.channel_args, c.wrapped
             FROM mq_jobs j
             WHERE j.state = 'ready' AND j.channel_name > c.channel_name /*channel_filter*/
             ORDER BY j.channel_name, j.channel_args
             LIMIT 1)
            UNION ALL
            (SELECT j.channel_name, j.channel_args, true
             FROM mq_jobs j
             WHERE NOT c.wrapped AND j.state = 'ready' /*channel_filter*/
             ORDER BY j.channel_name, j.channel_args
             LIMIT 1)
        ) n LIMIT 1
    ) next_channel
    -- Once wrapped, stop at the cursor: every channel has been visited.
    WHERE NOT (next_channel.wrapped
               AND (next_channel.channel_name, next_channel.channel_args) > ($3, $4))
),
picked AS (
    SELECT bounded.id
    FROM (
        SELECT p.id
        -- Paused channels, and limited ones (which only job_claim_limited.sql
        -- claims from), are passed over before the limit, so that they take
        -- no room in the claim: a primary key probe or two per channel visited.
        FROM (SELECT * FROM channel c
              WHERE NOT EXISTS (SELECT 1 FROM mq_channel_pauses paused
                                WHERE paused.channel_name = c.channel_name)
                AND NOT EXISTS (SELECT 1 FROM mq_channel_limits limited
                                WHERE limited.channel_name = c.channel_name)
              LIMIT $1) c
        CROSS JOIN LATERAL (
            SELECT j.id
            FROM mq_jobs j
            WHERE j.state = 'ready'
              AND j.channel_name = c.channel_name
              AND j.channel_args = c.channel_args
            ORDER BY j.ready_seq
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ) p
        -- The claim's size class (see job_claim_targeted.sql).
        LIMIT /*size_class*/4294967296
    ) bounded
    LIMIT $1
)
