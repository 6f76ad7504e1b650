-- mq schema, version 11: unique jobs.
--
-- A job spawned with a unique key holds it, with its name, while it is not
-- finished (uncommitted, blocked, scheduled, ready or running) and, if it
-- was spawned with a unique_for, while it completed less than unique_for
-- ago. Spawning a job whose key is held inserts nothing and gives the
-- holder's id (job_insert.sql). A failed or cancelled job releases its key.
--
-- The unique index below is what makes that hold across processes and
-- transactions, with no window between a look and an insert: two spawns of
-- one key conflict in it, and the second waits for the first to commit or
-- roll back. It covers completed jobs too, because an index cannot tell
-- whether a completion is recent; a spawn first releases the keys of the
-- completed jobs whose unique_for has passed (setting them to NULL), in the
-- same statement (mq_unique_holders, below).
--
-- Added with NULL defaults, without rewriting the table: existing jobs
-- have no key, and the index starts empty. The predicate goes by the
-- state's order (uncommitted, blocked, scheduled, ready, running, failed,
-- completed, cancelled), as in 0008_cancelled_jobs.sql.
ALTER TABLE mq_jobs ADD COLUMN unique_key text,
                    ADD COLUMN unique_for interval;

CREATE UNIQUE INDEX mq_jobs_unique ON mq_jobs (name, unique_key)
    WHERE unique_key IS NOT NULL AND (state <= 'running' OR state = 'completed');

-- For each job name names[i] and key keys[i] (NULL: no key): the job that
-- holds the key as of `at`, if any. A completed job whose hold is over is
-- found too, and gives its key up (it stays, as a completed job without a
-- key), so that the index lets the key be taken again.
--
-- The spawn statement (job_insert.sql) calls this once, before it inserts.
-- One index probe per key, made in a loop so that no plan can read the
-- whole table instead: a queue's table is often near empty when its
-- statistics are taken, and a burst of unique spawns then met plans that
-- did, once per statement (a batch of 1,000 keys took 80 ms against a
-- table of 100,000 jobs). VOLATILE, since it writes: in READ COMMITTED each
-- probe sees the holders committed so far, even those that committed after
-- the spawn statement began.
CREATE FUNCTION mq_unique_holders(names text[], keys text[], at timestamptz)
RETURNS TABLE (name text, unique_key text, id uuid)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
AS $$
DECLARE
    k record;
    held record;
BEGIN
    FOR k IN SELECT DISTINCT t.n, t.u FROM unnest(names, keys) AS t(n, u)
             WHERE t.u IS NOT NULL LOOP
        SELECT j.id, j.state, j.run_at, j.unique_for INTO held
        FROM mq_jobs j
        WHERE j.name = k.n AND j.unique_key = k.u
          AND (j.state <= 'running' OR j.state = 'completed');
        CONTINUE WHEN NOT FOUND;
        IF held.state = 'completed'
           AND held.run_at + coalesce(held.unique_for, interval '0') <= at THEN
            UPDATE mq_jobs j SET unique_key = NULL
            WHERE j.id = held.id AND j.unique_key IS NOT NULL;
        ELSE
            name := k.n;
            unique_key := k.u;
            id := held.id;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
