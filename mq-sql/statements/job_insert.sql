-- Inserts a batch of jobs in one statement, one array per column.
-- $1 id, $2 name, $3 channel_name, $4 channel_args, $5 payload_json (as text),
-- $6 payload_bytes, $7 delay (µs), $8 retries, $9 retry_backoff (µs),
-- $10 ordered, $11 commit_interval (µs, NULL without two-phase commit),
-- $12 now (NULL for the server clock), $13 retry_backoff_max (µs, NULL
-- for none), $14 retry_jitter, $15 timeout (µs, NULL for none), $16 priority.
--
-- Ordered jobs go in blocked; as the inserting transaction commits, the
-- first job of each ordered channel is unblocked (mq_ordered_settle, see
-- 0002_ordered_blocked.sql), which also sees jobs that concurrent
-- transactions spawned on the same channel.
--
-- Returns, per channel and priority where jobs are ready at once, the least
-- ready_seq of them: the notifications carry it, so that runners claim from
-- there. (A job of priority 0 takes its place from the column's default; of
-- another, from the trigger mq_jobs_ready_seq_insert.)
WITH inserted AS (
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, retries, retry_backoff, retry_backoff_max, retry_jitter,
                     timeout, priority, payload_json, payload_bytes)
SELECT j.id,
       CASE WHEN j.ordered THEN 'blocked'
            WHEN j.commit_us IS NOT NULL THEN 'uncommitted'
            WHEN j.delay_us = 0 THEN 'ready'
            ELSE 'scheduled' END::mq_job_state,
       j.name, j.channel_name, j.channel_args, j.ordered,
       t.now + j.delay_us * interval '1 microsecond',
       t.now + j.commit_us * interval '1 microsecond',
       j.retries,
       j.backoff_us * interval '1 microsecond',
       j.backoff_max_us * interval '1 microsecond',
       j.jitter,
       j.timeout_us * interval '1 microsecond',
       j.priority::smallint,
       j.payload_json::json,
       j.payload_bytes
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[],
            $7::bigint[], $8::int[], $9::bigint[], $10::bool[], $11::bigint[], $13::bigint[],
            $14::bool[], $15::bigint[], $16::int[])
         WITH ORDINALITY AS j(id, name, channel_name, channel_args, payload_json, payload_bytes,
                              delay_us, retries, backoff_us, ordered, commit_us, backoff_max_us,
                              jitter, timeout_us, priority, ord)
CROSS JOIN (SELECT coalesce($12::timestamptz, now()) AS now,
                   set_config('mq.now', coalesce($12::timestamptz::text, ''), true) AS setting) t
-- Identity values follow this order, so a batch keeps its order in its channels.
ORDER BY j.ord
RETURNING state, channel_name, channel_args, priority, ready_seq
)
SELECT channel_name, channel_args, min(ready_seq) AS ready_seq
FROM inserted
WHERE state = 'ready'
GROUP BY channel_name, channel_args, priority
