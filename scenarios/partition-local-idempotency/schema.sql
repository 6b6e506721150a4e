-- The write-up 001 ledger after its partitioning, as a team would have it had they NOT shipped the
-- idempotency table: partitioned by month on created_at, the parent's UNIQUE (idempotency_key, created_at)
-- (PostgreSQL only accepts a UNIQUE on a partitioned table that includes the partition key), and on every
-- partition its own UNIQUE (idempotency_key), which is what the team counted on for replay protection.
-- Write-up 001: "uniqueness is enforced per physical partition, which creates a subtle failure mode: two
-- inserts with the same idempotency key can land in different partitions around a rollover and both succeed."

CREATE TABLE accounts (
  id         bigint PRIMARY KEY,
  status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'frozen', 'closed'))
);

CREATE TABLE ledger (
  id              bigserial,
  account_id      bigint NOT NULL REFERENCES accounts (id),
  amount          numeric(18,2) NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('credit', 'debit')),
  idempotency_key uuid NOT NULL,
  created_at      timestamptz NOT NULL,
  memo            text,
  CONSTRAINT ledger_pkey PRIMARY KEY (id, created_at),
  CONSTRAINT ledger_idempotency_key_key UNIQUE (idempotency_key, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ledger_account_id_created_at_idx ON ledger (account_id, created_at DESC);

-- The old table, attached as history, and the current month. Each partition gets the per-partition
-- UNIQUE (idempotency_key) from the team's partition template.
CREATE TABLE ledger_history PARTITION OF ledger FOR VALUES FROM (MINVALUE) TO ('{{month}}');
CREATE UNIQUE INDEX ledger_history_idempotency_key_uniq ON ledger_history (idempotency_key);
CREATE TABLE ledger_current PARTITION OF ledger FOR VALUES FROM ('{{month}}') TO ('{{month+1}}');
CREATE UNIQUE INDEX ledger_current_idempotency_key_uniq ON ledger_current (idempotency_key);

-- The write path. The application stamps created_at (the partition key) with its clock when it accepts the
-- request, so routing is known up front (write-up 001), and treats a unique violation (23505) as "already
-- applied": a replay within a month is refused by that month's UNIQUE (idempotency_key).
CREATE FUNCTION ledger_post(p_account bigint, p_amount numeric, p_kind text, p_key uuid, p_at timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO ledger (account_id, amount, kind, idempotency_key, created_at)
  VALUES (p_account, p_amount, p_kind, p_key, p_at)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
