-- Makes the failed jobs among those that pass the filter (/*filter*/, built
-- by mq-sql's filter.rs, parameters from $2) ready again at $1 (NULL for the
-- server clock), counting attempts from zero. The error history is kept,
-- and so is lease_token: it only ever grows, so a runner still holding a
-- lease of an earlier attempt stays fenced out. `state = 'failed'` lets it
-- find them through mq_jobs_finished. Returns each retried job, its place in
-- spawn order and its channel name (for notifying).
--
-- A job gave its unique key up when it failed (0011_unique_jobs.sql), and
-- runs again without it: another job may have taken the key since, and a
-- retry is an operator's explicit request to run this one.
UPDATE mq_jobs
SET state = 'ready',
    attempt = 0,
    run_at = coalesce($1::timestamptz, now()),
    unique_key = NULL
WHERE state = 'failed' AND /*filter*/
RETURNING id, seq, channel_name
