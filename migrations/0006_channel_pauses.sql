-- mq schema, version 6: channels paused by an operator.
--
-- A paused channel name's jobs stay where they are and claims pass them
-- over, in every runner of every process, until it is resumed. One row
-- per paused name, however many jobs it has (or none: a channel can be
-- paused before its work arrives). Claims look a channel up here by its
-- primary key; the table is empty but for the few names paused, and
-- claims never write it, so it adds no dead tuples to walk.
CREATE TABLE mq_channel_pauses (
    channel_name text PRIMARY KEY,
    paused_at    timestamptz NOT NULL
);
