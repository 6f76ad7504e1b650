-- Copies the pending jobs of sqlxmq (mq_msgs + mq_payloads) into mq's
-- mq_jobs. Run it once, in one transaction, after mq::migrate and with
-- sqlxmq's runners stopped:
--
--   psql "$DATABASE_URL" -1 -f scripts/import-from-sqlxmq.sql
--
-- sqlxmq keeps the remaining attempts in `attempts` and the current backoff
-- in `retry_backoff`; a NULL `attempt_at` marks a message that ran out of
-- attempts; a non-NULL `commit_interval` marks an uncommitted two-phase
-- message (its `attempt_at` includes the interval); ordered messages have a
-- non-NULL `after_message_id`. Jobs are inserted in creation order, so
-- ordered channels keep their order: ordered jobs go in blocked, and as the
-- transaction commits the first of each channel is unblocked (becoming
-- ready, scheduled or uncommitted), as for jobs spawned by mq itself.
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, retries, retry_backoff,
                     payload_json, payload_bytes, errors, created_at)
SELECT m.id,
       CASE WHEN m.attempt_at IS NULL THEN 'failed'
            WHEN m.after_message_id IS NOT NULL THEN 'blocked'
            WHEN m.commit_interval IS NOT NULL THEN 'uncommitted'
            WHEN m.attempt_at <= now() THEN 'ready'
            ELSE 'scheduled' END::mq_job_state,
       p.name,
       m.channel_name,
       m.channel_args,
       m.after_message_id IS NOT NULL,
       CASE WHEN m.commit_interval IS NOT NULL THEN m.attempt_at - m.commit_interval
            ELSE coalesce(m.attempt_at, now()) END,
       CASE WHEN m.commit_interval IS NOT NULL THEN m.attempt_at END,
       0,
       greatest(m.attempts - 1, 0),
       m.retry_backoff,
       p.payload_json::text::json,
       p.payload_bytes,
       -- The error history, in the shape job_fail.sql writes it.
       CASE WHEN m.attempt_at IS NULL
            THEN jsonb_build_array(jsonb_build_object(
                     'attempt', 0, 'at', now(),
                     'error', 'imported from sqlxmq with no attempts left'))
       END,
       coalesce(m.created_at, now())
FROM mq_msgs m
JOIN mq_payloads p ON p.id = m.id
WHERE m.id <> '00000000-0000-0000-0000-000000000000'
ORDER BY m.created_at, m.id;
