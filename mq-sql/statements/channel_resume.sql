-- Resumes channel name $1. Returns a row if it was paused.
DELETE FROM mq_channel_pauses
WHERE channel_name = $1
RETURNING channel_name
