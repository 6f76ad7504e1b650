-- The paused channel names, in order, with when each was paused.
SELECT channel_name, paused_at
FROM mq_channel_pauses
ORDER BY channel_name
