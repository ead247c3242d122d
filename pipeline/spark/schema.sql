-- Tick table DDL: the single source of truth, idempotent (safe on every start).
-- tick_sink.apply_ddl() runs it at job start-up with :"ticks_table" replaced by
-- the quoted TICKS_TABLE; by hand: psql -v ticks_table=crypto_ticks -f schema.sql
-- IF NOT EXISTS never alters an existing table: column changes need a migration.
CREATE TABLE IF NOT EXISTS :"ticks_table" (
    symbol      text        NOT NULL,
    event_time  timestamptz NOT NULL,
    -- numeric keeps the decimal the producer sent; < 'Infinity' also rejects NaN,
    -- which PostgreSQL orders above every number (needs PostgreSQL 14+).
    price       numeric     NOT NULL CHECK (price > 0 AND price < 'Infinity'),
    currency    text        NOT NULL,
    source      text        NOT NULL,
    -- When the producer built the message; the newest one wins per natural key.
    ingest_time timestamptz NOT NULL,
    -- Last time the sink inserted or changed the row (replays leave it alone).
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, event_time)
);
