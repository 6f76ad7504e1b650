-- The end of job_claim_limited.sql: records the claims as starts when the
-- limit has a rate (mq_limit_count counts them, mq_limit_check prunes
-- them), checks the claim under the channel's lock, and returns the jobs
-- claimed.
),
recorded AS (
    INSERT INTO mq_limit_claims (job_id, lease_token, channel_name, channel_args, claimed_at)
    SELECT c.id, c.lease_token, c.channel_name, c.channel_args, clock.now
    FROM claimed c CROSS JOIN clock CROSS JOIN lim
    WHERE lim.rate_count IS NOT NULL
),
-- Fails the statement when a concurrent claim took the same room. Its
-- arguments are read from every job claimed, so it runs after the claim.
checked AS (
    SELECT mq_limit_check($3::text,
                          (SELECT array_agg(c.id) FROM claimed c),
                          (SELECT array_agg(c.channel_args) FROM claimed c),
                          clock.now,
                          lim.claimed_total,
                          lim.updated_at,
                          coalesce(used.running, 0),
                          coalesce(used.recent, 0)) AS within
    FROM clock
    CROSS JOIN lim
    LEFT JOIN used ON used.key = ''
)
SELECT * FROM claimed WHERE (SELECT within FROM checked)
