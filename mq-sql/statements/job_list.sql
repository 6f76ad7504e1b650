-- Jobs of channel name $1 (NULL for all) in state $2 (NULL for all) after
-- place $3 in spawn order (NULL for the start), at most $4, in spawn order;
-- without payloads, with only the latest error.
--
-- No index serves this (the hot path should not pay for one): it reads the
-- table, which is fine for an operator's occasional look.
SELECT id, seq, state::text AS state, name, channel_name, channel_args, ordered,
       attempt, retries, run_at, created_at,
       (errors -> -1)::text AS last_error
FROM mq_jobs
WHERE ($1::text IS NULL OR channel_name = $1::text)
  AND ($2::text IS NULL OR state = $2::text::mq_job_state)
  AND ($3::bigint IS NULL OR seq > $3::bigint)
ORDER BY seq
LIMIT $4::bigint
