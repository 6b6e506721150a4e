-- Write-up 002, step 4: the movers. Each statement moves one batch of the oldest rows, in its own
-- transaction (DELETE … RETURNING feeding an INSERT: a row is in exactly one of the two tables, and the view
-- shows it once), then pauses so vacuum and the application keep up. The last one moves what is left.
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (
  DELETE FROM sources_old WHERE id IN (SELECT id FROM sources_old ORDER BY id LIMIT 10000) RETURNING *
)
INSERT INTO sources_partitioned SELECT * FROM moved;
SELECT pg_sleep(0.3);
WITH moved AS (DELETE FROM sources_old RETURNING *)
INSERT INTO sources_partitioned SELECT * FROM moved;
