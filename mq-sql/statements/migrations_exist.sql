SELECT to_regclass('mq_migrations') IS NOT NULL AS exists
