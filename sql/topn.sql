-- The top-N scan: ORDER BY fm_score(...) LIMIT k over one table is planned
-- as a Custom Scan (FmTopNScan) that keeps the k best rows while it reads
-- the table.  Whatever the plan, the answer must be ORDER BY's.
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
\i sql/include/try.sql

-- 1000 items of 40 dimensions with distinct scores, plus rows whose score is
-- NULL (NULL embedding or bias) or NaN (inf - inf within one float lane:
-- 16 dimensions apart, both within the first 32, against the query "big")
CREATE TABLE items (id int, title text, bias real, embedding fm_vector(40));
INSERT INTO items
SELECT i, 'item ' || i, (sin(i * 7.1) * 0.1)::real,
       (SELECT array_agg(sin(i * 0.37 + j * 1.91) * 0.1)::real[] FROM generate_series(1, 40) j)::fm_vector
  FROM generate_series(1, 1000) i;
UPDATE items SET embedding = NULL WHERE id IN (10, 20, 30);
UPDATE items SET bias = NULL WHERE id = 40;
UPDATE items SET embedding = (SELECT array_agg(CASE WHEN j IN (1, 17) THEN 2 ELSE 0 END)::real[]
                                FROM generate_series(1, 40) j)::fm_vector
 WHERE id IN (50, 60);
ANALYZE items;
CREATE TABLE queries (name text PRIMARY KEY, q fm_vector);
INSERT INTO queries
SELECT 'user ' || u, (SELECT array_agg(cos(u * 1.3 + j * 0.7))::real[] FROM generate_series(1, 40) j)::fm_vector
  FROM generate_series(1, 5) u;
INSERT INTO queries VALUES
  ('big', (('{3e38' || repeat(',0', 15) || ',-3e38' || repeat(',0', 23) || '}')::real[])::fm_vector),
  ('short', '[1,2,3]'), ('null', NULL);

-- same_as_sort(query): runs a query returning (id, score) with the top-N scan
-- and without it; 'same' when the scores come in the same order and the
-- same ids are returned (rows with equal scores may come in either order).
CREATE FUNCTION pg_temp.same_as_sort(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  plan text := '';
  line text;
  fast_scores text; fast_ids int[];
  sort_scores text; sort_ids int[];
BEGIN
  PERFORM set_config('fmrec.enable_topn_scan', 'on', true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    plan := plan || line;
  END LOOP;
  IF plan NOT LIKE '%FmTopNScan%' THEN
    RETURN 'top-N scan not used: ' || plan;
  END IF;
  EXECUTE format('SELECT array_agg(score)::text, array_agg(id ORDER BY id) FROM (%s) r', query)
    INTO fast_scores, fast_ids;
  PERFORM set_config('fmrec.enable_topn_scan', 'off', true);
  EXECUTE format('SELECT array_agg(score)::text, array_agg(id ORDER BY id) FROM (%s) r', query)
    INTO sort_scores, sort_ids;
  PERFORM set_config('fmrec.enable_topn_scan', 'on', true);
  IF fast_scores IS DISTINCT FROM sort_scores OR fast_ids IS DISTINCT FROM sort_ids THEN
    RETURN format('different: %s %s / %s %s', fast_scores, fast_ids, sort_scores, sort_ids);
  END IF;
  RETURN 'same';
END $$;

CREATE FUNCTION pg_temp.uses_topn_plan(query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE plan text := ''; line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP plan := plan || line; END LOOP;
  RETURN plan LIKE '%FmTopNScan%';
END $$;

-- The plan: the scan claims the ORDER BY, the LIMIT sits right above it.
EXPLAIN (COSTS OFF)
SELECT title FROM items ORDER BY fm_score('[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]', embedding, bias) DESC LIMIT 3;
EXPLAIN (COSTS OFF)
SELECT id FROM items
 ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) LIMIT 5 OFFSET 2;

-- What a user sees: the best three titles.  (DESC puts NULL scores first,
-- as ORDER BY always does; NULLS LAST skips the items without embedding.)
SELECT title, round(fm_score(q, embedding, bias)::numeric, 4) AS score
  FROM items, (SELECT q FROM queries WHERE name = 'user 1') u
 ORDER BY fm_score(q, embedding, bias) DESC NULLS LAST LIMIT 3;
SELECT title FROM items
 ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC NULLS LAST LIMIT 3;

-- Every direction and NULLS placement, with NULL and NaN scores in the table.
SELECT name, o, pg_temp.same_as_sort(format(
         'SELECT id, fm_score(%L::fm_vector, embedding, bias) AS score FROM items
           ORDER BY fm_score(%L::fm_vector, embedding, bias) %s LIMIT 12', q, q, o))
  FROM queries,
       unnest(ARRAY['DESC', 'DESC NULLS LAST', 'ASC', 'ASC NULLS FIRST']) o
 WHERE name IN ('user 1', 'user 2', 'big')
 ORDER BY name, o;

-- Where NULL and NaN scores go: NULLs first, then NaNs, then numbers (DESC)
SELECT id, fm_score(q, embedding, bias) AS score
  FROM items, (SELECT q FROM queries WHERE name = 'big') b
 ORDER BY fm_score(q, embedding, bias) DESC LIMIT 7;
SELECT id, score FROM (
  SELECT id, fm_score((SELECT q FROM queries WHERE name = 'big'), embedding, bias) AS score FROM items
   ORDER BY fm_score((SELECT q FROM queries WHERE name = 'big'), embedding, bias) ASC LIMIT 1000) s
 WHERE score = 'NaN' OR score IS NULL;

-- LIMIT and OFFSET, larger than the table, 0 and 1; filters; the two-argument
-- form (bias 0); a bias that is an expression; a query vector from a subquery.
SELECT q.label, pg_temp.same_as_sort(q.sql)
  FROM (VALUES
  ('limit 1', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 3''), embedding, bias) AS score FROM items ORDER BY 2 DESC NULLS LAST LIMIT 1'),
  ('offset', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 3''), embedding, bias) AS score FROM items ORDER BY 2 DESC LIMIT 4 OFFSET 6'),
  ('limit > rows', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 4''), embedding, bias) AS score FROM items ORDER BY 2 DESC LIMIT 5000'),
  ('limit 0', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 4''), embedding, bias) AS score FROM items ORDER BY 2 DESC LIMIT 0'),
  ('filter', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 5''), embedding, bias) AS score FROM items WHERE id % 3 = 0 AND title <> ''item 999'' ORDER BY 2 DESC NULLS LAST LIMIT 10'),
  ('exclude', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 5''), embedding, bias) AS score FROM items WHERE id <> ALL (''{1,2,3,4,5,6,7,8,9,10,20}'') ORDER BY 2 DESC LIMIT 10'),
  ('no bias', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 2''), embedding) AS score FROM items ORDER BY 2 DESC LIMIT 10'),
  ('bias expression', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 2''), embedding, (bias * 10 + id / 1000.0)::real) AS score FROM items ORDER BY 2 DESC LIMIT 10'),
  ('null query', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''null''), embedding, bias) AS score FROM items ORDER BY 2 DESC LIMIT 3'),
  ('no row', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 2''), embedding, bias) AS score FROM items WHERE id < 0 ORDER BY 2 DESC LIMIT 3')
  ) q(label, sql);

-- Short vectors (1-byte varlena header, copied out of the page) and wide
-- ones (stored out of line, detoasted row by row).
CREATE TABLE narrow (id int, bias real, embedding fm_vector);
INSERT INTO narrow SELECT i, 0, ARRAY[sin(i), cos(i), sin(3 * i)]::real[]::fm_vector FROM generate_series(1, 300) i;
CREATE TABLE wide (id int, bias real, embedding fm_vector);
INSERT INTO wide SELECT i, 0, (SELECT array_agg(sin(i * j))::real[] FROM generate_series(1, 700) j)::fm_vector
  FROM generate_series(1, 60) i;
SELECT pg_column_size(embedding) < 20 AS short_header FROM narrow LIMIT 1;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE relname = 'wide';
SELECT pg_temp.same_as_sort('SELECT id, fm_score(''[1,-2,0.5]'', embedding, bias) AS score FROM narrow ORDER BY 2 DESC LIMIT 7') AS narrow,
       pg_temp.same_as_sort('SELECT id, fm_score((SELECT embedding FROM wide WHERE id = 7), embedding, bias) AS score FROM wide ORDER BY 2 DESC LIMIT 7') AS wide;
DROP TABLE narrow, wide;

-- System columns of the rows returned.
SELECT pg_temp.uses_topn_plan('SELECT ctid, tableoid::regclass, id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 3') AS plan;
SELECT i.ctid = t.ctid AS same_ctid, t.tableoid::regclass
  FROM (SELECT ctid, tableoid, id FROM items
         ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC NULLS LAST LIMIT 3) t
  JOIN items i USING (id);

-- A prepared statement: the query vector is a parameter, the plan generic.
PREPARE top3(fm_vector) AS
  SELECT id, fm_score($1, embedding, bias) AS score FROM items ORDER BY 2 DESC NULLS LAST LIMIT 3;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE top3('[1,2,3]');
SELECT q AS user5 FROM queries WHERE name = 'user 5' \gset
EXECUTE top3(:'user5');
RESET plan_cache_mode;
SET fmrec.enable_topn_scan = off;
EXECUTE top3(:'user5');
RESET fmrec.enable_topn_scan;

-- Per user, in a lateral subquery: the scan runs again for every user, with
-- that user's query vector.
EXPLAIN (COSTS OFF)
SELECT u.name, r.id FROM queries u,
       LATERAL (SELECT id FROM items ORDER BY fm_score(u.q, embedding, bias) DESC NULLS LAST LIMIT 2) r
 WHERE u.name LIKE 'user%';
CREATE TEMP TABLE lateral_fast AS
SELECT u.name, array_agg(r.id) AS ids FROM queries u,
       LATERAL (SELECT id FROM items ORDER BY fm_score(u.q, embedding, bias) DESC NULLS LAST LIMIT 4) r
 WHERE u.name LIKE 'user%' GROUP BY u.name;
SET fmrec.enable_topn_scan = off;
CREATE TEMP TABLE lateral_sort AS
SELECT u.name, array_agg(r.id) AS ids FROM queries u,
       LATERAL (SELECT id FROM items ORDER BY fm_score(u.q, embedding, bias) DESC NULLS LAST LIMIT 4) r
 WHERE u.name LIKE 'user%' GROUP BY u.name;
RESET fmrec.enable_topn_scan;
SELECT count(*) AS users, count(*) FILTER (WHERE f.ids = s.ids) AS same
  FROM lateral_fast f JOIN lateral_sort s USING (name);

-- Parallel: each worker keeps its k best, Gather Merge merges them.
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF)
SELECT id FROM items ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC LIMIT 5;
SELECT pg_temp.same_as_sort(
  'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 1''), embedding, bias) AS score
     FROM items ORDER BY 2 DESC LIMIT 25');
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;

-- A scrollable cursor reads the rows backwards too.
BEGIN;
DECLARE c SCROLL CURSOR FOR
  SELECT id FROM items
   ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC NULLS LAST LIMIT 3;
FETCH ALL FROM c;
FETCH BACKWARD 2 FROM c;
COMMIT;

-- Errors are fm_score's: a query of another dimension.
SELECT pg_temp.try($$SELECT id FROM items ORDER BY fm_score((SELECT q FROM queries WHERE name = 'short'), embedding, bias) DESC LIMIT 3$$);
SET fmrec.enable_topn_scan = off;
SELECT pg_temp.try($$SELECT id FROM items ORDER BY fm_score((SELECT q FROM queries WHERE name = 'short'), embedding, bias) DESC LIMIT 3$$);
RESET fmrec.enable_topn_scan;

-- Row-level security: the policy's rows only, as with any other plan.
CREATE ROLE fmrec_topn_reader;
GRANT SELECT ON items, queries TO fmrec_topn_reader;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY even_rows ON items FOR SELECT USING (id % 2 = 0);
SET ROLE fmrec_topn_reader;
SELECT bool_and(id % 2 = 0) AS only_even, count(*) FROM (
  SELECT id FROM items ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC LIMIT 20) r;
RESET ROLE;
ALTER TABLE items DISABLE ROW LEVEL SECURITY;
DROP POLICY even_rows ON items;
REVOKE ALL ON items, queries FROM fmrec_topn_reader;
DROP ROLE fmrec_topn_reader;

-- Where the scan does not apply, the plan is PostgreSQL's own: a join, no
-- LIMIT, a second sort key, an embedding that is an expression, a window,
-- FOR UPDATE, or the setting off.
SELECT q.label, pg_temp.uses_topn_plan(q.sql)
  FROM (VALUES
  ('join', 'SELECT i.id FROM items i JOIN queries u ON u.name = ''user 1'' ORDER BY fm_score(u.q, i.embedding, i.bias) DESC LIMIT 3'),
  ('no limit', 'SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC'),
  ('two keys', 'SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC, id LIMIT 3'),
  ('expression', 'SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding + embedding, bias) DESC LIMIT 3'),
  ('window', 'SELECT id, count(*) OVER () FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 3'),
  ('for update', 'SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 3 FOR UPDATE'),
  ('with ties', 'SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC FETCH FIRST 3 ROWS WITH TIES'),
  ('plain', 'SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 3')
  ) q(label, sql);
SET fmrec.enable_topn_scan = off;
SELECT pg_temp.uses_topn_plan('SELECT id FROM items ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 3') AS setting_off;
RESET fmrec.enable_topn_scan;

-- Partitioned and inherited tables: each leaf partition (and an inheritance
-- parent's own rows) gets a top-N scan of its k best, and the planner merges
-- them under a Merge Append; the LIMIT above it reads k rows.
-- same_ranking(query): as same_as_sort, but rows tied with the last row
-- returned (with an OFFSET, with the first one too) may be other rows of
-- that score: which of the tied rows a LIMIT keeps is left open by SQL, and
-- Merge Append and Sort choose differently among partitions.  Every score,
-- and every other row, must be the same.
CREATE FUNCTION pg_temp.same_ranking(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  plan text := '';
  line text;
  fast_scores float8[]; fast_ids int[];
  sort_scores float8[]; sort_ids int[];
  first int; last int;
BEGIN
  PERFORM set_config('fmrec.enable_topn_scan', 'on', true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    plan := plan || line;
  END LOOP;
  IF plan NOT LIKE '%FmTopNScan%' THEN
    RETURN 'top-N scan not used: ' || plan;
  END IF;
  EXECUTE format('SELECT array_agg(score), array_agg(id) FROM (%s) r', query)
    INTO fast_scores, fast_ids;
  PERFORM set_config('fmrec.enable_topn_scan', 'off', true);
  EXECUTE format('SELECT array_agg(score), array_agg(id) FROM (%s) r', query)
    INTO sort_scores, sort_ids;
  PERFORM set_config('fmrec.enable_topn_scan', 'on', true);
  IF fast_scores::text IS DISTINCT FROM sort_scores::text THEN
    RETURN format('different scores: %s / %s', fast_scores, sort_scores);
  END IF;
  -- the rows between the groups tied with the first and the last row
  last := coalesce(array_length(sort_scores, 1), 0);
  WHILE last > 0 AND sort_scores[last]::text IS NOT DISTINCT FROM
                     sort_scores[array_length(sort_scores, 1)]::text LOOP
    last := last - 1;
  END LOOP;
  first := 1;
  WHILE query ~* 'OFFSET' AND first <= last AND
        sort_scores[first]::text IS NOT DISTINCT FROM sort_scores[1]::text LOOP
    first := first + 1;
  END LOOP;
  IF (SELECT array_agg(x ORDER BY x) FROM unnest(fast_ids[first:last]) x) IS DISTINCT FROM
     (SELECT array_agg(x ORDER BY x) FROM unnest(sort_ids[first:last]) x) THEN
    RETURN format('different rows: %s / %s', fast_ids, sort_ids);
  END IF;
  RETURN 'same';
END $$;

-- items' rows in a range-partitioned table: a partition with its columns in
-- another order and a dropped column (attached), one sub-partitioned by
-- hash (one sub-partition with a dropped column too), a default partition
-- and an empty one.  More NULL and NaN scores, in several partitions.
CREATE TABLE pitems (id int, title text, bias real, embedding fm_vector(40)) PARTITION BY RANGE (id);
CREATE TABLE pitems_low PARTITION OF pitems FOR VALUES FROM (1) TO (300);
CREATE TABLE pitems_mid (junk int, embedding fm_vector(40), bias real, title text, id int);
ALTER TABLE pitems_mid DROP COLUMN junk;
ALTER TABLE pitems ATTACH PARTITION pitems_mid FOR VALUES FROM (300) TO (600);
CREATE TABLE pitems_high PARTITION OF pitems FOR VALUES FROM (600) TO (950) PARTITION BY HASH (id);
CREATE TABLE pitems_high_0 PARTITION OF pitems_high FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pitems_high_1 (bias real, gone text, id int, embedding fm_vector(40), title text);
ALTER TABLE pitems_high_1 DROP COLUMN gone;
ALTER TABLE pitems_high ATTACH PARTITION pitems_high_1 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE pitems_empty PARTITION OF pitems FOR VALUES FROM (5000) TO (6000);
CREATE TABLE pitems_rest PARTITION OF pitems DEFAULT;
INSERT INTO pitems SELECT id, title, bias, embedding FROM items;
UPDATE pitems SET embedding = NULL WHERE id IN (310, 650, 977);
UPDATE pitems SET bias = NULL WHERE id = 701;
UPDATE pitems SET embedding = (SELECT embedding FROM items WHERE id = 50) WHERE id IN (420, 963);
ANALYZE pitems;
SELECT tableoid::regclass AS partition, count(*) FROM pitems GROUP BY 1 ORDER BY 1;

-- The plan: a top-N scan per partition under a Merge Append.
EXPLAIN (COSTS OFF)
SELECT title FROM pitems ORDER BY fm_score('[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]', embedding, bias) DESC LIMIT 3;

-- Every direction and NULLS placement, with NULL and NaN scores.
SELECT name, o, pg_temp.same_ranking(format(
         'SELECT id, fm_score(%L::fm_vector, embedding, bias) AS score FROM pitems
           ORDER BY fm_score(%L::fm_vector, embedding, bias) %s LIMIT 12', q, q, o))
  FROM queries,
       unnest(ARRAY['DESC', 'DESC NULLS LAST', 'ASC', 'ASC NULLS FIRST']) o
 WHERE name IN ('user 1', 'user 2', 'big')
 ORDER BY name, o;

-- The rows themselves, the partition they come from and their columns
-- (read through each partition's own column numbers).
SELECT p.id, p.tableoid::regclass AS partition, p.title = i.title AS same_title,
       p.bias IS NOT DISTINCT FROM i.bias AS same_bias
  FROM (SELECT tableoid, id, title, bias FROM pitems
         ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 3'), embedding, bias) DESC NULLS LAST LIMIT 6) p
  JOIN items i USING (id);

-- LIMIT and OFFSET, filters, the bias as an expression, a NULL query (every
-- score ties), a filter that leaves no row.
SELECT q.label, pg_temp.same_ranking(q.sql)
  FROM (VALUES
  ('limit 1', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 3''), embedding, bias) AS score FROM pitems ORDER BY 2 DESC NULLS LAST LIMIT 1'),
  ('offset', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 3''), embedding, bias) AS score FROM pitems ORDER BY 2 DESC LIMIT 4 OFFSET 6'),
  ('limit > rows', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 4''), embedding, bias) AS score FROM pitems ORDER BY 2 DESC LIMIT 5000'),
  ('filter', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 5''), embedding, bias) AS score FROM pitems WHERE id % 3 <> 0 AND title <> ''item 999'' ORDER BY 2 DESC NULLS LAST LIMIT 10'),
  ('bias expression', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 2''), embedding, (bias * 10 + id / 1000.0)::real) AS score FROM pitems ORDER BY 2 DESC LIMIT 10'),
  ('null query', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''null''), embedding, bias) AS score FROM pitems ORDER BY 2 DESC LIMIT 3'),
  ('no row', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 2''), embedding, bias) AS score FROM pitems WHERE id % 7 > 10 ORDER BY 2 DESC LIMIT 3'),
  ('sub-partitions', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 1''), embedding, bias) AS score FROM pitems_high ORDER BY 2 DESC LIMIT 10'),
  ('partition alone', 'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 1''), embedding, bias) AS score FROM pitems_mid ORDER BY 2 DESC LIMIT 10')
  ) q(label, sql);

-- Partition pruning: a WHERE on the partition key keeps the partitions it
-- can match (one partition: no Merge Append at all), at plan time and, for
-- a generic plan, at run time.
EXPLAIN (COSTS OFF)
SELECT id FROM pitems WHERE id < 300 ORDER BY fm_score('[1,2,3]', embedding, bias) DESC LIMIT 3;
EXPLAIN (COSTS OFF)
SELECT id FROM pitems WHERE id BETWEEN 250 AND 650 ORDER BY fm_score('[1,2,3]', embedding, bias) DESC LIMIT 3;
SELECT pg_temp.same_ranking(
  'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 2''), embedding, bias) AS score
     FROM pitems WHERE id BETWEEN 250 AND 650 ORDER BY 2 DESC LIMIT 10') AS pruned;
PREPARE ptop3(fm_vector, int) AS
  SELECT id, fm_score($1, embedding, bias) AS score FROM pitems WHERE id < $2 ORDER BY 2 DESC NULLS LAST LIMIT 3;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ptop3('[1,2,3]', 300);
EXECUTE ptop3(:'user5', 300);
RESET plan_cache_mode;
SET fmrec.enable_topn_scan = off;
EXECUTE ptop3(:'user5', 300);
RESET fmrec.enable_topn_scan;
DEALLOCATE ptop3;

-- Hash partitions, one with another column order.
CREATE TABLE hitems (id int, title text, bias real, embedding fm_vector(40)) PARTITION BY HASH (id);
CREATE TABLE hitems_0 PARTITION OF hitems FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE hitems_1 PARTITION OF hitems FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE hitems_2 (embedding fm_vector(40), id int, title text, bias real);
ALTER TABLE hitems ATTACH PARTITION hitems_2 FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO hitems SELECT * FROM pitems;
ANALYZE hitems;
SELECT name, o, pg_temp.same_ranking(format(
         'SELECT id, fm_score(%L::fm_vector, embedding, bias) AS score FROM hitems
           ORDER BY fm_score(%L::fm_vector, embedding, bias) %s LIMIT 12', q, q, o))
  FROM queries, unnest(ARRAY['DESC', 'ASC NULLS FIRST']) o
 WHERE name IN ('user 4', 'big')
 ORDER BY name, o;

-- Inheritance: a parent with rows of its own, a child with an extra column
-- and its columns in another order, a child with a dropped column.
CREATE TABLE iitems (id int, title text, bias real, embedding fm_vector(40));
CREATE TABLE iitems_a (extra text, embedding fm_vector(40), id int, bias real, title text);
ALTER TABLE iitems_a INHERIT iitems;
CREATE TABLE iitems_b (gone int) INHERITS (iitems);
ALTER TABLE iitems_b DROP COLUMN gone;
INSERT INTO iitems SELECT * FROM pitems WHERE id <= 300;
INSERT INTO iitems_a (id, title, bias, embedding, extra) SELECT id, title, bias, embedding, 'x' FROM pitems WHERE id > 300 AND id <= 700;
INSERT INTO iitems_b SELECT * FROM pitems WHERE id > 700;
ANALYZE iitems, iitems_a, iitems_b;
EXPLAIN (COSTS OFF)
SELECT id FROM iitems ORDER BY fm_score('[1,2,3]', embedding, bias) DESC LIMIT 3;
SELECT name, o, pg_temp.same_ranking(format(
         'SELECT id, fm_score(%L::fm_vector, embedding, bias) AS score FROM iitems
           ORDER BY fm_score(%L::fm_vector, embedding, bias) %s LIMIT 12', q, q, o))
  FROM queries, unnest(ARRAY['DESC', 'ASC NULLS FIRST']) o
 WHERE name IN ('user 4', 'big')
 ORDER BY name, o;
SELECT pg_temp.same_ranking(
  'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 1''), embedding, bias) AS score
     FROM ONLY iitems ORDER BY 2 DESC LIMIT 10') AS parent_only;

-- The same answer from the three layouts and from the plain table.
SELECT count(DISTINCT ids) AS answers FROM (
  SELECT t, array_agg(id ORDER BY id) AS ids FROM (
    SELECT 'items' AS t, id FROM (SELECT id FROM items WHERE id NOT IN (310, 650, 977, 701, 420, 963) ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 5'), embedding, bias) DESC NULLS LAST LIMIT 8) a
    UNION ALL
    SELECT 'hitems', id FROM (SELECT id FROM hitems WHERE id NOT IN (310, 650, 977, 701, 420, 963) ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 5'), embedding, bias) DESC NULLS LAST LIMIT 8) b
    UNION ALL
    SELECT 'iitems', id FROM (SELECT id FROM iitems WHERE id NOT IN (310, 650, 977, 701, 420, 963) ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 5'), embedding, bias) DESC NULLS LAST LIMIT 8) c
    UNION ALL
    SELECT 'pitems', id FROM (SELECT id FROM pitems WHERE id NOT IN (310, 650, 977, 701, 420, 963) ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 5'), embedding, bias) DESC NULLS LAST LIMIT 8) d
  ) r GROUP BY t) s;

-- Parallel: partial top-N scans under a Parallel Append, their rows sorted
-- and merged by Gather Merge.
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF)
SELECT id FROM pitems ORDER BY fm_score('[1,2,3]', embedding, bias) DESC LIMIT 5;
SELECT pg_temp.same_ranking(
  'SELECT id, fm_score((SELECT q FROM queries WHERE name = ''user 1''), embedding, bias) AS score
     FROM pitems ORDER BY 2 DESC LIMIT 25') AS parallel;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;

-- Row-level security on the partitioned table: its policy filters every
-- partition's scan.
CREATE ROLE fmrec_topn_part_reader;
GRANT SELECT ON pitems, queries TO fmrec_topn_part_reader;
ALTER TABLE pitems ENABLE ROW LEVEL SECURITY;
CREATE POLICY even_rows ON pitems FOR SELECT USING (id % 2 <> 1);
SET ROLE fmrec_topn_part_reader;
SELECT pg_temp.uses_topn_plan('SELECT id FROM pitems ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 20') AS plan;
SELECT bool_and(id % 2 = 0) AS only_even, count(*) FROM (
  SELECT id FROM pitems ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC LIMIT 20) r;
RESET ROLE;
DROP POLICY even_rows ON pitems;
ALTER TABLE pitems DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON pitems, queries FROM fmrec_topn_part_reader;
DROP ROLE fmrec_topn_part_reader;

-- Not for the scan: a UNION ALL of tables (its branches may compute their
-- columns), a join with a partitioned table.
SELECT q.label, pg_temp.uses_topn_plan(q.sql)
  FROM (VALUES
  ('union all', 'SELECT id FROM (SELECT id, bias, embedding FROM items UNION ALL SELECT id, bias, embedding FROM iitems) u ORDER BY fm_score(''[1,2,3]'', embedding, bias) DESC LIMIT 3'),
  ('join', 'SELECT p.id FROM pitems p JOIN queries u ON u.name = ''user 1'' ORDER BY fm_score(u.q, p.embedding, p.bias) DESC LIMIT 3')
  ) q(label, sql);
DROP TABLE pitems, hitems, iitems CASCADE;

-- A new session that has not used fmrec yet: fm_score's support function
-- loads the module while the query is planned, so the scan is offered.
\c
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT id FROM items ORDER BY fm_score((SELECT q FROM queries WHERE name = 'user 1'), embedding, bias) DESC LIMIT 3;

DROP TABLE items, queries;
