-- mq schema, version 2: ordered jobs that wait for their turn are 'blocked'.
--
-- In version 1 every ordered job waited in state 'ready' and each claim
-- worked out which one headed its channel. A channel whose head could not
-- run (failed, running elsewhere, backing off) still had ready rows, so
-- claims kept visiting it and finding nothing, and enough such channels
-- starved every other one. Now only the head of an ordered channel can be
-- 'ready'; the jobs behind it are 'blocked', out of every index a claim
-- reads, and the head's successor is unblocked when the head stops holding
-- the channel (it completes, is deleted, cancelled or discarded).
--
-- Who unblocks is settled at commit, not in each statement, so that it is
-- right for jobs spawned or completed in the application's own
-- transactions: every change to which ordered jobs hold a channel lists
-- the channel in the transaction (mq_ordered_touch), and a deferred
-- trigger re-establishes, just before the transaction commits, that
-- exactly the first of the channel's holding jobs is unblocked
-- (mq_ordered_settle). See the comments there for why that is live and
-- never runs two jobs of a channel at once.

-- A new enum value cannot be used in the transaction that adds it, and
-- migrations run in one transaction: recreate the type instead.
DROP INDEX mq_jobs_ready, mq_jobs_ordered, mq_jobs_due, mq_jobs_finished, mq_jobs_commit_deadline;
ALTER TYPE mq_job_state RENAME TO mq_job_state_v1;
CREATE TYPE mq_job_state AS ENUM (
    'uncommitted', -- spawned with a commit interval, awaiting commit; invisible to runners
    'blocked',     -- ordered, waiting for the jobs before it on its channel; uncommitted
                   -- while commit_deadline is set, delayed while run_at is ahead
    'scheduled',   -- waiting for run_at: spawned with a delay, or backing off before a retry
    'ready',       -- may be claimed
    'running',     -- claimed; run_at is when the lease lapses
    'failed',      -- out of attempts; kept with its errors; run_at is when it failed
    'completed'    -- completed, kept on request; run_at is when it completed
);
ALTER TABLE mq_jobs ALTER COLUMN state TYPE mq_job_state USING state::text::mq_job_state;
DROP TYPE mq_job_state_v1;

-- Existing ordered jobs behind their channel's head wait as blocked.
UPDATE mq_jobs j
SET state = 'blocked'
WHERE j.ordered AND j.state IN ('uncommitted', 'scheduled', 'ready')
  AND EXISTS (SELECT 1 FROM mq_jobs h
              WHERE h.ordered AND h.state <> 'completed'
                AND h.channel_name = j.channel_name AND h.channel_args = j.channel_args
                AND h.seq < j.seq);

-- Claiming: ready jobs by channel, in spawn order. Only runnable jobs are
-- here (an ordered channel has at most its head), so each channel a claim
-- visits gives it work: see job_claim.sql.
CREATE INDEX mq_jobs_ready ON mq_jobs (channel_name, channel_args, seq)
    WHERE state = 'ready';

-- The job holding each ordered channel, if any: at most one row per channel.
CREATE INDEX mq_jobs_ordered_head ON mq_jobs (channel_name, channel_args)
    WHERE ordered AND state NOT IN ('blocked', 'completed');

-- The jobs waiting behind each ordered channel's head, in turn.
CREATE INDEX mq_jobs_blocked ON mq_jobs (channel_name, channel_args, seq)
    WHERE state = 'blocked';

-- Scheduling: the next scheduled job to become ready, the next lease to lapse.
CREATE INDEX mq_jobs_due ON mq_jobs (run_at)
    WHERE state IN ('scheduled', 'running');

-- Pruning old failed and completed jobs, and retrying failed ones.
CREATE INDEX mq_jobs_finished ON mq_jobs (state, run_at)
    WHERE state IN ('failed', 'completed');

-- Discarding two-phase jobs whose commit interval lapsed, blocked or not.
CREATE INDEX mq_jobs_commit_deadline ON mq_jobs (commit_deadline)
    WHERE commit_deadline IS NOT NULL;

-- The advisory lock key of an ordered channel. Collisions only make two
-- channels settle one after the other.
CREATE FUNCTION mq_ordered_lock_key(channel_name text, channel_args text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended(length(channel_name)::text || ':' || channel_name || channel_args, 7013)
$$;

-- Unblocks the first holding job of each channel in `channels` (a JSON
-- array of [name, args] pairs) unless another of its holding jobs is
-- unblocked, at `at` (NULL for now()): the job becomes uncommitted, scheduled
-- or ready as its commit deadline and run_at say.
--
-- The channels' locks are taken first, in key order (so two transactions
-- settling overlapping channels wait for each other and never deadlock),
-- and held until commit. Every statement below runs after the locks are
-- held, and so (in READ COMMITTED) sees every transaction that settled the
-- same channels before: the second of two concurrent settlers sees what the
-- first did, and a job is unblocked only while none is. That keeps an
-- ordered channel to one unblocked job at a time. It is live because every
-- change that can leave a channel without an unblocked job (a spawn, or a
-- holding job completed, deleted, cancelled or discarded) settles that
-- channel before its transaction commits.
CREATE FUNCTION mq_ordered_settle_channels(channels jsonb, at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    key bigint;
    unblocked integer := 0;
    n integer;
    channel record;
BEGIN
    FOR key IN
        SELECT DISTINCT mq_ordered_lock_key(c ->> 0, c ->> 1)
        FROM jsonb_array_elements(channels) c
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(key);
    END LOOP;
    FOR channel IN
        SELECT DISTINCT c ->> 0 AS name, c ->> 1 AS args FROM jsonb_array_elements(channels) c
    LOOP
        UPDATE mq_jobs j
        SET state = CASE WHEN j.commit_deadline IS NOT NULL THEN 'uncommitted'
                         WHEN j.run_at > coalesce(at, now()) THEN 'scheduled'
                         ELSE 'ready' END::mq_job_state
        WHERE j.id = (SELECT b.id FROM mq_jobs b
                      WHERE b.state = 'blocked'
                        AND b.channel_name = channel.name AND b.channel_args = channel.args
                      ORDER BY b.seq
                      LIMIT 1)
          AND NOT EXISTS (SELECT 1 FROM mq_jobs h
                          WHERE h.ordered AND h.state NOT IN ('blocked', 'completed')
                            AND h.channel_name = channel.name AND h.channel_args = channel.args);
        GET DIAGNOSTICS n = ROW_COUNT;
        unblocked := unblocked + n;
    END LOOP;
    RETURN unblocked;
END
$$;

-- Row trigger: lists the channel of an ordered job whose holding changed
-- (spawned; deleted or completed while holding) in the transaction's
-- setting mq.ordered_touched, a comma-separated list of JSON [name, args]
-- pairs, for the settling at commit. A batch touches the same channel row
-- after row, so a channel equal to the last one listed is not listed again.
CREATE FUNCTION mq_ordered_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entry text;
    touched text := current_setting('mq.ordered_touched', true);
BEGIN
    IF TG_OP = 'DELETE' THEN
        entry := json_build_array(OLD.channel_name, OLD.channel_args)::text;
    ELSE
        entry := json_build_array(NEW.channel_name, NEW.channel_args)::text;
    END IF;
    IF touched IS NULL OR touched = '' THEN
        PERFORM set_config('mq.ordered_touched', entry, true);
    ELSIF current_setting('mq.ordered_last', true) IS DISTINCT FROM entry THEN
        PERFORM set_config('mq.ordered_touched', touched || ',' || entry, true);
    END IF;
    PERFORM set_config('mq.ordered_last', entry, true);
    RETURN NULL;
END
$$;

-- Deferred constraint trigger, at commit: settles every channel listed in
-- the transaction, once (the first call empties the list; the other calls
-- of the same commit find it empty). The clock is the statement's: mq.now,
-- which statements given an explicit time (tests) set, or now().
--
-- Outside READ COMMITTED a transaction's statements keep the snapshot it
-- started with and cannot see what concurrent settlers did, so settling
-- there could unblock a second job. Such transactions leave their channels
-- blocked and ask runners (NOTIFY) to settle them from their own
-- connections; runners also settle every channel left without an
-- unblocked job now and then (job_schedule.sql).
CREATE FUNCTION mq_ordered_settle() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched text := current_setting('mq.ordered_touched', true);
BEGIN
    IF touched IS NULL OR touched = '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('mq.ordered_touched', '', true);
    PERFORM set_config('mq.ordered_last', '', true);
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        PERFORM pg_notify('mq_jobs', '!settle');
        RETURN NULL;
    END IF;
    PERFORM mq_ordered_settle_channels(('[' || touched || ']')::jsonb,
                                       nullif(current_setting('mq.now', true), '')::timestamptz);
    RETURN NULL;
END
$$;

CREATE TRIGGER mq_jobs_ordered_touch_insert AFTER INSERT ON mq_jobs
    FOR EACH ROW WHEN (NEW.ordered) EXECUTE FUNCTION mq_ordered_touch();
CREATE TRIGGER mq_jobs_ordered_touch_update AFTER UPDATE OF state ON mq_jobs
    FOR EACH ROW WHEN (NEW.ordered AND OLD.state <> 'completed' AND NEW.state = 'completed')
    EXECUTE FUNCTION mq_ordered_touch();
CREATE TRIGGER mq_jobs_ordered_touch_delete AFTER DELETE ON mq_jobs
    FOR EACH ROW WHEN (OLD.ordered AND OLD.state <> 'completed')
    EXECUTE FUNCTION mq_ordered_touch();

CREATE CONSTRAINT TRIGGER mq_jobs_ordered_settle_insert AFTER INSERT ON mq_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.ordered) EXECUTE FUNCTION mq_ordered_settle();
CREATE CONSTRAINT TRIGGER mq_jobs_ordered_settle_update AFTER UPDATE OF state ON mq_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.ordered AND OLD.state <> 'completed' AND NEW.state = 'completed')
    EXECUTE FUNCTION mq_ordered_settle();
CREATE CONSTRAINT TRIGGER mq_jobs_ordered_settle_delete AFTER DELETE ON mq_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.ordered AND OLD.state <> 'completed')
    EXECUTE FUNCTION mq_ordered_settle();
