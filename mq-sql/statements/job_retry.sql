-- Makes the failed jobs among $1 (of channel name $2, NULL for any) ready
-- again at $3 (NULL for the server clock), counting attempts from zero. The
-- error history is kept, and so is lease_token: it only ever grows, so a
-- runner still holding a lease of an earlier attempt stays fenced out.
-- Returns each retried job and its channel name (for notifying).
UPDATE mq_jobs
SET state = 'ready',
    attempt = 0,
    run_at = coalesce($3::timestamptz, now())
WHERE id = ANY($1::uuid[]) AND state = 'failed'
  AND ($2::text IS NULL OR channel_name = $2::text)
RETURNING id, channel_name
