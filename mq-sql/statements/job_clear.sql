-- Deletes every job of the channel names $1, in any state.
DELETE FROM mq_jobs WHERE channel_name = ANY($1::text[])
