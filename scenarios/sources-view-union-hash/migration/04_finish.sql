-- "Delete the view and rename the partitioned table to the same name as the view": the old table is empty
-- (the invariant table_empty proves it) and stays, renamed, until someone drops it.
DROP VIEW sources;
DROP FUNCTION move_to_partitioned();
ALTER TABLE sources_partitioned RENAME TO sources;
