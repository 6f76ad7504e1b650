-- Wakes listening runners: one notification per distinct payload.
-- Sent as its own statement after job_insert so that, outside a transaction,
-- the insert commits without taking PostgreSQL's global NOTIFY commit lock.
SELECT pg_notify('mq_jobs', p) FROM unnest($1::text[]) AS p
