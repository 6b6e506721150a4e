-- Write-up 003: "Finally, we dropped the old table and removed the trigger function, as declarative
-- partitioning now handled tuple routing automatically." old_audits has no rows and no children left.
DROP TABLE old_audits;
DROP FUNCTION audits_route();
