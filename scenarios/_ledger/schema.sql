-- The ledger as it was before the migration (write-up 001): one plain table, ids from a sequence, a
-- server-set timestamp, a balance side effect, a read and a write role, row-level security, and the
-- idempotent insert function that was shipped ahead of the cutover.

CREATE ROLE ledger_reader NOLOGIN;
CREATE ROLE ledger_writer NOLOGIN;

CREATE TABLE accounts (
  id         bigint PRIMARY KEY,
  status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'frozen', 'closed')),
  opened_at  timestamptz NOT NULL DEFAULT now()
);

-- Kept by the AFTER INSERT trigger; the "balance update" the write-up's insert path serialises on.
CREATE TABLE account_balances (
  account_id bigint PRIMARY KEY REFERENCES accounts (id),
  balance    numeric(20,2) NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A plain sequence (not an identity column): the partitioned parent must reuse it at the cutover.
CREATE SEQUENCE ledger_id_seq;

CREATE TABLE ledger (
  id              bigint NOT NULL DEFAULT nextval('ledger_id_seq'),
  account_id      bigint NOT NULL,
  amount          numeric(18,2) NOT NULL,
  kind            text NOT NULL,
  idempotency_key uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  memo            text,
  CONSTRAINT ledger_pkey PRIMARY KEY (id),
  CONSTRAINT ledger_idempotency_key_key UNIQUE (idempotency_key),
  CONSTRAINT ledger_kind_check CHECK (kind IN ('credit', 'debit')),
  CONSTRAINT ledger_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
);
ALTER SEQUENCE ledger_id_seq OWNED BY ledger.id;

CREATE INDEX ledger_account_id_created_at_idx ON ledger (account_id, created_at DESC);
CREATE INDEX ledger_debit_created_at_idx ON ledger (created_at) WHERE kind = 'debit';

-- The server-side timestamp used for ordering. Once created_at is the partition key this trigger can no
-- longer choose it: a BEFORE INSERT trigger cannot move a row to another partition (write-up 001).
CREATE FUNCTION ledger_set_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.created_at := now();
  RETURN NEW;
END
$$;
CREATE TRIGGER ledger_set_created_at BEFORE INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_set_created_at();

CREATE FUNCTION ledger_apply_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO account_balances AS b (account_id, balance, updated_at)
  VALUES (NEW.account_id, NEW.amount, NEW.created_at)
  ON CONFLICT (account_id) DO UPDATE
    SET balance = b.balance + EXCLUDED.balance, updated_at = EXCLUDED.updated_at;
  RETURN NULL;
END
$$;
CREATE TRIGGER ledger_apply_balance AFTER INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_balance();

GRANT SELECT ON ledger TO ledger_reader;
GRANT INSERT ON ledger TO ledger_writer;
GRANT USAGE ON SEQUENCE ledger_id_seq TO ledger_writer;
-- Direct inserts run the balance trigger with the writer's privileges.
GRANT SELECT, INSERT, UPDATE ON account_balances TO ledger_writer;

ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_access ON ledger AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);

-- Idempotency decided by one atomic insert, outside the ledger itself: once the ledger is partitioned by
-- created_at a UNIQUE on idempotency_key can only be enforced per partition (write-up 001).
CREATE TABLE ledger_idempotency (
  key uuid PRIMARY KEY
);
GRANT INSERT ON ledger_idempotency TO ledger_writer;

-- The single entry point for writes: claims the key, then inserts with the partition key chosen up front.
-- SECURITY DEFINER so callers need only EXECUTE (RETURNING id would otherwise need SELECT on ledger).
CREATE FUNCTION ledger_insert(p_account bigint, p_amount numeric, p_kind text, p_key uuid)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_id bigint;
BEGIN
  -- A replay fails here with unique_violation (23505), whichever partition the first write went to.
  INSERT INTO ledger_idempotency (key) VALUES (p_key);
  INSERT INTO ledger (account_id, amount, kind, idempotency_key, created_at)
  VALUES (p_account, p_amount, p_kind, p_key, now())
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
REVOKE EXECUTE ON FUNCTION ledger_insert(bigint, numeric, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_insert(bigint, numeric, text, uuid) TO ledger_writer;
