-- Jobs that pass the filter (/*filter*/, built by mq-sql's filter.rs,
-- parameters from $4) after job $1 in id order (the nil UUID for the
-- start), at most $2, in id order, measured at $3 (NULL for the server
-- clock); without payloads, with only the latest error. ($3 is named in
-- `clock` too, because only some filters use it and every parameter needs
-- a type.)
--
-- In id order because the primary key serves it: mq's ids are UUIDv7,
-- made in time order, so a page is a walk of the key from the cursor that
-- stops after $2 jobs that pass (or an index of the filter's, then a sort,
-- when few jobs pass). Spawn order (seq) has no index, which the hot path
-- would pay for, and a page in that order read the whole table: 394 ms
-- over a million jobs.
SELECT id, seq, state::text AS state, name, channel_name, channel_args, ordered,
       attempt, retries, run_at, created_at,
       (errors -> -1)::text AS last_error
FROM mq_jobs, (SELECT $3::timestamptz AS at) AS clock
WHERE /*filter*/
  AND id > $1::uuid
ORDER BY id
LIMIT $2::bigint
