-- Write-up 002, step 5: the old table is empty; the partitioned table takes the name back. (Step 6, dropping
-- sources_old, waits until the checks below have confirmed it is empty.)
DROP VIEW sources;
ALTER TABLE sources_partitioned RENAME TO sources;
