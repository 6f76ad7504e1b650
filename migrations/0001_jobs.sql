-- mq schema, version 1: one narrow table of jobs.
--
-- A job is one row from spawn until it completes (the row is deleted, or
-- kept in state 'completed' by runners that keep completed jobs), is cleared
-- or deleted, or is discarded (two-phase jobs never committed). Jobs that run
-- out of attempts stay, in state 'failed', for inspection, until retried,
-- deleted or pruned.

CREATE TYPE mq_job_state AS ENUM (
    'uncommitted', -- spawned with a commit interval, awaiting commit; invisible to runners
    'scheduled',   -- waiting for run_at: spawned with a delay, or backing off before a retry
    'ready',       -- may be claimed (an ordered job only once it heads its channel)
    'running',     -- claimed; run_at is when the lease lapses
    'failed',      -- out of attempts; kept with its errors; run_at is when it failed
    'completed'    -- completed, kept on request; run_at is when it completed
);

CREATE TABLE mq_jobs (
    id              uuid PRIMARY KEY,
    -- Spawn order: claims take a channel's jobs in this order, and an ordered
    -- job waits for every ordered job of its channel with a smaller seq.
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    state           mq_job_state NOT NULL,
    name            text NOT NULL,
    channel_name    text NOT NULL,
    channel_args    text NOT NULL,
    ordered         boolean NOT NULL,
    -- The time of the job's next transition: when a scheduled job becomes
    -- ready, or when a running job's lease lapses. For a ready job, when it
    -- became ready; for a failed or completed one, when it failed or completed.
    run_at          timestamptz NOT NULL,
    -- For uncommitted jobs: when they are discarded if still uncommitted.
    commit_deadline timestamptz,
    -- Attempts started so far (a release gives one back).
    attempt         integer NOT NULL DEFAULT 0,
    -- Claims so far, never decreasing: the fencing token of the running
    -- claim. Every change made for a running job names its token.
    lease_token     integer NOT NULL DEFAULT 0,
    -- Attempts allowed after the first.
    retries         integer NOT NULL,
    retry_backoff   interval NOT NULL,
    payload_json    json,
    payload_bytes   bytea,
    -- The latest failed attempts (at most 20, oldest first), each
    -- {"attempt": int, "at": timestamptz, "error": text}; NULL before the
    -- first failure, so that the hot path writes nothing here.
    errors          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Claiming: ready jobs by channel, unordered before ordered, in spawn order.
-- Claims skip from channel to channel along this index, so their cost grows
-- with the number of channels they visit, not with the depth of the queue.
CREATE INDEX mq_jobs_ready ON mq_jobs (channel_name, channel_args, ordered, seq)
    WHERE state = 'ready';

-- The head of each ordered channel: its ordered job with the smallest seq,
-- in any state but completed, holds the channel.
CREATE INDEX mq_jobs_ordered ON mq_jobs (channel_name, channel_args, seq)
    WHERE ordered AND state <> 'completed';

-- Scheduling: the next scheduled job to become ready, the next lease to lapse.
CREATE INDEX mq_jobs_due ON mq_jobs (run_at)
    WHERE state IN ('scheduled', 'running');

-- Pruning old failed and completed jobs, and retrying failed ones. Rows enter
-- this index only when they fail or are kept completed, never on the hot path.
CREATE INDEX mq_jobs_finished ON mq_jobs (state, run_at)
    WHERE state IN ('failed', 'completed');

-- Discarding two-phase jobs whose commit interval lapsed.
CREATE INDEX mq_jobs_commit_deadline ON mq_jobs (commit_deadline)
    WHERE state = 'uncommitted';

-- A queue table churns: every job is inserted, updated and deleted. Vacuum
-- it sooner than the defaults so dead tuples do not pile up in the indexes.
ALTER TABLE mq_jobs SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
);
