-- fm_topk tracks a table its caller owns on first use (fmrec.topk_auto_track),
-- so that the cache lasts across statements without fm_topk_track(); when it
-- cannot, it says so once per backend and table.  The answers always equal
-- the plain query's, also when the tracking happens in the middle of a
-- statement that changes the table.
\i sql/include/try.sql
SET client_min_messages = notice;

CREATE TABLE a_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO a_items SELECT i, ('[' || (i % 7) || ',1]')::fm_vector, i FROM generate_series(1, 50) i;

-- fm_topk's answer on `t` equals the plain query's; and the regime of its cache
CREATE FUNCTION pg_temp.same(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE a text; b text; r text;
BEGIN
	SELECT array_agg(row(x.id, x.score))::text INTO a FROM fm_topk('[1,-2]', t, 5) x;
	EXECUTE format('SELECT array_agg(row(id, s))::text FROM (SELECT id, fm_score(''[1,-2]'', embedding, bias) AS s
	                 FROM %s WHERE fm_score(''[1,-2]'', embedding, bias) IS NOT NULL ORDER BY s DESC, id LIMIT 5) x', t) INTO b;
	SELECT regime INTO r FROM fm_topk_cache() WHERE relid = t;
	RETURN CASE WHEN a IS NOT DISTINCT FROM b THEN 'same' ELSE 'STALE' END || ' (' || coalesce(r, 'no cache') || ')';
END $$;
CREATE FUNCTION pg_temp.triggers(t regclass) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(tgname::text ORDER BY tgname), '{}') FROM pg_trigger WHERE tgrelid = t AND NOT tgisinternal
$$;

-- the first call tracks the table (NOTICE); within that transaction the
-- cache is trusted only under the same snapshot, from the next on by version
SELECT pg_temp.triggers('a_items') AS before;
SELECT pg_temp.same('a_items');
SELECT pg_temp.triggers('a_items') AS after;
SELECT pg_temp.same('a_items');
SELECT pg_temp.same('a_items');
UPDATE a_items SET bias = 100 WHERE id = 3;
SELECT pg_temp.same('a_items');

-- tracked in the middle of a statement that inserts into the table: the
-- rows it inserts after the triggers exist do not bump the version (its
-- trigger list was fixed at its start); the next transaction still reads
-- them, and every later change is seen
CREATE TABLE b_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO b_items SELECT i, ('[' || (i % 5) || ',2]')::fm_vector, i FROM generate_series(1, 20) i;
INSERT INTO b_items
SELECT 100 + g, '[5,-5]', 1000 + g FROM generate_series(1, 3) g, LATERAL (SELECT count(*) FROM fm_topk('[1,-2]', 'b_items', 2)) c;
SELECT pg_temp.triggers('b_items') AS tracked;
SELECT pg_temp.same('b_items');
SELECT pg_temp.same('b_items');
DELETE FROM b_items WHERE id > 100;
SELECT pg_temp.same('b_items');
-- and in an explicit transaction: tracked, changed, then read again
CREATE TABLE c_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO c_items SELECT i, ('[' || (i % 3) || ',1]')::fm_vector, i FROM generate_series(1, 20) i;
BEGIN;
SELECT pg_temp.same('c_items');
UPDATE c_items SET bias = 500 WHERE id = 2;
SELECT pg_temp.same('c_items');
COMMIT;
SELECT pg_temp.same('c_items');
-- a rolled back tracking leaves nothing, and a later call tracks again
CREATE TABLE d_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO d_items VALUES (1, '[1,1]', 0);
BEGIN;
SELECT pg_temp.same('d_items');
ROLLBACK;
SELECT pg_temp.triggers('d_items') AS after_rollback;
SELECT pg_temp.same('d_items');
SELECT pg_temp.triggers('d_items') AS tracked;

-- cannot track: another owner, a read-only transaction, the setting off;
-- one NOTICE per backend and table, and the answers stay right
CREATE ROLE regress_autotrack_reader;
CREATE TABLE e_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO e_items SELECT i, ('[' || (i % 4) || ',1]')::fm_vector, i FROM generate_series(1, 20) i;
GRANT SELECT ON e_items TO regress_autotrack_reader;
SET ROLE regress_autotrack_reader;
SELECT pg_temp.same('e_items');
SELECT pg_temp.same('e_items');
RESET ROLE;
SELECT pg_temp.triggers('e_items') AS not_tracked;
CREATE TABLE f_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO f_items VALUES (1, '[1,1]', 0), (2, '[2,1]', 0);
BEGIN READ ONLY;
SELECT pg_temp.same('f_items');
SELECT pg_temp.same('f_items');
COMMIT;
SELECT pg_temp.triggers('f_items') AS not_tracked;
SELECT pg_temp.same('f_items');   -- writable now: tracked
SELECT pg_temp.triggers('f_items') AS tracked;
CREATE TABLE g_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO g_items VALUES (1, '[1,1]', 0);
SET fmrec.topk_auto_track = off;
SELECT pg_temp.same('g_items');
SELECT pg_temp.same('g_items');
RESET fmrec.topk_auto_track;
SELECT pg_temp.triggers('g_items') AS not_tracked;
-- a view is never tracked, and fm_topk says nothing about it
CREATE VIEW h_view AS SELECT * FROM g_items;
SELECT pg_temp.same('h_view');

DROP VIEW h_view;
DROP TABLE a_items, b_items, c_items, d_items, e_items, f_items, g_items;
DROP ROLE regress_autotrack_reader;
