-- The partitioned parent's primary key must include the partition key, and ATTACH only reuses a child
-- index that is already a PRIMARY KEY on the same columns. Build that index now, without blocking writes,
-- so the cutover can swap the history table's PK to it as a catalog change.
CREATE UNIQUE INDEX CONCURRENTLY ledger_id_created_at_key ON ledger (id, created_at);
