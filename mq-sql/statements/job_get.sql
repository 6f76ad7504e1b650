-- Everything stored about job $1.
SELECT id, seq, state::text AS state, name, channel_name, channel_args, ordered,
       attempt, retries,
       (extract(epoch FROM retry_backoff) * 1000000)::bigint AS retry_backoff_us,
       (extract(epoch FROM retry_backoff_max) * 1000000)::bigint AS retry_backoff_max_us,
       retry_jitter,
       (extract(epoch FROM timeout) * 1000000)::bigint AS timeout_us,
       priority::int AS priority,
       unique_key,
       (extract(epoch FROM unique_for) * 1000000)::bigint AS unique_for_us,
       run_at, commit_deadline, created_at,
       payload_json::text AS payload_json, payload_bytes,
       trace_context,
       errors::text AS errors
FROM mq_jobs
WHERE id = $1
