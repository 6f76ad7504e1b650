-- Deletes the jobs $1, in any state. A runner still running one finds its
-- lease gone when it completes, fails or checkpoints it.
DELETE FROM mq_jobs WHERE id = ANY($1::uuid[]) RETURNING id
