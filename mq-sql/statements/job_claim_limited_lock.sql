-- The first statement of a limited claim (mq-sql's `job_claim_limited`):
-- locks channel name $1's limit until the claim commits, so that claims of
-- one limited channel are made one after another, and each statement that
-- follows sees the claims before it. Returns nothing if the channel has no
-- limit.
SELECT channel_name FROM mq_channel_limits WHERE channel_name = $1::text FOR UPDATE
