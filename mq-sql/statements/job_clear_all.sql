-- Deletes every job.
DELETE FROM mq_jobs
