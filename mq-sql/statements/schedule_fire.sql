-- The check that makes each tick spawn once: moves schedule $1's due time
-- from $2 to $3, if it is still $2 and runner $4 holds the lease at $7
-- (NULL for the server clock), and records its last tick $5 (NULL: no
-- tick fired) with that tick's job $6. Run in a transaction with the
-- insert of the ticks' jobs (mq-sql's `schedule_fire`): a second firing
-- of the same ticks waits here for the first, then finds the due time
-- moved, changes nothing, and inserts nothing. Returns a row if it fired.
UPDATE mq_schedules
SET next_run_at = $3::timestamptz,
    last_run_at = coalesce($5::timestamptz, last_run_at),
    last_job_id = CASE WHEN $5::timestamptz IS NULL THEN last_job_id ELSE $6::uuid END
WHERE name = $1::text
  AND next_run_at = $2::timestamptz
  AND leader = $4::uuid
  AND leader_until > coalesce($7::timestamptz, now())
RETURNING name
