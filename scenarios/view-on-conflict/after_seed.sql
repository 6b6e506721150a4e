SELECT setval('sources_id_seq', (SELECT max(id) FROM sources));
ANALYZE;
