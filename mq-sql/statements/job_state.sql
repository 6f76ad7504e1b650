SELECT state::text AS state FROM mq_jobs WHERE id = $1
