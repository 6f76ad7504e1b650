-- mq schema, version 20: the newest definition of a schedule wins.
--
-- Runners declare their schedules every quarter of a lease, and until
-- version 19 each declaration wrote its definition (job, cadence, missed
-- ticks policy) over the row's. During a rolling deploy that changes a
-- schedule, the old processes and the new ones then wrote theirs in turn,
-- and each change of cadence moved the due time back to that process's
-- first tick, for as long as both versions ran.
--
-- Now a row also keeps when its definition was taken up (defined_at: when
-- the first runner declaring it began to, on the database's clock) and
-- when a runner last declared it (definition_declared_at). Each runner
-- gives, for each schedule, when it began declaring the definition it
-- holds. A different definition that is older than the row's changes
-- nothing, and the runner declaring it takes no lease; the runner that
-- brings a newer definition takes the lease at once. So only runners of
-- the newest definition fire the schedule.
-- Once no runner has declared the row's definition for a lease (the new
-- version was rolled back, say), an older one is taken up again.
--
-- Rows of version 19 get '-infinity' for both: the first declaration by
-- version 20 code sets their definition as before. Runners of version 19
-- code still write theirs over the row's, as they did, until they are
-- replaced.
ALTER TABLE mq_schedules
    ADD COLUMN defined_at timestamptz NOT NULL DEFAULT '-infinity',
    ADD COLUMN definition_declared_at timestamptz NOT NULL DEFAULT '-infinity';
