-- Deletes the jobs that pass the filter (/*filter*/, built by mq-sql's
-- filter.rs, parameters from $2), in any state, measured at $1 (NULL for the
-- server clock; also the clock an ordered job unblocked by the deletion is
-- measured against, through mq.now). A runner still running one finds its
-- lease gone when it completes, fails or checkpoints it.
DELETE FROM mq_jobs
USING (SELECT set_config('mq.now', coalesce($1::timestamptz::text, ''), true)) AS clock
WHERE /*filter*/
RETURNING id, seq
