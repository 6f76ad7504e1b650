),
-- The end of job_claim_limited.sql: records the claims, prunes those that
-- count for nothing any more (their job no longer runs under them and
-- they are older than the rate period), and returns the jobs claimed.
recorded AS (
    INSERT INTO mq_limit_claims (job_id, lease_token, channel_name, channel_args, claimed_at)
    SELECT c.id, c.lease_token, c.channel_name, c.channel_args, clock.now
    FROM claimed c CROSS JOIN clock
),
pruned AS (
    DELETE FROM mq_limit_claims r
    USING held h, clock, lim
    WHERE r.job_id = h.job_id AND r.lease_token = h.lease_token
      AND NOT h.running
      AND h.claimed_at <= clock.now - coalesce(lim.rate_period, interval '0')
)
SELECT * FROM claimed
