-- Whether job $1 exists: a completed job that is kept does not.
SELECT EXISTS (SELECT 1 FROM mq_jobs WHERE id = $1 AND state <> 'completed') AS exists
