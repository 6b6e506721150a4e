-- Write-up 000: "new monthly range-partitioned table, same column shape". The primary key must include the
-- partition key, so it becomes (id, occurred_at). No default for id yet: during dual-write the application
-- passes the legacy row's id; the sequence is attached once the backfill has caught up.
CREATE TABLE events_partitioned (
  id          bigint      NOT NULL,
  account_id  bigint      NOT NULL,
  kind        text        NOT NULL,
  payload     jsonb       NOT NULL,
  occurred_at timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  request_id  uuid,
  PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- History goes to one partition; from this month on, one partition per month, three months ahead.
CREATE TABLE events_p_history PARTITION OF events_partitioned FOR VALUES FROM (MINVALUE) TO ('{{month}}');
CREATE TABLE events_p_current PARTITION OF events_partitioned FOR VALUES FROM ('{{month}}') TO ('{{month+1}}');
CREATE TABLE events_p_next1 PARTITION OF events_partitioned FOR VALUES FROM ('{{month+1}}') TO ('{{month+2}}');
CREATE TABLE events_p_next2 PARTITION OF events_partitioned FOR VALUES FROM ('{{month+2}}') TO ('{{month+3}}');
CREATE TABLE events_p_next3 PARTITION OF events_partitioned FOR VALUES FROM ('{{month+3}}') TO ('{{month+4}}');
-- The new table is empty: building its indexes now costs nothing and locks nothing anyone uses.
CREATE INDEX events_partitioned_account_id_occurred_at_idx ON events_partitioned (account_id, occurred_at DESC);
CREATE INDEX events_partitioned_kind_idx ON events_partitioned (kind);
CREATE INDEX events_partitioned_request_id_idx ON events_partitioned (request_id);
