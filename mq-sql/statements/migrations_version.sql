-- The newest applied migration (NULL before the first).
SELECT max(version) AS version FROM mq_migrations
