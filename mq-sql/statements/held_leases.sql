-- The leases $1 (ids) and $2 (lease tokens) as the CTE `lease`, and the
-- running jobs whose leases among them are current, locked, as `held`. Not
-- a statement of its own: it opens every statement that changes many
-- running jobs at once (job_complete, job_complete_keep, job_fail,
-- job_release, job_keep_alive), each of which goes on with a CTE `changed`
-- of the rows it changed, and ends with lease_outcomes.sql.
--
-- Rows another transaction holds are skipped (the variants with SKIP
-- LOCKED, which runners use) rather than waited for: an application's
-- transaction that completed a job and is still open, or a keep-alive of
-- the same jobs, cannot stall a runner's batch, and two batches never wait
-- for each other, so they cannot deadlock. The skipped leases come out as
-- 'busy' and are tried again. A completion in the caller's own
-- transaction waits instead (job_complete without SKIP LOCKED).
WITH lease AS (
    SELECT * FROM unnest($1::uuid[], $2::int[]) AS l(id, lease_token)
),
-- Locked by id and lease token alone, the state checked after: with
-- `state = 'running'` in this scan, the planner may read the running jobs
-- from mq_jobs_due, the partial index of scheduled and running jobs, which
-- its statistics call tiny when they were taken with few jobs running. A
-- drain fills that index with thousands of entries, live and dead, and
-- batches that scanned it took 50 ms to 1.5 s (drains fell to a quarter of
-- their speed). Without the state, only the primary key can serve it. (A
-- job no longer running keeps its lease token until its next claim, so
-- such a row may be locked too, until this statement's transaction ends.)
locked AS (
    SELECT j.id, j.state, j.unique_for
    FROM mq_jobs j
    JOIN lease l ON j.id = l.id AND j.lease_token = l.lease_token
    -- Repeats the join's key as an index condition, so that the jobs are
    -- looked up by id whatever the table's statistics say.
    WHERE j.id = ANY($1::uuid[])
    FOR UPDATE OF j /*skip_locked*/
),
held AS (
    -- unique_for: a completion keeps the job to hold its unique key
    -- (job_complete.sql).
    SELECT id, unique_for IS NOT NULL AS holds_key_after FROM locked WHERE state = 'running'
),
