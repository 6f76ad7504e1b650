-- mq schema, version 7: the state of a cancelled job.
--
-- A value added to an enum cannot be used in the transaction that adds
-- it, so this migration only adds it, and version 8 (committed apart)
-- puts it to use. Adding a value rewrites nothing: unlike version 2,
-- which recreated the type, this takes no lock on mq_jobs.
ALTER TYPE mq_job_state ADD VALUE IF NOT EXISTS 'cancelled' AFTER 'completed';
