-- The one full scan of the existing table, under SHARE UPDATE EXCLUSIVE: reads and writes continue
-- ("several hours to scan billions of rows" in write-up 003).
ALTER TABLE audits_p0 VALIDATE CONSTRAINT audits_p0_id_range;
