-- Phase 3 (write-up 003): from inheritance to declarative partitioning in ONE transaction of catalog-only
-- statements. Every child's validated range CHECK implies the bound it is attached with, and its indexes
-- match the parent's, so ATTACH neither scans a child nor builds an index while ACCESS EXCLUSIVE is held.

-- The inheritance parent first: writers queue here (briefly) instead of half-way through the swap.
LOCK TABLE audits IN ACCESS EXCLUSIVE MODE;

-- Detach the children from the inheritance parent.
ALTER TABLE audits_p0 NO INHERIT audits;
ALTER TABLE audits_p101000 NO INHERIT audits;
ALTER TABLE audits_p103000 NO INHERIT audits;
ALTER TABLE audits_p105000 NO INHERIT audits;
ALTER TABLE audits_default NO INHERIT audits;

-- Out of the way, keeping its routing trigger until it is dropped in cleanup.
ALTER TABLE audits RENAME TO old_audits;

-- The declarative parent, mirroring the original's columns, defaults, keys, CHECKs, indexes, grants and RLS.
-- The primary key (id) contains the partition key, so it is unique across partitions.
CREATE TABLE audits (
  id              bigint NOT NULL DEFAULT nextval('audits_id_seq'),
  auditable_type  text NOT NULL,
  auditable_id    bigint NOT NULL,
  action          text NOT NULL,
  user_id         bigint,
  tenant_id       bigint NOT NULL,
  audited_changes jsonb,
  request_uuid    uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audits_pkey PRIMARY KEY (id),
  -- Same name and expression as on every child: ATTACH merges it instead of adding and checking it.
  CONSTRAINT audits_action_check CHECK (action IN ('create', 'update', 'destroy'))
) PARTITION BY RANGE (id);

-- The ids keep coming from the same sequence; the parent owns it now (old_audits is dropped later).
ALTER SEQUENCE audits_id_seq OWNED BY audits.id;

-- On the empty parent these are instant; ATTACH then adopts each child's prebuilt matching index.
CREATE INDEX audits_auditable_idx ON audits (auditable_type, auditable_id);
CREATE INDEX audits_created_at_idx ON audits (created_at);

GRANT SELECT ON audits TO audits_reader;
GRANT INSERT ON audits TO audits_writer;

ALTER TABLE audits ENABLE ROW LEVEL SECURITY;
CREATE POLICY audits_tenant_isolation ON audits AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);

-- Each bound is exactly the child's validated CHECK: PostgreSQL proves the partition constraint from it
-- and skips the verification scan.
ALTER TABLE audits ATTACH PARTITION audits_p0 FOR VALUES FROM (1) TO (101000);
ALTER TABLE audits ATTACH PARTITION audits_p101000 FOR VALUES FROM (101000) TO (103000);
ALTER TABLE audits ATTACH PARTITION audits_p103000 FOR VALUES FROM (103000) TO (105000);
ALTER TABLE audits ATTACH PARTITION audits_p105000 FOR VALUES FROM (105000) TO (107000);
-- The default last: attaching a range partition while a default is attached would scan the default.
-- It is empty (phase 2 moved its rows to their partition), so proving its constraint reads nothing.
ALTER TABLE audits ATTACH PARTITION audits_default DEFAULT;
