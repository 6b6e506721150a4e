-- Write-up 000: the events table on the Community product — a flat heap with a single-column primary key
-- and three btree indexes, ~50K writes/s. request_id is the write's own key (what the app would retry on).
CREATE TABLE events (
  id          bigserial PRIMARY KEY,
  account_id  bigint      NOT NULL,
  kind        text        NOT NULL,
  payload     jsonb       NOT NULL,
  occurred_at timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  request_id  uuid
);
CREATE INDEX events_account_id_occurred_at_idx ON events (account_id, occurred_at DESC);
CREATE INDEX events_kind_idx ON events (kind);
CREATE INDEX events_request_id_idx ON events (request_id);
