-- Every schedule, by name; the leader only while its lease is current at
-- $1 (NULL for the server clock). defined_at is NULL for a row that no
-- runner has declared since migration 20 gave it '-infinity'.
SELECT name, job_name, expression, time_zone, missed, next_run_at, last_run_at,
       last_job_id,
       CASE WHEN leader_until > coalesce($1::timestamptz, now()) THEN leader END AS leader,
       CASE WHEN leader_until > coalesce($1::timestamptz, now()) THEN leader_until END
           AS leader_until,
       declared_at,
       nullif(defined_at, '-infinity') AS defined_at
FROM mq_schedules
ORDER BY name
