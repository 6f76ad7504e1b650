-- mq schema, version 10: priorities.
--
-- Within a channel, claims take ready jobs of higher priority before older
-- jobs of lower priority. Claims already take a channel's jobs in the order
-- of their place in the ready queue (ready_seq, see 0003_ready_seq.sql), so
-- the priority goes into the place: a job of priority p that takes turn n
-- gets the place n - p × 2^47. Each priority then owns a range of places,
-- higher priorities before lower ones, and within it jobs keep the order
-- in which they became ready. The index, the claims' order and their
-- lower bound stay as they were; a runner's targeted claims ask for one
-- priority's range at a time (mq_core::ready_queue explains the numbers).
--
-- Added with a constant default, without rewriting the table: existing
-- jobs have priority 0, whose places are their turns, as before.
ALTER TABLE mq_jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0;

-- Every transition into 'ready' takes the next turn, placed by priority.
CREATE OR REPLACE FUNCTION mq_ready_seq_next() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.ready_seq := nextval('mq_jobs_ready_seq') - NEW.priority::bigint * 140737488355328;
    RETURN NEW;
END
$$;

-- A job inserted ready takes its place as it is inserted: job_insert.sql
-- sets ready_seq by the same formula (the column's default, a plain turn,
-- cannot see the priority). A trigger on INSERT would do it for any
-- statement, but it costs every spawn, whatever its priority: a BEFORE
-- INSERT trigger, even one whose WHEN clause is false, made one-job
-- inserts 15 % slower. An application that inserts jobs with its own SQL
-- and a priority other than 0 sets ready_seq likewise.
