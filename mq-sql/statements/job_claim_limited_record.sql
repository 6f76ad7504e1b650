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
    USING clock, lim
    WHERE r.channel_name = $3::text
      AND r.claimed_at <= clock.now - coalesce(lim.rate_period, interval '0')
      AND NOT EXISTS (SELECT 1 FROM mq_jobs j
                      WHERE j.id = r.job_id AND j.lease_token = r.lease_token
                        AND j.state::text = 'running' AND j.run_at > clock.now)
)
SELECT * FROM claimed
