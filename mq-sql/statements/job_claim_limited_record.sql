-- The end of job_claim_limited.sql: records the claims as starts when the
-- limit has a rate (mq_limit_used counts and prunes them), and returns
-- the jobs claimed.
),
recorded AS (
    INSERT INTO mq_limit_claims (job_id, lease_token, channel_name, channel_args, claimed_at)
    SELECT c.id, c.lease_token, c.channel_name, c.channel_args, clock.now
    FROM claimed c CROSS JOIN clock CROSS JOIN lim
    WHERE lim.rate_count IS NOT NULL
)
SELECT * FROM claimed
