-- "The exact same definition but with a different primary key because the partition key must be part of the
-- primary key": hash partitions on uid, PK (id, uid). The write-up made 20 partitions of ~100 GB.
CREATE TABLE sources_partitioned (
  id           bigserial    NOT NULL,
  uid          varchar(255) NOT NULL,
  type         varchar(50)  NOT NULL,
  payload      jsonb        NOT NULL,
  payload_hash varchar(32)  NOT NULL,
  created_at   timestamp    NOT NULL DEFAULT now(),
  updated_at   timestamp    NOT NULL DEFAULT now(),
  request_id   uuid,
  CONSTRAINT duplicate_sources_partitioned UNIQUE (uid, type, payload_hash),
  CONSTRAINT sources_partitioned_pkey PRIMARY KEY (id, uid)
) PARTITION BY HASH (uid);
DO $$
BEGIN
  FOR r IN 0..19 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF sources_partitioned FOR VALUES WITH (MODULUS 20, REMAINDER %s)',
                   'sources_partition_' || lpad(r::text, 2, '0'), r);
  END LOOP;
END $$;
CREATE INDEX sources_partitioned_request_id_idx ON sources_partitioned (request_id);
CREATE TRIGGER sources_updated_at BEFORE UPDATE ON sources_partitioned
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
-- Keep the original ids (they order rows): new ids start after the old table's highest, plus a buffer for
-- the inserts still arriving while this runs ("+ 1000 ... calculated based on the insertion rate").
SELECT setval('sources_partitioned_id_seq', (SELECT coalesce(max(id), 0) FROM sources) + 1000);
