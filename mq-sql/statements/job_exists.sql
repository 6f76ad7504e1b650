SELECT EXISTS (SELECT 1 FROM mq_jobs WHERE id = $1) AS exists
