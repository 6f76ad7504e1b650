-- mq schema, version 18: a limited claim counts its channel's running jobs
-- only when a bound kept in the limit's row leaves it in doubt.
--
-- Up to version 17 every limited claim counted the running jobs of its
-- channel (mq_limit_count): a visit to each of them, and to every index
-- entry left by the limited jobs that ran since vacuum last passed. While
-- a long transaction holds the xmin horizon back, vacuum can remove none
-- of those, and each claim's count grows with every limited job that ran
-- meanwhile (15,000 entries for 15,000 jobs). With the claims of version
-- 18 also starting from the places their runner knows rather than from
-- the front of each argument (job_claim_limited.sql), a drain limited to
-- 1,000 at once under a held horizon went from an eighth of the same
-- drain unlimited to two thirds of it.
--
-- Every limited claim adds the jobs it took to claimed_total, under the
-- lock of mq_limit_check. The new column released_total counts slots
-- known to have been given back, such that at any time claimed_total -
-- released_total is at least the number of running jobs that the
-- channel's limited claims started. It is set after a count: a claim
-- whose snapshot saw claimed_total = T and counted R running jobs knows
-- that, of the T jobs claimed up to its snapshot, at least T - R had been
-- given back; the jobs claimed after it add to claimed_total as they
-- start. Each check sets it to the greatest such value: an older count's
-- is a looser bound, still true, so it only tightens.
--
-- A claim on a limit over the whole channel with a concurrency and no
-- rate reads the bound from the row its snapshot sees; when the bound
-- plus the jobs it asks for is within the concurrency, it does not count,
-- and passes the bound to mq_limit_check as what ran at its snapshot (an
-- upper bound serves there as well as the count: the check adds what
-- started since). Otherwise it counts, as before, and its check tightens
-- the bound. A drain whose limit does not bind counts once every few
-- claims; one at its limit counts at every claim, as before.
--
-- The check itself now runs in the claim's statement
-- (job_claim_limited_record.sql) rather than in mq_limit_check, which
-- stays for the claims of version 17: a plpgsql call and its two
-- statements cost a claim of 64 jobs 0.14 ms of its 1.7. Its second count,
-- when the bound and the claims since leave the claim in doubt, is
-- mq_limit_recount, which both call.
--
-- NULL is no bound (a limit set anew): the first claim counts. Claims of
-- version 16 add 2^31 to claimed_total, which leaves the bound useless
-- until the next count; claims of version 17 always count, and their
-- checks, which run the function below from now on, tighten it too.
ALTER TABLE mq_channel_limits ADD COLUMN released_total bigint;

-- The check's second count, under a snapshot taken after the limit's lock
-- (a VOLATILE function's statements each take one): fails with a
-- serialization failure if a key the claim took from (`claimed`, whose
-- arguments are `args`) would hold more than the limit allows, counting
-- every claim committed before and adding this one's jobs.
CREATE FUNCTION mq_limit_recount(
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
BEGIN
    IF EXISTS (
        SELECT 1
        FROM (
            SELECT CASE WHEN per_args THEN a ELSE '' END AS key, count(*) AS taken
            FROM unnest(args) AS a
            GROUP BY 1
        ) mine
        LEFT JOIN mq_limit_count(channel, per_args, rate_period, at, claimed) u
            ON u.key = mine.key
        WHERE coalesce(u.running, 0) + mine.taken > concurrency
           OR coalesce(u.recent, 0) + mine.taken > rate_count
    ) THEN
        RAISE EXCEPTION 'channel %: a concurrent claim took the room of its limit', channel
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN true;
END;
$$;

-- Version 17's check, for the claims of version 17 during a rolling
-- deploy: it now also tightens released_total, and counts again with
-- mq_limit_recount. The claims of version 18 make the same check in
-- their statement (job_claim_limited_record.sql), without the call.
CREATE OR REPLACE FUNCTION mq_limit_check(
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
    -- seen_running is what ran over the whole channel only for a limit
    -- over the whole channel, not set again since the snapshot.
    UPDATE mq_channel_limits l
    SET claimed_total = l.claimed_total + cardinality(claimed),
        released_total = CASE
            WHEN NOT l.per_args AND l.updated_at = seen_updated_at
                THEN greatest(l.released_total, seen_claimed_total - seen_running)
            ELSE l.released_total
        END
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
    RETURN mq_limit_recount(channel, claimed, args, at, limit_row.per_args,
                            limit_row.concurrency, limit_row.rate_count,
                            limit_row.rate_period);
END;
$$;
