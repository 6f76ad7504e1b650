-- mq schema, version 19: a second count under the limit's lock tightens
-- the bound of version 18.
--
-- A claim that its bound and the claims since its snapshot leave in doubt
-- counts again under the limit's lock (mq_limit_recount), in a snapshot
-- taken after the lock: every claim committed before is in it, and none
-- can start more jobs until this one ends, because each must take the
-- lock to add its jobs to claimed_total. That count, plus this claim's
-- jobs, is then exactly what runs, and claimed_total minus it exactly
-- what has been given back. Version 18 threw it away, so that with
-- several runner processes the bound, tightened only by the counts at a
-- claim's snapshot (which miss the jobs that end while the claim runs),
-- stayed loose, and the next claims counted again under the lock too:
-- two claims in five, with 4 processes on a limit that never bound,
-- while every other claim waited.
--
-- Now the second count also sets released_total (for a limit over the
-- whole channel, as version 18's tightening), and like every tightening
-- only raises it. Jobs that end after the count only make the bound
-- looser; jobs that start after it add to claimed_total as they start.
CREATE OR REPLACE FUNCTION mq_limit_recount(
    channel text,
    claimed uuid[],
    args text[],
    at timestamptz,
    per_args boolean,
    concurrency integer,
    rate_count integer,
    rate_period interval
) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    over boolean;
    running bigint;
BEGIN
    SELECT bool_or(coalesce(u.running, 0) + mine.taken > concurrency
                   OR coalesce(u.recent, 0) + mine.taken > rate_count),
           sum(coalesce(u.running, 0) + mine.taken)
    INTO over, running
    FROM (
        SELECT CASE WHEN per_args THEN a ELSE '' END AS key, count(*) AS taken
        FROM unnest(args) AS a
        GROUP BY 1
    ) mine
    LEFT JOIN mq_limit_count(channel, per_args, rate_period, at, claimed) u
        ON u.key = mine.key;
    IF over THEN
        RAISE EXCEPTION 'channel %: a concurrent claim took the room of its limit', channel
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF NOT per_args AND running IS NOT NULL THEN
        UPDATE mq_channel_limits l
        SET released_total = greatest(l.released_total, l.claimed_total - running)
        WHERE l.channel_name = channel;
    END IF;
    RETURN true;
END;
$$;
