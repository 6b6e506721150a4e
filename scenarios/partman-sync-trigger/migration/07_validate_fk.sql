-- Scans the refunds (SHARE UPDATE EXCLUSIVE: writers keep writing) to prove every one has its transaction.
ALTER TABLE event_refunds VALIDATE CONSTRAINT event_refunds_transaction_id_fkey;
