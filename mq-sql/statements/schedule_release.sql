-- Ends runner $1's leases: of every schedule it leads if $3, else of those
-- named in $2.
UPDATE mq_schedules
SET leader = NULL, leader_until = NULL
WHERE leader = $1::uuid
  AND ($3::boolean OR name = ANY ($2::text[]))
