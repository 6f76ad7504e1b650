-- Closes the statements that open with held_leases.sql: what became of each
-- lease. 'done' (or, for job_fail, the job's new state) when its row was
-- changed; 'busy' when its lease is current but another transaction held
-- the row (as of this statement's snapshot, which predates that
-- transaction's change, if it made one); 'lost' otherwise.
SELECT l.id, l.lease_token,
       CASE WHEN c.id IS NOT NULL THEN c.outcome
            WHEN EXISTS (SELECT 1 FROM mq_jobs m
                         WHERE m.id = l.id AND m.lease_token = l.lease_token
                           AND m.state = 'running') THEN 'busy'
            ELSE 'lost' END AS outcome
FROM lease l
LEFT JOIN changed c ON c.id = l.id AND c.lease_token = l.lease_token
