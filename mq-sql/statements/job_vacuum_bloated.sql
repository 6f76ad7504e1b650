-- The indexes of mq_jobs to rebuild after a vacuum (`REINDEX INDEX
-- CONCURRENTLY`, which blocks no claim or spawn), as qualified names.
--
-- Vacuum removes dead index entries but gives back none of the pages they
-- filled: after the xmin horizon was held back for a while, the indexes
-- keep the size they grew to (a thousand jobs a second held for five
-- minutes left 22 MiB of index over a queue of a few hundred jobs), and
-- every scan reads the half-empty pages. An index is rebuilt when it is
-- larger than the table itself by more than 256 kB, which an index of a
-- healthy queue never is, however long its backlog.
--
-- Only once nothing holds the horizon back: a rebuild waits for every
-- transaction older than itself, so it is not tried while a transaction
-- that started more than 10 s ago keeps a snapshot, or a replication slot
-- keeps rows (the rebuild would wait on it, and its result would bloat
-- again).
SELECT format('%I.%I', n.nspname, c.relname) AS index_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = 'mq_jobs'::regclass
  AND i.indisvalid
  AND pg_relation_size(c.oid) > pg_relation_size('mq_jobs'::regclass) + 262144
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                  WHERE a.backend_xmin IS NOT NULL AND a.pid <> pg_backend_pid()
                    AND a.datname = current_database()
                    AND a.xact_start < now() - interval '10 seconds')
  AND NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.xmin IS NOT NULL)
ORDER BY pg_relation_size(c.oid) DESC
