-- Write-up 003's audits table as it stood before partitioning: one plain table holding a decade of audit
-- rows, written in the same transaction as the change it records. ids come from a sequence and only grow,
-- so an id range is a time range (the write-up partitions by id). Row-level security by tenant, a read
-- and a write role.

CREATE ROLE audits_reader NOLOGIN;
CREATE ROLE audits_writer NOLOGIN;

CREATE SEQUENCE audits_id_seq;

CREATE TABLE audits (
  id              bigint NOT NULL DEFAULT nextval('audits_id_seq'),
  auditable_type  text NOT NULL,
  auditable_id    bigint NOT NULL,
  action          text NOT NULL,
  user_id         bigint,
  tenant_id       bigint NOT NULL,
  audited_changes jsonb,
  -- The audited gem's request id: one per request, the key the load acknowledges writes by.
  request_uuid    uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audits_pkey PRIMARY KEY (id),
  CONSTRAINT audits_action_check CHECK (action IN ('create', 'update', 'destroy'))
);
ALTER SEQUENCE audits_id_seq OWNED BY audits.id;

CREATE INDEX audits_auditable_idx ON audits (auditable_type, auditable_id);
CREATE INDEX audits_created_at_idx ON audits (created_at);

GRANT SELECT ON audits TO audits_reader;
GRANT INSERT ON audits TO audits_writer;
GRANT USAGE ON SEQUENCE audits_id_seq TO audits_writer;

-- A tenant sees its own audits; a session that sets no tenant (the app's admin jobs) sees all.
ALTER TABLE audits ENABLE ROW LEVEL SECURITY;
CREATE POLICY audits_tenant_isolation ON audits AS PERMISSIVE FOR ALL TO PUBLIC
  USING (current_setting('app.tenant_id', true) IS NULL OR tenant_id = current_setting('app.tenant_id', true)::bigint);
