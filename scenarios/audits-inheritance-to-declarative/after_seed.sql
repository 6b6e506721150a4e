-- Write-up 003: "some historical records had id values that didn't align with our partitioning rules".
-- Twenty old audits carry ids from a misconfigured generator that ran ahead of the sequence: 103001…103020,
-- beyond anything issued so far (the sequence stands at 100000) and outside the range the existing table
-- will be declared to hold. Their created_at is historical like every other seeded row.
INSERT INTO audits (id, auditable_type, auditable_id, action, user_id, tenant_id, audited_changes, request_uuid, created_at)
SELECT 103000 + g, 'Invoice', 7000 + g, 'update', 42, 1 + g % 5, '{"status": ["draft", "sent"]}', gen_random_uuid(),
       timestamptz '2025-06-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 20) AS g;

-- The sequence covers the seeded ids only, not the stray ones.
SELECT setval('audits_id_seq', (SELECT max(id) FROM audits WHERE id <= 100000));

ANALYZE;
