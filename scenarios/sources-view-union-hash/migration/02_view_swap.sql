-- Rename the old table and put a view with UNION ALL under its name: reads see both tables, and an INSTEAD OF
-- trigger sends every write to the partitioned table, moving the row out of the old table when it touches one.
-- Autovacuum is off on the old table: it only ever loses rows now, and the movers delete it empty anyway.
ALTER TABLE sources SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
ALTER TABLE sources RENAME TO sources_old;
CREATE VIEW sources AS
  SELECT id, uid, type, payload, payload_hash, created_at, updated_at, request_id FROM sources_old
  UNION ALL
  SELECT id, uid, type, payload, payload_hash, created_at, updated_at, request_id FROM sources_partitioned;

CREATE FUNCTION move_to_partitioned() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_row sources_old%ROWTYPE;
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- A row with the same deduplication key may still sit in the old table: move it, keeping its id.
    DELETE FROM sources_old o
     WHERE o.uid = NEW.uid AND o.type = NEW.type AND o.payload_hash = NEW.payload_hash
    RETURNING * INTO old_row;
    IF FOUND THEN
      INSERT INTO sources_partitioned (id, uid, type, payload, payload_hash, created_at, updated_at, request_id)
      VALUES (old_row.id, NEW.uid, NEW.type, NEW.payload, NEW.payload_hash, old_row.created_at, now(), NEW.request_id)
      ON CONFLICT (uid, type, payload_hash) DO UPDATE SET payload = EXCLUDED.payload;
    ELSE
      INSERT INTO sources_partitioned (uid, type, payload, payload_hash, created_at, updated_at, request_id)
      VALUES (NEW.uid, NEW.type, NEW.payload, NEW.payload_hash, now(), now(), NEW.request_id)
      ON CONFLICT (uid, type, payload_hash) DO UPDATE SET payload = EXCLUDED.payload;
    END IF;
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    DELETE FROM sources_old WHERE id = OLD.id RETURNING * INTO old_row;
    IF FOUND THEN
      INSERT INTO sources_partitioned (id, uid, type, payload, payload_hash, created_at, updated_at, request_id)
      VALUES (OLD.id, NEW.uid, NEW.type, NEW.payload, NEW.payload_hash, old_row.created_at, now(), NEW.request_id);
    ELSE
      UPDATE sources_partitioned
         SET uid = NEW.uid, type = NEW.type, payload = NEW.payload, payload_hash = NEW.payload_hash,
             request_id = NEW.request_id
       WHERE id = OLD.id AND uid = OLD.uid;
    END IF;
    RETURN NEW;
  ELSE
    DELETE FROM sources_old WHERE id = OLD.id;
    DELETE FROM sources_partitioned WHERE id = OLD.id AND uid = OLD.uid;
    RETURN OLD;
  END IF;
END $$;
CREATE TRIGGER view_trigger INSTEAD OF INSERT OR UPDATE OR DELETE ON sources
  FOR EACH ROW EXECUTE FUNCTION move_to_partitioned();
