-- Reclaims the rows that claims and completions left dead. A claim moves a
-- job out of mq_jobs_ready and a completion deletes it, so the front of
-- each channel's range in that index fills with dead entries that every
-- later claim walks over until a vacuum removes them; autovacuum looks at
-- the table at most once a minute, which lets a busy queue pile up
-- hundreds of thousands of them. Runs with the simple protocol, outside any
-- transaction. Without ownership of mq_jobs PostgreSQL skips it with a
-- warning, which changes nothing.
VACUUM (SKIP_LOCKED) mq_jobs
