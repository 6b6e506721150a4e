-- Traffic keeps flowing across midnight UTC on the 1st while clients retry requests whose first attempt
-- was applied just before it (the flag set by the previous step makes the load send those retries).
SELECT pg_sleep(2);
