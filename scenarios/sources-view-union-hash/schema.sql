-- Write-up 002: sources, 350M rows / 1 TB on RDS. The id orders rows; (uid, type, payload_hash) is the
-- deduplication key the application's inserts rely on. request_id is the write's own key.
CREATE TABLE sources (
  id           bigserial    NOT NULL,
  uid          varchar(255) NOT NULL,
  type         varchar(50)  NOT NULL,
  payload      jsonb        NOT NULL,
  payload_hash varchar(32)  NOT NULL,
  created_at   timestamp    NOT NULL DEFAULT now(),
  updated_at   timestamp    NOT NULL DEFAULT now(),
  request_id   uuid,
  CONSTRAINT duplicate_sources UNIQUE (uid, type, payload_hash),
  CONSTRAINT sources_pkey PRIMARY KEY (id)
);
CREATE INDEX sources_request_id_idx ON sources (request_id);

CREATE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER sources_updated_at BEFORE UPDATE ON sources
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
