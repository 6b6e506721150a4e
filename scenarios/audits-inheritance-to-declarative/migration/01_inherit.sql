-- Phase 1 (write-up 003): partitioning by inheritance, as a stepping stone. A new parent with the same
-- columns becomes "audits"; the existing table becomes its first child audits_p0, next to empty children
-- for the coming id ranges (each with a CHECK on its range) and a default child for anything out of range.
-- A BEFORE INSERT trigger on the parent routes every new row. All catalog changes, in one transaction.
-- The new tables are empty and take no lock on audits, so they are created before audits is locked.

-- Same columns, defaults (the sequence), NOT NULLs and CHECKs: a child must carry every CHECK of its parent.
CREATE TABLE partitioned_audits (LIKE audits INCLUDING DEFAULTS INCLUDING CONSTRAINTS);

-- Children for the next id ranges, empty: their CHECK is valid at once. Only the primary key now; the
-- secondary indexes are built CONCURRENTLY in phase 2, as the write-up does before ATTACH.
CREATE TABLE audits_p101000 (
  LIKE audits INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
  CONSTRAINT audits_p101000_pkey PRIMARY KEY (id),
  CONSTRAINT audits_p101000_id_range CHECK (id >= 101000 AND id < 103000)
);
CREATE TABLE audits_p103000 (
  LIKE audits INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
  CONSTRAINT audits_p103000_pkey PRIMARY KEY (id),
  CONSTRAINT audits_p103000_id_range CHECK (id >= 103000 AND id < 105000)
);
CREATE TABLE audits_p105000 (
  LIKE audits INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
  CONSTRAINT audits_p105000_pkey PRIMARY KEY (id),
  CONSTRAINT audits_p105000_id_range CHECK (id >= 105000 AND id < 107000)
);
-- The catch-all: rows whose id fits no range, kept for review (write-up 003).
CREATE TABLE audits_default (
  LIKE audits INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
  CONSTRAINT audits_default_pkey PRIMARY KEY (id)
);

-- Only now the strongest lock, once: the new tables above needed none on audits (LIKE reads its catalog
-- entry under ACCESS SHARE), so writers queue only for the renames and INHERITs below.
LOCK TABLE audits IN ACCESS EXCLUSIVE MODE;

-- The existing table becomes the first child; free the index names for the declarative parent of phase 3
-- (renaming a constraint's index renames the constraint).
ALTER TABLE audits RENAME TO audits_p0;
ALTER INDEX audits_pkey RENAME TO audits_p0_pkey;
ALTER INDEX audits_auditable_idx RENAME TO audits_p0_auditable_idx;
ALTER INDEX audits_created_at_idx RENAME TO audits_p0_created_at_idx;

ALTER TABLE audits_p0 INHERIT partitioned_audits;
ALTER TABLE audits_p101000 INHERIT partitioned_audits;
ALTER TABLE audits_p103000 INHERIT partitioned_audits;
ALTER TABLE audits_p105000 INHERIT partitioned_audits;
ALTER TABLE audits_default INHERIT partitioned_audits;

-- The application keeps writing to "audits": now the parent.
ALTER TABLE partitioned_audits RENAME TO audits;

-- Inheritance does not route: this trigger does, and must be edited whenever a child is added (write-up 003).
-- audits_p0 has no range CHECK yet, so it is listed by the range it is meant to hold.
CREATE FUNCTION audits_route() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id >= 1 AND NEW.id < 101000 THEN
    INSERT INTO audits_p0 VALUES (NEW.*);
  ELSIF NEW.id >= 101000 AND NEW.id < 103000 THEN
    INSERT INTO audits_p101000 VALUES (NEW.*);
  ELSIF NEW.id >= 103000 AND NEW.id < 105000 THEN
    INSERT INTO audits_p103000 VALUES (NEW.*);
  ELSIF NEW.id >= 105000 AND NEW.id < 107000 THEN
    INSERT INTO audits_p105000 VALUES (NEW.*);
  ELSE
    INSERT INTO audits_default VALUES (NEW.*);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER audits_route BEFORE INSERT ON audits FOR EACH ROW EXECUTE FUNCTION audits_route();

-- Privileges are per table: the parent and each new child.
GRANT SELECT ON audits, audits_p101000, audits_p103000, audits_p105000, audits_default TO audits_reader;
GRANT INSERT ON audits, audits_p101000, audits_p103000, audits_p105000, audits_default TO audits_writer;

-- A query applies only the policies of the table it names: the parent needs its own, and each child one in
-- case it is queried directly (write-up 003). audits_p0 keeps the policy it had.
ALTER TABLE audits ENABLE ROW LEVEL SECURITY;
ALTER TABLE audits_p101000 ENABLE ROW LEVEL SECURITY;
ALTER TABLE audits_p103000 ENABLE ROW LEVEL SECURITY;
ALTER TABLE audits_p105000 ENABLE ROW LEVEL SECURITY;
ALTER TABLE audits_default ENABLE ROW LEVEL SECURITY;
CREATE POLICY audits_tenant_isolation ON audits AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);
CREATE POLICY audits_tenant_isolation ON audits_p101000 AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);
CREATE POLICY audits_tenant_isolation ON audits_p103000 AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);
CREATE POLICY audits_tenant_isolation ON audits_p105000 AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);
CREATE POLICY audits_tenant_isolation ON audits_default AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);
