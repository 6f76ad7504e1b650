-- mq schema, version 4: an index of scheduled jobs alone, by time.
--
-- Each schedule run asks when the next scheduled job is due, to sleep
-- until then. mq_jobs_due serves scheduled and running jobs together (a
-- running job's run_at is when its lease lapses), and every claim and
-- completion leaves a dead entry there at a lease's end. While a held
-- xmin horizon keeps them, the search for the next time after now walked
-- every lease taken in the last lease period: tens of thousands of dead
-- entries, every second. Scheduled jobs alone are few, and their entries
-- go dead only when they become ready, which puts them before now. Lapsed
-- leases are no longer part of that answer: the runners' periodic
-- schedule runs find them, at most a poll interval late.
CREATE INDEX mq_jobs_scheduled ON mq_jobs (run_at)
    WHERE state = 'scheduled';
