-- Whether the xmin horizon is held back (`held`): a transaction that
-- started more than 10 s ago keeps a snapshot in this database, or a
-- replication slot keeps rows. And whether a vacuum of mq_jobs now could
-- remove anything (`useful`): while the horizon is held, vacuum can remove
-- no row that died since, yet still reads every page the queue touched,
-- which would cost a busy queue a core for nothing; then only one vacuum a
-- minute runs (by any process: the statistics say when the last one was),
-- for the rows that died before the horizon was held.
WITH horizon AS (
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity a
                   WHERE a.backend_xmin IS NOT NULL AND a.pid <> pg_backend_pid()
                     AND a.datname = current_database()
                     AND a.xact_start < now() - interval '10 seconds')
           OR EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.xmin IS NOT NULL) AS held
)
SELECT h.held,
       NOT h.held
       OR coalesce((SELECT greatest(last_vacuum, last_autovacuum) < now() - interval '60 seconds'
                    FROM pg_stat_user_tables WHERE relid = 'mq_jobs'::regclass), true) AS useful
FROM horizon h
