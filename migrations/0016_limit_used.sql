-- mq schema, version 16: limited claims in one statement, counting the
-- channel's running jobs where they are.
--
-- A limited claim must count what its channel holds only once it has the
-- channel's lock, so that the count sees every claim made before it. Up to
-- version 15 that took a transaction of two statements (the lock, then the
-- claim, whose snapshot came after the lock), and the count read one row
-- of mq_limit_claims per job a limited claim had started, each looked up
-- in mq_jobs to see whether it still ran: at a limit of 1,000 the claim
-- cost five times an ordinary one, and with several processes the claims
-- queued behind each other's lock.
--
-- Now:
--
-- * mq_limit_used takes the lock and then counts. Its statements each take
--   a fresh snapshot, as a VOLATILE function's do, so the count sees every
--   claim committed before the lock was granted, though the claim that
--   calls it began earlier. The claim (job_claim_limited.sql) is one
--   statement, committed as it ends, and the lock is held only while it
--   runs.
-- * What runs is counted where it is: a limited claim marks the jobs it
--   starts (limit_slot; every other claim clears it), and a partial index
--   holds the running jobs so marked. A job holds its slot from its
--   limited claim until it leaves the running state (settled, or made
--   ready again once its lease lapsed). Nothing has to be kept in step,
--   and the claims of other channels add no index entry: an index of
--   every running job cost the unlimited drain a tenth of its pace.
-- * mq_limit_claims keeps only the starts of channels whose limit has a
--   rate, while they are younger than its period: a rate counts starts,
--   and a completed job leaves no other trace of its start.
--
-- Runners of an earlier version still count the claims they find in
-- mq_limit_claims, which the claims of this version neither write nor
-- keep (this migration and mq_limit_used delete those of limits without a
-- rate): stop them before runners of this version claim from a limited
-- channel, or its limit may run up to twice over while both claim.
--
-- Adding the column with a constant default rewrites no row. The jobs
-- that run under a claim made before this version are marked, and keep
-- their slots.
ALTER TABLE mq_jobs ADD COLUMN limit_slot boolean NOT NULL DEFAULT false;

UPDATE mq_jobs j
SET limit_slot = true
FROM mq_limit_claims r
WHERE j.id = r.job_id AND j.lease_token = r.lease_token AND j.state = 'running';

CREATE INDEX mq_jobs_limit_slots ON mq_jobs (channel_name, channel_args)
    WHERE state = 'running' AND limit_slot;

-- Rows of a limit without a rate counted concurrency only, which the jobs
-- now tell.
DELETE FROM mq_limit_claims r
USING mq_channel_limits l
WHERE l.channel_name = r.channel_name AND l.rate_period IS NULL;
DELETE FROM mq_limit_claims r
WHERE NOT EXISTS (SELECT 1 FROM mq_channel_limits l WHERE l.channel_name = r.channel_name);

-- Locks channel's limit until the calling statement commits, then returns
-- what the channel holds at `at`, per key (its arguments with per_args,
-- else ''): the jobs a limited claim started that run, and the starts
-- younger than rate_period.
-- Prunes the older starts first (all of them when there is no rate). The
-- caller passes the limit's per_args and rate_period as it read them, so
-- that the keys counted here are the keys it looks up. A key that holds
-- nothing has no row. In PL/pgSQL rather than SQL so that its plans are
-- made once per connection, not on every call (a third of its cost).
CREATE FUNCTION mq_limit_used(
    channel text,
    per_args boolean,
    rate_period interval,
    at timestamptz
) RETURNS TABLE (key text, running bigint, recent bigint)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM 1 FROM mq_channel_limits l WHERE l.channel_name = channel FOR UPDATE;

    DELETE FROM mq_limit_claims r
    WHERE r.channel_name = channel
      AND (rate_period IS NULL OR r.claimed_at <= at - rate_period);

    RETURN QUERY
    SELECT u.key, sum(u.running)::bigint, sum(u.recent)::bigint
    FROM (
        SELECT CASE WHEN per_args THEN j.channel_args ELSE '' END AS key,
               count(*) AS running, 0 AS recent
        FROM mq_jobs j
        WHERE j.state = 'running' AND j.limit_slot AND j.channel_name = channel
        GROUP BY 1
        UNION ALL
        SELECT CASE WHEN per_args THEN r.channel_args ELSE '' END,
               0, count(*)
        FROM mq_limit_claims r
        WHERE r.channel_name = channel AND r.claimed_at > at - rate_period
        GROUP BY 1
    ) u
    GROUP BY u.key;
END;
$$;
