-- Phase 2 (write-up 003): declare the range the existing table is meant to hold without scanning it.
-- NOT VALID: enforced for new rows from now on, the old rows are checked by VALIDATE later. The expression
-- is exactly what ATTACH … FOR VALUES FROM (1) TO (101000) will need (id is NOT NULL).
ALTER TABLE audits_p0
  ADD CONSTRAINT audits_p0_id_range CHECK (id >= 1 AND id < 101000) NOT VALID;
