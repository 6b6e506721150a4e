-- Write-up 002, step 2: rename the old table and put a view with its name in its place, reading both.
ALTER TABLE sources RENAME TO sources_old;
CREATE VIEW sources AS
  SELECT id, uid, type, payload, payload_hash, created_at, updated_at FROM sources_old
  UNION ALL
  SELECT id, uid, type, payload, payload_hash, created_at, updated_at FROM sources_partitioned;
CREATE TRIGGER view_trigger INSTEAD OF INSERT OR UPDATE OR DELETE ON sources
  FOR EACH ROW EXECUTE FUNCTION move_to_partitioned();
-- HAZARD (write-up 002): from COMMIT on, the application's INSERT … ON CONFLICT (uid, type, payload_hash)
-- against "sources" fails with 42P10 "there is no unique or exclusion constraint matching the ON CONFLICT
-- specification": a view has no constraints for ON CONFLICT to infer, whatever the trigger would have done.
