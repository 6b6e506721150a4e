-- Write-up 004, "Configures pg_partman": monthly partitions from the oldest event, premake 4, a default
-- partition, and partitions that inherit the parent's grants.
--
-- create_parent's signature differs between pg_partman majors: 5.x takes (p_parent_table, p_control,
-- p_interval '1 month', p_type 'range' …), 4.x (p_parent_table, p_control, p_type 'native', p_interval
-- 'monthly' …). Named arguments make one call shape fit both; the branch picks the values by the installed
-- version (Debian 12 ships 4.7; the write-up ran 5.1).
DO $$
DECLARE
  partman_major int;
  start_partition text;
BEGIN
  SELECT split_part(extversion, '.', 1)::int INTO partman_major FROM pg_extension WHERE extname = 'pg_partman';
  SELECT date_trunc('month', min(created_at))::text INTO start_partition FROM event_transactions;
  IF partman_major >= 5 THEN
    PERFORM partman.create_parent(
      p_parent_table := 'public.event_transactions_partitioned',
      p_control := 'created_at',
      p_interval := '1 month',
      p_type := 'range',
      p_premake := 4,
      p_start_partition := start_partition,
      p_default_table := true);
  ELSE
    PERFORM partman.create_parent(
      p_parent_table := 'public.event_transactions_partitioned',
      p_control := 'created_at',
      p_type := 'native',
      p_interval := 'monthly',
      p_premake := 4,
      p_start_partition := start_partition);
  END IF;
END
$$;

UPDATE partman.part_config
SET retention_keep_table = true, retention_keep_index = true, inherit_privileges = true
WHERE parent_table = 'public.event_transactions_partitioned';
SELECT partman.reapply_privileges('public.event_transactions_partitioned');
