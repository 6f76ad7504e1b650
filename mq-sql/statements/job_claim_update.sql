-- The end of job_claim.sql and job_claim_targeted.sql: marks the jobs
-- `picked` running and returns them.
--
-- `= ANY(ARRAY(...))` rather than a join with `picked`: the planner then
-- looks each job up by its key, whatever its statistics say about a table
-- whose size swings from empty to millions and back. The state is compared
-- as text for the same reason: compared as itself, it lets the planner
-- scan the partial index of ready jobs instead, which its statistics call
-- small but which a held-back xmin horizon fills with dead entries.
UPDATE mq_jobs j
SET state = 'running',
    attempt = j.attempt + 1,
    lease_token = j.lease_token + 1,
    run_at = coalesce($5::timestamptz, now()) + $2::bigint * interval '1 microsecond',
    -- Whether the job holds a slot of its channel's limit while it runs:
    -- true for the limited claim (see 0016_limit_used.sql).
    limit_slot = /*limit_slot*/false
-- A claim need not wait for its commit to reach disk: if a crash loses it,
-- the job is simply ready again and runs again, which at-least-once
-- delivery allows. Anything the job then makes durable (its completion,
-- writes in the same database) flushes the WAL, and the claim with it.
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
  AND j.state::text = 'ready'
RETURNING j.id, j.attempt, j.lease_token, j.name, j.channel_name, j.channel_args, j.ordered, j.retries,
          (extract(epoch FROM j.retry_backoff) * 1000000)::bigint AS retry_backoff_us,
          (extract(epoch FROM j.retry_backoff_max) * 1000000)::bigint AS retry_backoff_max_us,
          j.retry_jitter,
          (extract(epoch FROM j.timeout) * 1000000)::bigint AS timeout_us,
          j.payload_json::text AS payload_json, j.payload_bytes, j.ready_seq, j.trace_context,
          j.tick
