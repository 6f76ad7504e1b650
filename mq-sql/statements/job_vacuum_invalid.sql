-- Indexes of mq_jobs that a rebuild left behind unfinished (it timed out,
-- or its connection died): `REINDEX ... CONCURRENTLY` builds a copy named
-- `<index>_ccnew`, which, invalid, serves no query but still costs every
-- write. Dropped (`DROP INDEX CONCURRENTLY`) before the next rebuild.
SELECT format('%I.%I', n.nspname, c.relname) AS index_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = 'mq_jobs'::regclass
  AND NOT i.indisvalid
  AND c.relname ~ '_ccnew[0-9]*$'
