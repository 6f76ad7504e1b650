-- Pauses channel name $1 at $2 (NULL for the server clock). Returns a row
-- if it was not paused before.
INSERT INTO mq_channel_pauses (channel_name, paused_at)
VALUES ($1, coalesce($2::timestamptz, now()))
ON CONFLICT (channel_name) DO NOTHING
RETURNING channel_name
