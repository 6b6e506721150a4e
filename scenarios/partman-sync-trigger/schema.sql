-- billing.event_transactions from write-up 004, before the migration: one plain table, ids from a bigserial,
-- the event time the table will be partitioned by, an idempotency key, the table's own FK to users, and a
-- child table (refunds) whose FK references it. pg_partman lives in its own schema, as the write-up installs it
-- (pg_partman 5 requires one; 4 accepts one).

CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;

CREATE ROLE billing_reader NOLOGIN;
CREATE ROLE billing_writer NOLOGIN;

CREATE TABLE users (
  id    bigint PRIMARY KEY,
  email text NOT NULL
);

CREATE TABLE event_transactions (
  id              bigserial,
  user_id         bigint NOT NULL,
  event_code      text NOT NULL,
  amount          numeric(12,2) NOT NULL,
  currency        text NOT NULL DEFAULT 'EUR',
  idempotency_key uuid NOT NULL,
  session_id      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_transactions_pkey PRIMARY KEY (id),
  CONSTRAINT event_transactions_idempotency_key_key UNIQUE (idempotency_key),
  CONSTRAINT event_transactions_amount_check CHECK (amount <> 0),
  CONSTRAINT event_transactions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE INDEX event_transactions_user_id_idx ON event_transactions (user_id);
CREATE INDEX event_transactions_event_code_idx ON event_transactions (event_code);
CREATE INDEX event_transactions_created_at_idx ON event_transactions (created_at);

-- Event codes arrive in any case from the producers; stored lower-case.
CREATE FUNCTION event_transactions_normalize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.event_code := lower(NEW.event_code);
  RETURN NEW;
END
$$;
CREATE TRIGGER event_transactions_normalize BEFORE INSERT OR UPDATE ON event_transactions
  FOR EACH ROW EXECUTE FUNCTION event_transactions_normalize();

-- Refunds reference the transaction they undo. The event time is carried along so that, once the
-- transactions are partitioned by it, the FK can reference the partitioned table's (id, created_at) key.
CREATE TABLE event_refunds (
  id                     bigserial PRIMARY KEY,
  transaction_id         bigint NOT NULL,
  transaction_created_at timestamptz NOT NULL,
  amount                 numeric(12,2) NOT NULL,
  CONSTRAINT event_refunds_transaction_id_fkey
    FOREIGN KEY (transaction_id) REFERENCES event_transactions (id) ON DELETE CASCADE
);
CREATE INDEX event_refunds_transaction_idx ON event_refunds (transaction_id, transaction_created_at);

GRANT SELECT ON event_transactions TO billing_reader;
GRANT SELECT, INSERT ON event_transactions TO billing_writer;
GRANT USAGE ON SEQUENCE event_transactions_id_seq TO billing_writer;
