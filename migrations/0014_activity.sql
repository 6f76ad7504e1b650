-- mq schema, version 14: what runners report of their work, for the
-- dashboard's overview and charts, without counting the jobs table.
--
-- Each runner writes one statement every few seconds
-- (activity_record.sql): its row in mq_runners (alive, how many jobs it
-- runs), and the attempts that ended since its last write, added to
-- mq_job_counts per minute and channel name. The same statement prunes
-- minutes older than the retention and runners not seen for a while, so
-- both tables stay a few thousand rows whatever the load, and a write
-- touches one row per channel active in the last seconds.
--
-- New tables: the jobs table and its rows are untouched.
CREATE TABLE mq_runners (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL,
    running integer NOT NULL,
    max_concurrency integer NOT NULL
);

CREATE TABLE mq_job_counts (
    minute timestamptz NOT NULL,
    channel_name text NOT NULL,
    completed bigint NOT NULL,
    retried bigint NOT NULL,
    failed bigint NOT NULL,
    PRIMARY KEY (minute, channel_name)
);
