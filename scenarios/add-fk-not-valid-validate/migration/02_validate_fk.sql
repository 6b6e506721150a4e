-- Reads every ledger row under SHARE UPDATE EXCLUSIVE (and ROW SHARE on accounts): writes continue.
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_account_id_fkey;
