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
-- Run only while nothing holds the horizon back (job_vacuum_useful.sql):
-- a rebuild waits for every transaction older than itself, and its result
-- would bloat again.
SELECT format('%I.%I', n.nspname, c.relname) AS index_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = 'mq_jobs'::regclass
  AND i.indisvalid
  AND pg_relation_size(c.oid) > pg_relation_size('mq_jobs'::regclass) + 262144
ORDER BY pg_relation_size(c.oid) DESC
