-- mq schema, version 11: unique jobs.
--
-- A job spawned with a unique key holds it, with its name, while it is not
-- finished (uncommitted, blocked, scheduled, ready or running) and, if it
-- was spawned with a unique_for, while it completed less than unique_for
-- ago. Spawning a job whose key is held inserts nothing and gives the
-- holder's id (job_insert.sql). A failed or cancelled job releases its key.
--
-- The unique index below is what makes that hold across processes and
-- transactions, with no window between a look and an insert: two spawns of
-- one key conflict in it, and the second waits for the first to commit or
-- roll back. It covers completed jobs too, because an index cannot tell
-- whether a completion is recent; a spawn first releases the keys of the
-- completed jobs whose unique_for has passed (setting them to NULL), in the
-- same statement.
--
-- Added with NULL defaults, without rewriting the table: existing jobs
-- have no key, and the index starts empty. The predicate goes by the
-- state's order (uncommitted, blocked, scheduled, ready, running, failed,
-- completed, cancelled), as in 0008_cancelled_jobs.sql.
ALTER TABLE mq_jobs ADD COLUMN unique_key text,
                    ADD COLUMN unique_for interval;

CREATE UNIQUE INDEX mq_jobs_unique ON mq_jobs (name, unique_key)
    WHERE unique_key IS NOT NULL AND (state <= 'running' OR state = 'completed');
