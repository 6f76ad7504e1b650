-- The counts of the minutes that end after now - $1 (µs), by minute then
-- channel name. $2 is now (NULL for the server clock).
SELECT minute, channel_name, completed, retried, failed
FROM mq_job_counts
WHERE minute > coalesce($2::timestamptz, now())
               - $1::bigint * interval '1 microsecond' - interval '1 minute'
ORDER BY minute, channel_name
