-- mq schema, version 5: a cap on the wait between attempts, and jitter.
--
-- The runner computes each wait from the job's retry_backoff (doubled per
-- retry), now at most retry_backoff_max when set, and with retry_jitter
-- drawn between half of it and all of it. Both columns are added without
-- rewriting the table (a NULL default, and a constant one), so existing
-- jobs keep running as they were spawned: uncapped, without jitter.
ALTER TABLE mq_jobs
    ADD COLUMN retry_backoff_max interval,
    ADD COLUMN retry_jitter boolean NOT NULL DEFAULT false;
