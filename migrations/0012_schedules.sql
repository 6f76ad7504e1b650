-- mq schema, version 12: periodic jobs' schedules.
--
-- One row per schedule, by name: its declaration (the job it spawns, its
-- cadence as text, for display), when it is next due, the last tick it
-- spawned, and its lease. Runners that declare a schedule write the row
-- every few seconds (schedule_declare.sql), which renews the lease they
-- hold and takes over one that lapsed; the lease is a row, not an advisory
-- lock, so that it works through a transaction pooler. The leader fires a
-- due schedule in one transaction that checks the due time it read and
-- moves it on (schedule_fire.sql): two runners that both think they lead
-- cannot both spawn a tick. Rows no runner declared for a while are
-- deleted by the next declaration.
--
-- A new table: the jobs table and its rows are untouched.
CREATE TABLE mq_schedules (
    name text PRIMARY KEY,
    job_name text NOT NULL,
    expression text NOT NULL,
    time_zone text,
    missed text NOT NULL,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz,
    last_job_id uuid,
    leader uuid,
    leader_until timestamptz,
    declared_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
