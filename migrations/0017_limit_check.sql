-- mq schema, version 17: a limited claim checks its channel's limit after
-- it claims, rather than locking it before.
--
-- Up to version 16 a limited claim locked its channel's limit, then
-- counted, picked and marked its jobs, and held the lock until it
-- committed: the claims of one channel followed each other for the whole
-- claim, and four processes draining a limited channel ran at half the
-- pace of the same drain unlimited, each claim queued behind the others.
--
-- Now a limited claim (job_claim_limited.sql, still one statement) takes,
-- without a lock, the room its snapshot counts (mq_limit_count), marks its
-- jobs, and only then calls mq_limit_check, which locks the channel's
-- limit and counts again under a snapshot taken after the lock: it sees
-- every claim committed before, and adds the jobs this claim took. When a
-- key the claim took from would then hold more than the limit allows,
-- the check fails the statement with a serialization failure (40001), so
-- that nothing of it stays, and the claim is made again; otherwise the
-- statement commits as it ends, still holding the lock.
--
-- So every claim that commits was checked against all the claims
-- committed before it, and the limit holds as before; the lock is held
-- only for the count and the commit. A check fails only when a claim
-- committed between the snapshot and the lock took the same room, or the
-- limit was lowered.
--
-- Most checks need no second count. Each claim adds the jobs it took to
-- its limit's claimed_total, under the lock, so a claim whose snapshot
-- saw claimed_total = T and running = R knows, once it holds the lock and
-- reads claimed_total = T', that at most R + (T' - T) jobs run now, its
-- own included: every job that started since its snapshot was added
-- there, and jobs that ended only leave more room. When that bound is
-- within the limit (for a limit over the whole channel that has not been
-- set again meanwhile: updated_at), the check is done; otherwise it
-- counts. A drain whose limit does not bind never counts twice; one at
-- its limit counts whenever another claim came between.
--
-- mq_limit_used stays for runners of version 16 during a rolling deploy.
-- They lock the same row before they count, and it now also adds 2^31 to
-- claimed_total, more than any limit, so that a check whose snapshot came
-- before an old claim always counts again: the claims of both versions
-- still check each other.
ALTER TABLE mq_channel_limits ADD COLUMN claimed_total bigint NOT NULL DEFAULT 0;

-- What `channel` holds at `at`, per key (its arguments with per_args,
-- else ''): the jobs a limited claim started that run, and the starts
-- younger than rate_period (none without a rate), leaving out the jobs
-- `excluded`. A key that holds nothing has no row.
CREATE FUNCTION mq_limit_count(
    channel text,
    per_args boolean,
    rate_period interval,
    at timestamptz,
    excluded uuid[] DEFAULT '{}'
) RETURNS TABLE (key text, running bigint, recent bigint)
LANGUAGE sql STABLE
AS $$
    SELECT u.key, sum(u.running)::bigint, sum(u.recent)::bigint
    FROM (
        SELECT CASE WHEN per_args THEN j.channel_args ELSE '' END AS key,
               count(*) AS running, 0 AS recent
        FROM mq_jobs j
        WHERE j.state = 'running' AND j.limit_slot AND j.channel_name = channel
          AND j.id <> ALL(excluded)
        GROUP BY 1
        UNION ALL
        SELECT CASE WHEN per_args THEN r.channel_args ELSE '' END,
               0, count(*)
        FROM mq_limit_claims r
        WHERE r.channel_name = channel AND r.claimed_at > at - rate_period
          AND r.job_id <> ALL(excluded)
        GROUP BY 1
    ) u
    GROUP BY u.key
$$;

-- Version 16's claim (see 0016_limit_used.sql), which now also adds 2^31
-- to claimed_total as it takes the lock (see above).
CREATE OR REPLACE FUNCTION mq_limit_used(
    channel text,
    per_args boolean,
    rate_period interval,
    at timestamptz
) RETURNS TABLE (key text, running bigint, recent bigint)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    UPDATE mq_channel_limits l
    SET claimed_total = l.claimed_total + 2147483648
    WHERE l.channel_name = channel;

    DELETE FROM mq_limit_claims r
    WHERE r.channel_name = channel
      AND (rate_period IS NULL OR r.claimed_at <= at - rate_period);

    RETURN QUERY SELECT * FROM mq_limit_count(channel, per_args, rate_period, at);
END;
$$;

-- Called by a limited claim once it has marked the jobs `claimed`, of
-- arguments `args` (one each): locks channel's limit until the claim
-- commits, adds the claim to its claimed_total, prunes the starts older
-- than its rate's period (all of them without a rate), and fails with a
-- serialization failure if a key the claim took from holds more than the
-- limit allows at `at`, counting the claim. `seen` is what the claim's
-- snapshot read: the limit's claimed_total and updated_at, and the running
-- jobs and recent starts of the whole channel, which bound what runs now
-- (see above) without a second count when the limit is over the whole
-- channel. The count, when made, leaves the claim's own jobs out and adds
-- them, so that it is right whether or not the calling statement's
-- changes are visible here. Returns true otherwise, at once when nothing
-- was claimed or the channel has no limit any more. Keys the claim did not
-- take from are not checked: a limit lowered below what runs holds back
-- only the claims that would add to it.
CREATE FUNCTION mq_limit_check(
    channel text,
    claimed uuid[],
    args text[],
    at timestamptz,
    seen_claimed_total bigint,
    seen_updated_at timestamptz,
    seen_running bigint,
    seen_recent bigint
) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    limit_row mq_channel_limits;
    started bigint;
BEGIN
    IF coalesce(cardinality(claimed), 0) = 0 THEN
        RETURN true;
    END IF;
    UPDATE mq_channel_limits l
    SET claimed_total = l.claimed_total + cardinality(claimed)
    WHERE l.channel_name = channel
    RETURNING l.* INTO limit_row;
    IF NOT FOUND THEN
        RETURN true;
    END IF;

    DELETE FROM mq_limit_claims r
    WHERE r.channel_name = channel
      AND (limit_row.rate_period IS NULL OR r.claimed_at <= at - limit_row.rate_period);

    -- The jobs started since the snapshot, this claim's included.
    started := limit_row.claimed_total - seen_claimed_total;
    IF NOT limit_row.per_args
       AND limit_row.updated_at = seen_updated_at
       AND started >= cardinality(claimed)
       AND (limit_row.concurrency IS NULL OR seen_running + started <= limit_row.concurrency)
       AND (limit_row.rate_count IS NULL OR seen_recent + started <= limit_row.rate_count) THEN
        RETURN true;
    END IF;

    IF EXISTS (
        SELECT 1
        FROM (
            SELECT CASE WHEN limit_row.per_args THEN a ELSE '' END AS key, count(*) AS taken
            FROM unnest(args) AS a
            GROUP BY 1
        ) mine
        LEFT JOIN mq_limit_count(channel, limit_row.per_args, limit_row.rate_period, at,
                                 claimed) u
            ON u.key = mine.key
        WHERE coalesce(u.running, 0) + mine.taken > limit_row.concurrency
           OR coalesce(u.recent, 0) + mine.taken > limit_row.rate_count
    ) THEN
        RAISE EXCEPTION 'channel %: a concurrent claim took the room of its limit', channel
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN true;
END;
$$;
