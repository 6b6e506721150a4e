-- Catalog only and instant: no lock budget can object. The application still names memo.
ALTER TABLE ledger RENAME COLUMN memo TO note;
