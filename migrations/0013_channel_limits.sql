-- mq schema, version 13: limits on channels, across every process.
--
-- A channel name with a row here has its jobs claimed only by limited
-- claims (job_claim_limited.sql); the other claims pass it over, with one
-- primary-key probe per channel as for pauses. A limit caps how many of
-- the channel's jobs run at once (concurrency) and how many start in any
-- window of rate_period (rate_count): over the whole channel, or, with
-- per_args, over each of its arguments apart (per customer, say).
--
-- Limited claims are made one at a time per channel: each locks the
-- channel's row, then, in a statement whose snapshot therefore sees every
-- claim before it, counts what the channel holds and claims no more than
-- the limit leaves. What it holds is read from mq_limit_claims, one row
-- per job a limited claim started: a row counts as running while its job
-- runs under that claim's lease token (a job whose lease expired frees its
-- slot when it is made ready again), and as a start while it is younger
-- than rate_period. Rows are pruned by the
-- claims themselves. Only limited channels write or read them: the claims
-- of other channels pay the probe and nothing else.
--
-- New tables: the jobs table and its rows are untouched.
CREATE TABLE mq_channel_limits (
    channel_name text PRIMARY KEY,
    per_args boolean NOT NULL,
    concurrency integer,
    rate_count integer,
    rate_period interval,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (concurrency IS NOT NULL OR rate_count IS NOT NULL),
    CHECK ((rate_count IS NULL) = (rate_period IS NULL))
);

CREATE TABLE mq_limit_claims (
    job_id uuid NOT NULL,
    lease_token integer NOT NULL,
    channel_name text NOT NULL,
    channel_args text NOT NULL,
    claimed_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, lease_token)
);

CREATE INDEX mq_limit_claims_channel ON mq_limit_claims (channel_name, channel_args, claimed_at);
