-- Expand: the new name next to the old one. Nullable, no default: catalog only, no row touched.
ALTER TABLE ledger ADD COLUMN note text;
