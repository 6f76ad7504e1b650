-- Removes channel name $1's limit. Returns a row if there was one.
DELETE FROM mq_channel_limits WHERE channel_name = $1::text RETURNING channel_name
