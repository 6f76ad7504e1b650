-- Jobs that pass the filter (/*filter*/, built by mq-sql's filter.rs,
-- parameters from $4) after place $1 in spawn order (NULL for the start),
-- at most $2, in spawn order, measured at $3 (NULL for the server clock);
-- without payloads, with only the latest error. ($3 is named in `clock`
-- too, because only some filters use it and every parameter needs a type.)
--
-- Mostly no index serves this (the hot path should not pay for one): it
-- reads the table, which is fine for an operator's occasional look. By ids
-- it uses the primary key.
SELECT id, seq, state::text AS state, name, channel_name, channel_args, ordered,
       attempt, retries, run_at, created_at,
       (errors -> -1)::text AS last_error
FROM mq_jobs, (SELECT $3::timestamptz AS at) AS clock
WHERE /*filter*/
  AND ($1::bigint IS NULL OR seq > $1::bigint)
ORDER BY seq
LIMIT $2::bigint
