-- Records $2 as the job of schedule $1's last tick: the job that held the
-- tick's unique key when schedule_fire.sql's insert found one.
UPDATE mq_schedules SET last_job_id = $2::uuid WHERE name = $1::text
