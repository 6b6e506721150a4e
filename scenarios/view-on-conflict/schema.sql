-- Write-up 002's table before the migration: ~350M rows, ~1 TB in production; looked up by uid, written by
-- an idempotent upsert keyed on (uid, type, payload_hash).
CREATE TABLE sources (
  id           serial PRIMARY KEY,
  uid          varchar NOT NULL,
  type         varchar NOT NULL,
  payload      jsonb,
  payload_hash varchar NOT NULL,
  created_at   timestamp NOT NULL DEFAULT now(),
  updated_at   timestamp NOT NULL DEFAULT now(),
  CONSTRAINT sources_uid_type_payload_hash_key UNIQUE (uid, type, payload_hash)
);
