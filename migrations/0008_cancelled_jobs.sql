-- mq schema, version 8: cancelled jobs.
--
-- mq::cancel moves a job that has not finished to 'cancelled', with
-- run_at set to when it was cancelled. A running job's lease then is no
-- longer current (every statement made for a running job checks that it
-- is running), so whatever its runner later writes for it changes
-- nothing, and its runner is told (a notification, and its next
-- keep-alive). Cancelled jobs are kept, like failed ones, until deleted
-- or pruned.
--
-- A value added to an enum cannot be used before the transaction that
-- added it commits, and migrations run in one transaction (the caller's,
-- even, when it passes one). So nothing here names 'cancelled': the
-- predicates go by the type's order, in which the states a job finishes
-- in come last (failed < completed < cancelled), and the statements that
-- use these indexes spell their conditions the same way, so that the
-- planner matches them.
-- A cancelled ordered job no longer holds its channel: the job after it
-- is unblocked as the cancel commits, as for a completed one.
DROP INDEX mq_jobs_ordered_head;
-- Holding: any state but blocked up to failed (not completed, not
-- cancelled).
CREATE INDEX mq_jobs_ordered_head ON mq_jobs (channel_name, channel_args)
    WHERE ordered AND state <> 'blocked' AND state <= 'failed';

-- Pruning old failed, completed and cancelled jobs.
DROP INDEX mq_jobs_finished;
CREATE INDEX mq_jobs_finished ON mq_jobs (state, run_at)
    WHERE state >= 'failed';

-- As in version 2, with cancelled jobs among those that hold nothing.
CREATE OR REPLACE FUNCTION mq_ordered_settle_channels(channels jsonb, at timestamptz) RETURNS integer
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
                          WHERE h.ordered AND h.state <> 'blocked' AND h.state <= 'failed'
                            AND h.channel_name = channel.name AND h.channel_args = channel.args);
        GET DIAGNOSTICS n = ROW_COUNT;
        unblocked := unblocked + n;
    END LOOP;
    RETURN unblocked;
END
$$;

-- An ordered job that stops holding its channel by being cancelled lists
-- the channel for settling at commit, as one that completes does.
DROP TRIGGER mq_jobs_ordered_touch_update ON mq_jobs;
CREATE TRIGGER mq_jobs_ordered_touch_update AFTER UPDATE OF state ON mq_jobs
    FOR EACH ROW WHEN (NEW.ordered AND OLD.state < 'completed' AND NEW.state >= 'completed')
    EXECUTE FUNCTION mq_ordered_touch();
DROP TRIGGER mq_jobs_ordered_settle_update ON mq_jobs;
CREATE CONSTRAINT TRIGGER mq_jobs_ordered_settle_update AFTER UPDATE OF state ON mq_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.ordered AND OLD.state < 'completed' AND NEW.state >= 'completed')
    EXECUTE FUNCTION mq_ordered_settle();
-- Deleting a cancelled job frees nothing.
DROP TRIGGER mq_jobs_ordered_touch_delete ON mq_jobs;
CREATE TRIGGER mq_jobs_ordered_touch_delete AFTER DELETE ON mq_jobs
    FOR EACH ROW WHEN (OLD.ordered AND OLD.state < 'completed')
    EXECUTE FUNCTION mq_ordered_touch();
DROP TRIGGER mq_jobs_ordered_settle_delete ON mq_jobs;
CREATE CONSTRAINT TRIGGER mq_jobs_ordered_settle_delete AFTER DELETE ON mq_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.ordered AND OLD.state < 'completed')
    EXECUTE FUNCTION mq_ordered_settle();
