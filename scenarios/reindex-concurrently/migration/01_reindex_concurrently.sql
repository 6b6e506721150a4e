-- SHARE UPDATE EXCLUSIVE on ledger and its indexes: writes go on while each index is rebuilt and swapped in.
REINDEX TABLE CONCURRENTLY ledger;
