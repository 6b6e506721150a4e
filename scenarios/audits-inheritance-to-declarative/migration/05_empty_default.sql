-- Review of the default child (write-up 003: "We corrected IDs where required and moved valid records back").
-- The stray ids are valid audits from a generator that ran ahead of the sequence: they keep their ids and
-- go to the child whose range holds them, through the routing trigger. First advance the sequence past
-- them so that no new row can ever collide with one. The default child is then empty, as it must stay:
-- any row there later is an alarm (write-up 003 watches its row count).
-- Only when the sequence is behind, never to where it already is: a setval to its own position races the
-- load's inserts and can hand out again an id just taken (sequence-rewind-under-load). Not nextval() to
-- read the position: the id it burns would be a gap the sequence invariant counts.
SELECT setval('audits_id_seq', t.target)
FROM (SELECT max(id) AS target FROM audits_default) t,
     (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS handed_out FROM audits_id_seq) s
WHERE t.target > s.handed_out;

WITH moved AS (
  DELETE FROM audits_default RETURNING *
)
INSERT INTO audits SELECT * FROM moved;
