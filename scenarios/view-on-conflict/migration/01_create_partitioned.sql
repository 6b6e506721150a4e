-- Write-up 002, step 1: the hash-partitioned table (by uid, the column every query uses), its keys (a
-- UNIQUE on a partitioned table must include the partition key: uid is in both), and ids from the same
-- sequence (LIKE … INCLUDING DEFAULTS copies nextval('sources_id_seq')).
CREATE TABLE sources_partitioned (LIKE sources INCLUDING DEFAULTS) PARTITION BY HASH (uid);
ALTER TABLE sources_partitioned ADD CONSTRAINT sources_partitioned_pkey PRIMARY KEY (id, uid);
ALTER TABLE sources_partitioned
  ADD CONSTRAINT sources_partitioned_uid_type_payload_hash_key UNIQUE (uid, type, payload_hash);
CREATE TABLE sources_p0 PARTITION OF sources_partitioned FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE sources_p1 PARTITION OF sources_partitioned FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE sources_p2 PARTITION OF sources_partitioned FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE sources_p3 PARTITION OF sources_partitioned FOR VALUES WITH (MODULUS 4, REMAINDER 3);

-- Write-up 002, step 3: the view will not be updatable (UNION ALL at the top level), so a function behind
-- an INSTEAD OF trigger handles its INSERT, UPDATE and DELETE: new rows go to the partitioned table, an
-- updated row is moved there, a deleted one is deleted from both.
CREATE FUNCTION move_to_partitioned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO sources_partitioned (uid, type, payload, payload_hash, created_at, updated_at)
    VALUES (NEW.uid, NEW.type, NEW.payload, NEW.payload_hash, coalesce(NEW.created_at, now()), now())
    ON CONFLICT (uid, type, payload_hash) DO UPDATE SET payload = EXCLUDED.payload, updated_at = now();
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    DELETE FROM sources_old WHERE id = OLD.id;
    DELETE FROM sources_partitioned WHERE id = OLD.id;
    INSERT INTO sources_partitioned (id, uid, type, payload, payload_hash, created_at, updated_at)
    VALUES (OLD.id, NEW.uid, NEW.type, NEW.payload, NEW.payload_hash, OLD.created_at, now())
    ON CONFLICT (uid, type, payload_hash) DO UPDATE SET payload = EXCLUDED.payload, updated_at = now();
    RETURN NEW;
  ELSE
    DELETE FROM sources_old WHERE id = OLD.id;
    DELETE FROM sources_partitioned WHERE id = OLD.id;
    RETURN OLD;
  END IF;
END
$$;
