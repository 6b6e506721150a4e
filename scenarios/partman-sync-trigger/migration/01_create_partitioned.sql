-- Write-up 004, "Creates partitioned table": the same columns and defaults (ids from the same sequence), the
-- CHECK constraints, the primary key and the unique constraint extended with the partition key (PostgreSQL
-- requires it), every index, the table's own FK and trigger, the grants, and the migration status table.
CREATE TABLE event_transactions_partitioned
  (LIKE event_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS)
  PARTITION BY RANGE (created_at);
ALTER TABLE event_transactions_partitioned
  ADD CONSTRAINT event_transactions_partitioned_pkey PRIMARY KEY (id, created_at);
ALTER TABLE event_transactions_partitioned
  ADD CONSTRAINT event_transactions_partitioned_idempotency_key_key UNIQUE (idempotency_key, created_at);
ALTER TABLE event_transactions_partitioned
  ADD CONSTRAINT event_transactions_partitioned_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
CREATE INDEX event_transactions_partitioned_user_id_idx ON event_transactions_partitioned (user_id);
CREATE INDEX event_transactions_partitioned_event_code_idx ON event_transactions_partitioned (event_code);
CREATE INDEX event_transactions_partitioned_created_at_idx ON event_transactions_partitioned (created_at);
CREATE TRIGGER event_transactions_normalize BEFORE INSERT OR UPDATE ON event_transactions_partitioned
  FOR EACH ROW EXECUTE FUNCTION event_transactions_normalize();
GRANT SELECT ON event_transactions_partitioned TO billing_reader;
GRANT SELECT, INSERT ON event_transactions_partitioned TO billing_writer;

-- "migration table status to see what data has been migrated"
CREATE TABLE partition_migration_status (
  id            serial PRIMARY KEY,
  table_name    text NOT NULL,
  first_id      bigint,
  last_id       bigint,
  rows_migrated integer,
  started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  completed_at  timestamptz,
  error_message text
);
