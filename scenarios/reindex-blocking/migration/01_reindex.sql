-- The hazard: SHARE on ledger and ACCESS EXCLUSIVE on every index of it, for the whole rebuild.
REINDEX TABLE ledger;
