-- Every runner that reported and has not stopped, by name then id.
SELECT id, name, started_at, seen_at, running, max_concurrency
FROM mq_runners
ORDER BY name, id
