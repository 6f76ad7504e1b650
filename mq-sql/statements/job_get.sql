-- Everything stored about job $1; for an unfinished ordered job, how many
-- unfinished ordered jobs of its channel were spawned before it: the
-- blocked ones and the one holding the channel, each counted in its own
-- partial index (mq_jobs_blocked, mq_jobs_ordered_head), whose predicates
-- the conditions repeat.
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
       trace_context, tick,
       errors::text AS errors,
       CASE WHEN j.ordered AND j.state <= 'failed' THEN
           (SELECT count(*) FROM mq_jobs b
            WHERE b.state = 'blocked'
              AND b.channel_name = j.channel_name AND b.channel_args = j.channel_args
              AND b.seq < j.seq)
           + (SELECT count(*) FROM mq_jobs h
              WHERE h.ordered AND h.state <> 'blocked' AND h.state <= 'failed'
                AND h.channel_name = j.channel_name AND h.channel_args = j.channel_args
                AND h.seq < j.seq)
       END AS ordered_ahead
FROM mq_jobs j
WHERE j.id = $1
