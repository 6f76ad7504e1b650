-- Counts jobs per channel name and state, with how many are ordered and, for
-- ready jobs, the µs the one ready the longest has waited at $1 (NULL for the
-- server clock). Reads the whole table: an operator's query, not the hot path's.
-- Ordered by channel name, then state in the order of a job's life (the enum's
-- order: the column names are qualified so as not to sort by the text alias).
SELECT j.channel_name,
       j.state::text AS state,
       count(*) AS count,
       count(*) FILTER (WHERE j.ordered) AS ordered,
       CASE WHEN j.state = 'ready'
            THEN (extract(epoch FROM greatest(coalesce($1::timestamptz, now()) - min(j.run_at),
                                              interval '0')) * 1000000)::bigint
       END AS oldest_ready_us
FROM mq_jobs j
GROUP BY j.channel_name, j.state
ORDER BY j.channel_name, j.state
