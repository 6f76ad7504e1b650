-- One process vacuums at a time: the others skip their turn.
SELECT pg_try_advisory_lock($1) AS locked
