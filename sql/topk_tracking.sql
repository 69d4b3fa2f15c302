-- fm_topk's cache of a tracked table must never show rows the caller would
-- not see.  Every way PostgreSQL lets rows of a table change without its
-- own statement triggers firing, one after the other: each step changes the
-- table and then compares fm_topk with the plain query.
\i sql/include/try.sql
SET client_min_messages = warning;

CREATE TABLE r_items (id bigint PRIMARY KEY, embedding fm_vector, bias real);
INSERT INTO r_items SELECT i, ('[' || (i % 7) || ',1]')::fm_vector, i FROM generate_series(1, 50) i;
SELECT fm_topk_track('r_items');

-- fm_topk's answer equals the plain query's, and the cache is the tracked one
CREATE FUNCTION pg_temp.same() RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN (SELECT array_agg(row(t.id, t.score)) FROM fm_topk('[1,-2]', 'r_items', 5) t)
	              IS NOT DISTINCT FROM
	                 (SELECT array_agg(row(id, s)) FROM
	                   (SELECT id, fm_score('[1,-2]', embedding, bias) AS s FROM r_items
	                     WHERE fm_score('[1,-2]', embedding, bias) IS NOT NULL
	                     ORDER BY s DESC, id LIMIT 5) x)
	            THEN 'same' ELSE 'STALE' END
	       || ' (' || coalesce((SELECT regime FROM fm_topk_cache() WHERE relid = 'r_items'::regclass), 'no cache') || ')'
$$;
SELECT pg_temp.same();

-- 1. DML through an inheritance parent (the example of the report)
CREATE TABLE r_parent (id bigint, embedding fm_vector, bias real);
ALTER TABLE r_items INHERIT r_parent;
SELECT pg_temp.same();
UPDATE r_parent SET bias = 100 WHERE id = 1;
SELECT pg_temp.same();
SELECT * FROM fm_topk('[1]', 'r_items', 1, embedding_column => 'embedding') WHERE false;
DELETE FROM r_parent WHERE id = 50;
SELECT pg_temp.same();
ALTER TABLE r_items NO INHERIT r_parent;
SELECT pg_temp.same();

-- 2. a parent without columns: INHERIT changes no column of the child
CREATE TABLE r_empty_parent ();
SELECT pg_temp.same();
ALTER TABLE r_items INHERIT r_empty_parent;
DELETE FROM r_empty_parent;   -- deletes every row of r_items
ALTER TABLE r_items NO INHERIT r_empty_parent;
SELECT pg_temp.same();
INSERT INTO r_items SELECT i, ('[' || (i % 7) || ',1]')::fm_vector, i FROM generate_series(1, 50) i;
SELECT pg_temp.same();

-- 3. a partition, changed through its partitioned parent
CREATE TABLE r_parted (id bigint, embedding fm_vector, bias real) PARTITION BY RANGE (id);
ALTER TABLE r_parted ATTACH PARTITION r_items FOR VALUES FROM (0) TO (1000);
SELECT pg_temp.same();
INSERT INTO r_parted VALUES (60, '[6,0]', 500);
SELECT pg_temp.same();
UPDATE r_parted SET bias = -bias WHERE id % 2 = 0;
SELECT pg_temp.same();
DELETE FROM r_parted WHERE id = 60;
SELECT pg_temp.same();
MERGE INTO r_parted p USING (VALUES (2::bigint, 77::real)) v(id, b) ON p.id = v.id
 WHEN MATCHED THEN UPDATE SET bias = v.b;
SELECT pg_temp.same();
COPY r_parted FROM stdin;
61	[5,5]	300
\.
SELECT pg_temp.same();
-- 4. TRUNCATE of the parent truncates the partition
CREATE TEMP TABLE r_saved AS SELECT * FROM r_items;
TRUNCATE r_parted;
SELECT pg_temp.same();
INSERT INTO r_parted SELECT * FROM r_saved;
SELECT pg_temp.same();
ALTER TABLE r_parted DETACH PARTITION r_items;
SELECT pg_temp.same();

-- 5. session_replication_role = replica (what logical replication's apply
--    worker and pg_restore --disable-triggers-less loads run under)
SET session_replication_role = replica;
UPDATE r_items SET bias = bias + 1000 WHERE id = 3;
SELECT pg_temp.same();
DELETE FROM r_items WHERE id = 4;
SELECT pg_temp.same();
RESET session_replication_role;

-- 6. a trigger disabled by the owner, or enabled only on replicas: the table
--    is then cached only within a snapshot, and the change is seen
ALTER TABLE r_items DISABLE TRIGGER fm_topk_version;
UPDATE r_items SET bias = 0 WHERE id = 5;
SELECT pg_temp.same();
ALTER TABLE r_items ENABLE REPLICA TRIGGER fm_topk_version;
UPDATE r_items SET bias = 1 WHERE id = 5;
SELECT pg_temp.same();
ALTER TABLE r_items ENABLE ALWAYS TRIGGER fm_topk_version;
SELECT pg_temp.same();
ALTER TABLE r_items DISABLE TRIGGER fm_topk_version_truncate;
SELECT pg_temp.same();
ALTER TABLE r_items ENABLE ALWAYS TRIGGER fm_topk_version_truncate;

-- 7. a foreign key cascade, a writable CTE and a rule on another table
CREATE TABLE r_owner (id bigint PRIMARY KEY);
INSERT INTO r_owner SELECT id FROM r_items;
ALTER TABLE r_items ADD FOREIGN KEY (id) REFERENCES r_owner ON DELETE CASCADE;
SELECT pg_temp.same();
DELETE FROM r_owner WHERE id = 6;
SELECT pg_temp.same();
WITH x AS (UPDATE r_items SET bias = 900 WHERE id = 7 RETURNING 1) SELECT count(*) FROM x;
SELECT pg_temp.same();
CREATE TABLE r_log (id bigint);
CREATE RULE r_log_also AS ON INSERT TO r_log DO ALSO UPDATE r_items SET bias = 950 WHERE id = new.id;
INSERT INTO r_log VALUES (8);
SELECT pg_temp.same();

-- 8. one bump per statement, not per row
SELECT version AS before FROM fm_topk_version WHERE relid = 'r_items'::regclass \gset
UPDATE r_items SET bias = bias + 1;
SELECT version - :before AS bumps_for_50_rows
  FROM fm_topk_version WHERE relid = 'r_items'::regclass;

-- a table with inheritance children cannot be tracked (reading it reads them)
SELECT pg_temp.try('SELECT fm_topk_track(''r_parent'')');
ALTER TABLE r_items INHERIT r_parent;
SELECT pg_temp.try('SELECT fm_topk_track(''r_parent'')');
ALTER TABLE r_items NO INHERIT r_parent;

-- the bump is a trigger function and nothing else
SELECT pg_temp.try('SELECT fm_topk_bump()');
CREATE TABLE r_other (x int);
CREATE TRIGGER wrong BEFORE INSERT ON r_other FOR EACH ROW EXECUTE FUNCTION fm_topk_bump();
SELECT pg_temp.try('INSERT INTO r_other VALUES (1)');
DROP TABLE r_other;

-- bad relations and system columns: 42P01 / 42703, not an internal error
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,1]', 'r_items', 1, id_column => 'tableoid')$$);
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,1]', 'r_items', 1, id_column => 'ctid')$$);
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,1]', 'r_items', 1, embedding_column => 'xmin')$$);
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,1]', 0, 1)$$);
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,1]', 4294967295, 1)$$);

-- a small table is charged what it takes, not a 16 MB chunk
SELECT fm_topk_cache_reset();
SELECT count(*) FROM fm_topk('[1,1]', 'r_items', 1);
SELECT items, bytes < 16384 AS small FROM fm_topk_cache() WHERE relid = 'r_items'::regclass;

-- a table owner who is not a superuser tracks and untracks its own table,
-- and sees only the caches it used itself
CREATE ROLE regress_fmrec_owner;
GRANT CREATE ON SCHEMA public TO regress_fmrec_owner;
SET ROLE regress_fmrec_owner;
CREATE TABLE r_mine (id bigint, embedding fm_vector, bias real);
INSERT INTO r_mine VALUES (1, '[1,1]', 1), (2, '[1,1]', 2);
SELECT fm_topk_track('r_mine');
SELECT relid FROM fm_topk_cache();   -- not r_items, which the superuser read
SELECT * FROM fm_topk('[1,1]', 'r_mine', 1);
UPDATE r_mine SET bias = 10 WHERE id = 1;
SELECT * FROM fm_topk('[1,1]', 'r_mine', 1);
SELECT relid, regime FROM fm_topk_cache();
SELECT pg_temp.try('SELECT fm_topk_untrack(''r_items'')');   -- not the owner
SELECT pg_temp.try('SELECT _fm_topk_version_mark(''r_items'', false)');
SELECT pg_temp.try('UPDATE fm_topk_version SET version = 0');
SELECT fm_topk_untrack('r_mine');
SELECT count(*) FROM fm_topk_version WHERE relid = 'r_mine'::regclass;
DROP TABLE r_mine;
RESET ROLE;

-- a role that may create objects in public plants nextval(text) (finding 1
-- of the security report): writes to a tracked table must not run it
SET ROLE regress_fmrec_owner;
CREATE FUNCTION public.nextval(text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted nextval(text) ran as %', current_user; END $$;
RESET ROLE;
INSERT INTO r_owner VALUES (99);
INSERT INTO r_items VALUES (99, '[1,1]', 1);
SELECT pg_temp.same();
DROP FUNCTION public.nextval(text);

DROP TABLE r_items, r_parent, r_empty_parent, r_parted, r_owner, r_log;
REVOKE CREATE ON SCHEMA public FROM regress_fmrec_owner;
DROP ROLE regress_fmrec_owner;

-- NULL and relations that do not exist
SELECT fm_topk_track(NULL), fm_topk_untrack(NULL);
SELECT pg_temp.try('SELECT fm_topk_track(0)'), pg_temp.try('SELECT fm_topk_untrack(0)');
