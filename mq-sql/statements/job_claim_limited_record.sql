-- The end of job_claim_limited.sql: records the claims as starts when the
-- limit has a rate (mq_limit_count counts them, the check prunes them),
-- checks the claim under the channel's lock, and returns the jobs
-- claimed. The check is mq_limit_check of 0017_limit_check.sql, written
-- out here so that its usual course costs no function call: the claim
-- locks the limit, adds its jobs to claimed_total (and tightens the bound
-- of 0018_limit_bound.sql), and is done when what it saw running plus
-- what started since is within the limit, or when the bound as the lock
-- finds it is; only otherwise does it count again, in mq_limit_recount,
-- under a snapshot taken after the lock, which also leaves the bound
-- exact (0019_recount_bound.sql).
),
recorded AS (
    INSERT INTO mq_limit_claims (job_id, lease_token, channel_name, channel_args, claimed_at)
    SELECT c.id, c.lease_token, c.channel_name, c.channel_args, clock.now
    FROM claimed c CROSS JOIN clock CROSS JOIN lim
    WHERE lim.rate_count IS NOT NULL
),
-- The claim's jobs, together.
mine AS (
    SELECT count(*) AS n, array_agg(c.id) AS ids, array_agg(c.channel_args) AS args
    FROM claimed c
),
-- Locks the channel's limit once the jobs are claimed: waits for the
-- claims that hold it to end, then reads the row as they left it.
locked AS (
    UPDATE mq_channel_limits l
    SET claimed_total = l.claimed_total + mine.n,
        -- What ran at the snapshot is what ran over the whole channel only
        -- for a limit over the whole channel, not set again since.
        released_total = CASE
            WHEN NOT l.per_args AND l.updated_at = lim.updated_at
                THEN greatest(l.released_total, lim.claimed_total - coalesce(used.running, 0))
            ELSE l.released_total
        END
    FROM mine
    CROSS JOIN lim
    LEFT JOIN used ON used.key = ''
    WHERE l.channel_name = $3::text AND mine.n > 0
    RETURNING l.*
),
-- The starts older than the rate's period (all, without a rate) go,
-- under the lock.
pruned AS (
    DELETE FROM mq_limit_claims r
    USING locked, clock
    WHERE r.channel_name = $3::text
      AND (locked.rate_period IS NULL OR r.claimed_at <= clock.now - locked.rate_period)
),
-- Whether the claim stays within the limit. The jobs started since the
-- snapshot, this claim's included, are what claimed_total grew by.
checked AS (
    SELECT CASE
        -- Nothing claimed, or the limit is gone.
        WHEN locked.channel_name IS NULL THEN true
        WHEN NOT locked.per_args
             AND locked.updated_at = lim.updated_at
             AND locked.claimed_total - lim.claimed_total >= mine.n
             AND (locked.concurrency IS NULL
                  OR coalesce(used.running, 0) + locked.claimed_total - lim.claimed_total
                     <= locked.concurrency)
             AND (locked.rate_count IS NULL
                  OR coalesce(used.recent, 0) + locked.claimed_total - lim.claimed_total
                     <= locked.rate_count)
            THEN true
        -- Or the bound as the lock finds it, which counts every claim
        -- committed so far and was tightened by the last of them to
        -- count (0019_recount_bound.sql): with several runners, the jobs
        -- started since this claim's snapshot have often ended already,
        -- which the snapshot's figures cannot tell.
        WHEN NOT locked.per_args
             AND locked.rate_count IS NULL
             AND locked.claimed_total - locked.released_total <= locked.concurrency
            THEN true
        ELSE mq_limit_recount($3::text, mine.ids, mine.args, clock.now, locked.per_args,
                              locked.concurrency, locked.rate_count, locked.rate_period)
    END AS within
    FROM mine
    CROSS JOIN clock
    CROSS JOIN lim
    LEFT JOIN used ON used.key = ''
    LEFT JOIN locked ON true
)
SELECT * FROM claimed WHERE (SELECT within FROM checked)
