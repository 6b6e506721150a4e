-- Shipped ahead of the cutover, while the ledger is still one plain table, so its latency can be watched
-- before the schema changes (write-up 001: "We shipped this ahead of the cutover so we could observe its
-- latency profile"). Nothing here locks the ledger: CREATE OR REPLACE FUNCTION only touches pg_proc.

-- The single write path, rewritten for a ledger partitioned by created_at:
--  1. The idempotency decision is ONE atomic insert into ledger_idempotency, keyed by the key alone, so it is
--     global whichever partition the first write went to. ON CONFLICT DO NOTHING RETURNING claims the key or
--     learns it is taken without raising (a concurrent claim makes it wait for that transaction's outcome):
--     a replay returns the original row's id and writes nothing, instead of failing with 23505.
--  2. Only once the key is ours does it take the balance-update lock (write-up 001: the idempotency check
--     runs outside that lock to reduce contention).
--  3. It chooses the partition key itself, up front: PostgreSQL routes the row before any BEFORE INSERT
--     trigger runs, and a trigger that moves created_at across a partition bound makes the insert fail.
CREATE OR REPLACE FUNCTION ledger_insert(p_account bigint, p_amount numeric, p_kind text, p_key uuid)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_claimed    uuid;
  v_id         bigint;
  v_created_at timestamptz;
BEGIN
  INSERT INTO ledger_idempotency (key) VALUES (p_key)
  ON CONFLICT (key) DO NOTHING
  RETURNING key INTO v_claimed;
  IF v_claimed IS NULL THEN
    -- A replay (a client retry, or an old key sent again): answer with the original, in whatever partition.
    SELECT id INTO v_id FROM ledger WHERE idempotency_key = p_key;
    RETURN v_id;
  END IF;

  PERFORM 1 FROM account_balances WHERE account_id = p_account FOR UPDATE;

  v_created_at := now();
  INSERT INTO ledger (account_id, amount, kind, idempotency_key, created_at)
  VALUES (p_account, p_amount, p_kind, p_key, v_created_at)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- The trigger no longer chooses the partition key: it only fills a missing one. Kept (same name, timing and
-- function) for callers that insert directly; the value ledger_insert() chose is never moved.
CREATE OR REPLACE FUNCTION ledger_set_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.created_at IS NULL THEN
    NEW.created_at := now();
  END IF;
  RETURN NEW;
END
$$;
