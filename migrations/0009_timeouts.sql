-- mq schema, version 9: how long one attempt of a job may run.
--
-- The runner stops an attempt still running at its timeout and records it
-- as failed (retried while retries remain). Added with a NULL default,
-- without rewriting the table: existing jobs run without a limit.
ALTER TABLE mq_jobs ADD COLUMN timeout interval;
