-- Rows of audits_p0 outside its range (the stray ids) go to the default child for review, found through
-- the primary key rather than a scan. Row locks only: reads and writes go on.
WITH moved AS (
  DELETE FROM audits_p0 WHERE id < 1 OR id >= 101000 RETURNING *
)
INSERT INTO audits_default SELECT * FROM moved;
