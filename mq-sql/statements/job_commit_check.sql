-- Of the jobs $1 that job_commit.sql did not commit, those committed before.
-- A statement of its own, after job_commit.sql: a concurrent commit of the
-- same job makes job_commit.sql wait and then skip the row, and only a new
-- snapshot, taken after that wait, sees the job committed.
SELECT id FROM mq_jobs WHERE id = ANY($1::uuid[]) AND commit_deadline IS NULL
