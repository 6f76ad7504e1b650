INSERT INTO mq_migrations (version, name) VALUES ($1, $2)
