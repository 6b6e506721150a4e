-- ATTACH adopts a partition's index that matches the parent's; with none it builds one under ACCESS
-- EXCLUSIVE (write-up 003). Build them now, CONCURRENTLY, on every child that lacks them, with the same
-- definitions the declarative parent will have. audits_p0 still has the originals.
CREATE INDEX CONCURRENTLY audits_p101000_auditable_idx ON audits_p101000 (auditable_type, auditable_id);
CREATE INDEX CONCURRENTLY audits_p101000_created_at_idx ON audits_p101000 (created_at);
CREATE INDEX CONCURRENTLY audits_p103000_auditable_idx ON audits_p103000 (auditable_type, auditable_id);
CREATE INDEX CONCURRENTLY audits_p103000_created_at_idx ON audits_p103000 (created_at);
CREATE INDEX CONCURRENTLY audits_p105000_auditable_idx ON audits_p105000 (auditable_type, auditable_id);
CREATE INDEX CONCURRENTLY audits_p105000_created_at_idx ON audits_p105000 (created_at);
CREATE INDEX CONCURRENTLY audits_default_auditable_idx ON audits_default (auditable_type, auditable_id);
CREATE INDEX CONCURRENTLY audits_default_created_at_idx ON audits_default (created_at);
