-- Write-up 001's scheduled scan: SHARE UPDATE EXCLUSIVE, reads and writes go on. But for as long as it runs
-- (auto)vacuum cannot take ledger, and the scan's snapshot holds back the xmin horizon of the whole
-- database: no dead row version anywhere younger than the scan's start can be removed, by vacuum or by page
-- pruning. Every balance update of the load leaves one behind in account_balances.
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_history_range;
