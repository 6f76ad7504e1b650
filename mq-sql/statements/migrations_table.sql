-- Bookkeeping of applied migrations (run under the migration lock).
CREATE TABLE IF NOT EXISTS mq_migrations (
    version    bigint PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
