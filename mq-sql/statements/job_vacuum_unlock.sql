SELECT pg_advisory_unlock($1) AS unlocked
