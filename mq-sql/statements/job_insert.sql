-- Inserts a batch of jobs in one statement, one array per column.
-- $1 id, $2 name, $3 channel_name, $4 channel_args, $5 payload_json (as text),
-- $6 payload_bytes, $7 delay (µs), $8 retries, $9 retry_backoff (µs),
-- $10 ordered, $11 commit_interval (µs, NULL without two-phase commit),
-- $12 now (NULL for the server clock), $13 retry_backoff_max (µs, NULL
-- for none), $14 retry_jitter, $15 timeout (µs, NULL for none), $16
-- priority, $17 trace_context (NULL for none, see 0015_trace_context.sql),
-- $18 unique_key (NULL for none), $19 unique_for (µs, NULL for none), $20
-- tick (µs since the Unix epoch, NULL for none, see 0021_job_tick.sql).
--
-- Two variants (mq-sql's `job_insert`): a batch without unique keys or
-- ticks leaves out the lines between `--unique{` and `--}` (and $18 to
-- $20), so that its rows are inserted plainly, without the speculative
-- insertion ON CONFLICT makes for every row (see 0011_unique_jobs.sql),
-- and without the columns it has no use for: each costs a one-job spawn a
-- few percent. (A job with a tick always has a unique key: the runner that
-- fires a schedule gives its jobs both.)
--
-- Ordered jobs go in blocked; as the inserting transaction commits, the
-- first job of each ordered channel is unblocked (mq_ordered_settle, see
-- 0002_ordered_blocked.sql), which also sees jobs that concurrent
-- transactions spawned on the same channel.
--
-- Returns, per channel and priority where jobs are ready at once, the least
-- ready_seq of them (ord and holder NULL): the notifications carry it, so
-- that runners claim from there. (Each job takes its place here, by the
-- formula of 0010_priorities.sql: the next turn, moved ahead by its
-- priority.) With unique keys, also one row per job with a
-- key (channel NULL): its position in the batch (ord, from 1) and the job
-- that holds its key (holder), or NULL when that job committed after
-- mq_unique_holders looked for it (the insert then waited for it): the
-- caller spawns that job again.
WITH
--unique{
-- The jobs' keys, by position in the batch.
input AS (
    SELECT *
    FROM unnest($1::uuid[], $2::text[], $18::text[])
         WITH ORDINALITY AS j(id, name, unique_key, ord)
),
-- The jobs holding the batch's keys; expired holds are released first
-- (mq_unique_holders, 0011_unique_jobs.sql).
holders AS (
    SELECT * FROM mq_unique_holders($2::text[], $18::text[], coalesce($12::timestamptz, now()))
),
--}
inserted AS (
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, retries, retry_backoff, retry_backoff_max, retry_jitter,
                     timeout, priority, ready_seq, payload_json, payload_bytes, trace_context
--unique{
                     , unique_key, unique_for, tick
--}
                     )
SELECT j.id,
       CASE WHEN j.ordered THEN 'blocked'
            WHEN j.commit_us IS NOT NULL THEN 'uncommitted'
            WHEN j.delay_us = 0 THEN 'ready'
            ELSE 'scheduled' END::mq_job_state,
       j.name, j.channel_name, j.channel_args, j.ordered,
       clock.now + j.delay_us * interval '1 microsecond',
       clock.now + j.commit_us * interval '1 microsecond',
       j.retries,
       j.backoff_us * interval '1 microsecond',
       j.backoff_max_us * interval '1 microsecond',
       j.jitter,
       j.timeout_us * interval '1 microsecond',
       j.priority::smallint,
       -- Taken after the sort below, so in the batch's order.
       nextval('mq_jobs_ready_seq') - j.priority::bigint * 140737488355328,
       j.payload_json::json,
       j.payload_bytes,
       j.trace_context
--unique{
       , j.unique_key,
       j.unique_for_us * interval '1 microsecond',
       'epoch'::timestamptz + j.tick_us * interval '1 microsecond'
--}
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[],
            $7::bigint[], $8::int[], $9::bigint[], $10::bool[], $11::bigint[], $13::bigint[],
            $14::bool[], $15::bigint[], $16::int[], $17::text[]
--unique{
            , $18::text[], $19::bigint[], $20::bigint[]
--}
            )
         WITH ORDINALITY AS j(id, name, channel_name, channel_args, payload_json, payload_bytes,
                              delay_us, retries, backoff_us, ordered, commit_us, backoff_max_us,
                              jitter, timeout_us, priority, trace_context,
--unique{
                              unique_key, unique_for_us, tick_us,
--}
                              ord)
CROSS JOIN (SELECT coalesce($12::timestamptz, now()) AS now,
                   set_config('mq.now', coalesce($12::timestamptz::text, ''), true) AS setting) clock
--unique{
-- Reads every holder before the first insert: expired keys are free
-- before they are taken again.
CROSS JOIN (SELECT count(*) FROM holders) AS release_first
--}
-- Identity values follow this order, so a batch keeps its order in its
-- channels, and of jobs of the batch with one key, the first is inserted.
ORDER BY j.ord
--unique{
ON CONFLICT (name, unique_key)
    WHERE unique_key IS NOT NULL AND (state <= 'running' OR state = 'completed')
    DO NOTHING
--}
RETURNING state, channel_name, channel_args, priority, ready_seq
--unique{
          , id
--}
)
SELECT channel_name, channel_args, min(ready_seq) AS ready_seq
--unique{
       , NULL::bigint AS ord, NULL::uuid AS holder
--}
FROM inserted
WHERE state = 'ready'
GROUP BY channel_name, channel_args, priority
--unique{
UNION ALL
-- The holder of each key: the job itself, if inserted; else the first job
-- of the batch with that key, if inserted; else the job that held the key
-- before (if it committed before mq_unique_holders looked for it).
-- Joins, not subqueries per job, so that a batch of n keys costs n, not n².
SELECT NULL, NULL, NULL, j.ord, coalesce(own.id, first.id, before.id)
FROM input j
LEFT JOIN inserted own ON own.id = j.id
LEFT JOIN (SELECT f.name, f.unique_key, i.id
           FROM input f JOIN inserted i ON i.id = f.id) first
       ON first.name = j.name AND first.unique_key = j.unique_key
LEFT JOIN holders before
       ON own.id IS NULL AND first.id IS NULL
      AND before.name = j.name AND before.unique_key = j.unique_key
WHERE j.unique_key IS NOT NULL
--}
