-- mq schema, version 7: the state of a cancelled job.
--
-- Added last, after 'completed', so that the states a job can finish in
-- are the last three of the type's order: failed, completed, cancelled.
-- Version 8 relies on that order. Adding a value rewrites nothing: unlike
-- version 2, which recreated the type, this takes no lock on mq_jobs.
ALTER TYPE mq_job_state ADD VALUE IF NOT EXISTS 'cancelled' AFTER 'completed';
