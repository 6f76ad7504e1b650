-- mq schema, version 3: a job's place in the ready queue, so that a claim
-- can start past the jobs already claimed.
--
-- Every claim turns ready rows into running ones, and each such update
-- leaves an index entry for the ready version behind. Vacuum removes those
-- entries, but only once no transaction can still see the old versions:
-- while a long transaction or a replication slot holds the xmin horizon
-- back, they pile up at the front of every busy channel in mq_jobs_ready,
-- and a claim that starts from a channel's front walks all of them (a
-- thousand jobs a second leaves 600,000 after ten minutes).
--
-- ready_seq numbers jobs in the order they became ready. A runner
-- remembers, per channel, the ready_seq after the last job it claimed
-- there (and notifications of new jobs carry theirs), and claims with a
-- lower bound on it: the index seek lands past the dead entries instead of
-- walking them. See job_claim_targeted.sql, and the claim loop in mq-core.
CREATE SEQUENCE mq_jobs_ready_seq;

-- Added with a constant default (no table rewrite), then numbered where it
-- matters: ready jobs keep their order. Jobs in other states take a number
-- when they become ready.
ALTER TABLE mq_jobs ADD COLUMN ready_seq bigint NOT NULL DEFAULT 0;
UPDATE mq_jobs SET ready_seq = seq WHERE state = 'ready';
SELECT setval('mq_jobs_ready_seq', greatest((SELECT max(seq) FROM mq_jobs), 1));
ALTER TABLE mq_jobs ALTER COLUMN ready_seq SET DEFAULT nextval('mq_jobs_ready_seq');

-- Every transition into 'ready' takes the next number, whichever statement
-- makes it (a retry, a release, a schedule, an unblocking at commit, the
-- application's own SQL): a trigger, so that no path can forget. It costs
-- the claim nothing: its WHEN clause is false there, and is evaluated
-- without calling the function.
CREATE FUNCTION mq_ready_seq_next() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.ready_seq := nextval('mq_jobs_ready_seq');
    RETURN NEW;
END
$$;

CREATE TRIGGER mq_jobs_ready_seq BEFORE UPDATE OF state ON mq_jobs
    FOR EACH ROW WHEN (NEW.state = 'ready' AND OLD.state <> 'ready')
    EXECUTE FUNCTION mq_ready_seq_next();

-- Claiming: ready jobs by channel, in the order they became ready.
DROP INDEX mq_jobs_ready;
CREATE INDEX mq_jobs_ready ON mq_jobs (channel_name, channel_args, ready_seq)
    WHERE state = 'ready';
