-- fm_topk(): the exact top-k from a backend-local cache must return what
-- ORDER BY fm_score(...) DESC, id LIMIT k returns, after any change.
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
\i sql/include/try.sql

-- 2000 items of 24 dimensions (deterministic), exact ties and NULLs
CREATE TABLE items (id bigint, bias real, embedding fm_vector, title text);
INSERT INTO items
SELECT i, (sin(i * 7.1) * 0.1)::real,
       (SELECT array_agg(sin(i * 0.37 + j * 1.91) * 0.1)::real[]
          FROM generate_series(1, 24) j)::fm_vector,
       'item ' || i
  FROM generate_series(1, 2000) i;
INSERT INTO items VALUES (2001, NULL, '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]', 'null bias'),
                         (2002, 5, NULL, 'null embedding'), (NULL, 5, NULL, 'null id');
CREATE TABLE queries AS
SELECT u, (SELECT array_agg(cos(u * 1.3 + j * 0.7))::real[] FROM generate_series(1, 24) j)::fm_vector AS q
  FROM generate_series(1, 20) u;
-- items 1500 and 1700 become copies of the best item of user 1: a 3-way tie
UPDATE items SET (embedding, bias) = (SELECT embedding, bias FROM items i, queries q WHERE q.u = 1
                                       ORDER BY fm_score(q.q, i.embedding, i.bias) DESC NULLS LAST LIMIT 1)
 WHERE id IN (1500, 1700);

-- The reference: what a serving query over the table returns.
CREATE FUNCTION pg_temp.reference(q fm_vector, k int, exclude bigint[] DEFAULT NULL)
RETURNS TABLE (id bigint, score double precision) LANGUAGE sql STABLE AS $$
  SELECT id, fm_score(q, embedding, bias) FROM items
   WHERE fm_score(q, embedding, bias) IS NOT NULL
     AND (exclude IS NULL OR id <> ALL (array_remove(exclude, NULL)))
   ORDER BY 2 DESC, 1 LIMIT k $$;
-- Both in one array each, so that equal means same ids, same order, same bits.
CREATE FUNCTION pg_temp.same(k int, exclude bigint[] DEFAULT NULL) RETURNS TABLE (users bigint, same bigint)
LANGUAGE sql STABLE AS $$
  SELECT count(*), count(*) FILTER (WHERE
    (SELECT array_agg(row(t.id, t.score)) FROM fm_topk(q, 'items', k, exclude) t) IS NOT DISTINCT FROM
    (SELECT array_agg(row(r.id, r.score)) FROM pg_temp.reference(q, k, exclude) r))
  FROM queries $$;

-- untracked table: cached only under one snapshot
SELECT * FROM pg_temp.same(10);
-- ties are broken by id, as ORDER BY score DESC, id does
SELECT id, round(score::numeric, 6) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 5);
-- both kernels (sgemv when OpenBLAS is installed), every k
SET fmrec.topk_blas_min_items = 0;
SELECT k, (pg_temp.same(k)).* FROM (VALUES (1), (3), (10), (64), (1999), (2001), (5000)) v(k);
SET fmrec.topk_kernel = loop;
SELECT k, (pg_temp.same(k)).* FROM (VALUES (1), (3), (10), (64), (1999), (2001), (5000)) v(k);
RESET fmrec.topk_kernel;
-- not already rated: exclusions (NULL elements ignored, unknown ids harmless)
SELECT * FROM pg_temp.same(10, ARRAY[748, 1500, NULL, -4, 99999]);
SELECT array_agg(id) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 3, ARRAY[748, 1500, NULL, -4]);
SELECT * FROM pg_temp.same(10, (SELECT array_agg(id) FROM pg_temp.reference((SELECT q FROM queries WHERE u = 3), 30)));
SELECT * FROM pg_temp.same(10, ARRAY[]::bigint[]);
-- no bias column
SELECT (SELECT array_agg(id) FROM fm_topk(q, 'items', 5, bias_column => NULL)) =
       (SELECT array_agg(id) FROM (SELECT id FROM items WHERE fm_score(q, embedding) IS NOT NULL
                                    ORDER BY fm_score(q, embedding) DESC, id LIMIT 5) s) AS no_bias_ok
  FROM queries WHERE u = 4;
-- k = 0 and NULL arguments give no rows
SELECT count(*) FROM fm_topk('[1]', 'items', 0);
SELECT count(*) FROM fm_topk(NULL, 'items', 3);
SELECT count(*) FROM fm_topk((SELECT q FROM queries WHERE u = 1), NULL, 3);

-- one statement, many users: one read of the table (lateral join)
SELECT count(*) AS rows, count(DISTINCT u) AS users
  FROM queries, LATERAL fm_topk(q, 'items', 7) t;

-- tracked table: the cache survives statements and transactions
SELECT fm_topk_cache_reset();
SELECT fm_topk_track('items');
SELECT * FROM pg_temp.same(10);
SELECT relid, items, dim, regime, valid,
       version = (SELECT version FROM fm_topk_version WHERE relid = 'items'::regclass) AS current
  FROM fm_topk_cache();

-- ... until a change: updates, inserts, deletes, in and out of transactions
UPDATE items SET bias = 3 WHERE id = 77;
SELECT id, round(score::numeric, 6) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 2);
SELECT * FROM pg_temp.same(10);
BEGIN;
DELETE FROM items WHERE id = 77;
SELECT * FROM pg_temp.same(10);
SAVEPOINT s;
INSERT INTO items VALUES (3000, 9, (SELECT q FROM queries WHERE u = 1), 'new');
SELECT id, round(score::numeric, 6) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 2);
ROLLBACK TO SAVEPOINT s;
SELECT id, round(score::numeric, 6) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 2);
SELECT * FROM pg_temp.same(10);
ROLLBACK;
SELECT id, round(score::numeric, 6) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 2);
SELECT * FROM pg_temp.same(10);
-- COPY, TRUNCATE and DDL
COPY items (id, bias, embedding) FROM stdin;
4000	7	[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]
\.
SELECT * FROM pg_temp.same(10);
CREATE TABLE items_saved AS SELECT * FROM items;
TRUNCATE items;
SELECT count(*) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 2);
INSERT INTO items SELECT * FROM items_saved;
SELECT * FROM pg_temp.same(10);
ALTER TABLE items RENAME COLUMN bias TO bias_old;
ALTER TABLE items ADD COLUMN bias real;
UPDATE items SET bias = 0;
ALTER TABLE items DISABLE TRIGGER fm_topk_version;
UPDATE items SET bias = bias_old;   -- not seen by the trigger...
ALTER TABLE items ENABLE ALWAYS TRIGGER fm_topk_version;
SELECT * FROM pg_temp.same(10);      -- ... but the trigger change invalidates
ALTER TABLE items ALTER COLUMN embedding TYPE fm_vector(24);
SELECT * FROM pg_temp.same(10);
SELECT relid, items, dim, regime, valid,
       version = (SELECT version FROM fm_topk_version WHERE relid = 'items'::regclass) AS current
  FROM fm_topk_cache();
-- after a rollback the cache must not show the rolled back state
BEGIN;
UPDATE items SET bias = 100 WHERE id = 5;
SELECT id FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 1);
ROLLBACK;
SELECT * FROM pg_temp.same(10);
SELECT fm_topk_untrack('items');
SELECT * FROM pg_temp.same(10);
SELECT fm_topk_track('items');

-- in a repeatable read transaction the cache follows its snapshot
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM pg_temp.same(10);
UPDATE items SET bias = -bias WHERE id % 3 = 0;
SELECT * FROM pg_temp.same(10);
COMMIT;

-- a view, and a table with row level security: cached per snapshot / never
CREATE VIEW good_items AS SELECT id AS item, embedding AS v, bias AS b FROM items WHERE bias > 0;
SELECT (SELECT array_agg(row(t.id, t.score)) FROM fm_topk(q, 'good_items', 5, NULL, 'item', 'v', 'b') t) =
       (SELECT array_agg(row(item, fm_score(q, v, b))) FROM
          (SELECT item, v, b FROM good_items WHERE fm_score(q, v, b) IS NOT NULL
            ORDER BY fm_score(q, v, b) DESC, item LIMIT 5) s) AS view_ok
  FROM queries WHERE u = 2;
CREATE ROLE regress_fmrec_reader;
GRANT SELECT ON items, queries TO regress_fmrec_reader;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd ON items TO regress_fmrec_reader USING (id % 2 = 1);
SET ROLE regress_fmrec_reader;
SELECT bool_and(t.id % 2 = 1) AS only_visible_rows, count(*)
  FROM queries, LATERAL fm_topk(q, 'items', 10) t;
RESET ROLE;
SELECT * FROM pg_temp.same(10);   -- the owner is not subject to the policy
ALTER TABLE items DISABLE ROW LEVEL SECURITY;
-- privileges: no SELECT, no result (even with a warm cache)
REVOKE SELECT ON items FROM regress_fmrec_reader;
GRANT SELECT (id, embedding) ON items TO regress_fmrec_reader;
SET ROLE regress_fmrec_reader;
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1]', 'items', 1)$$);
SELECT count(*) FROM fm_topk((SELECT q FROM queries WHERE u = 1), 'items', 3, bias_column => NULL);
RESET ROLE;

-- errors
SELECT q, pg_temp.try('SELECT * FROM fm_topk(' || q || ')') FROM (VALUES
  ($$'[1,2,3]', 'items', 5$$),
  ($$(SELECT q FROM queries WHERE u = 1), 'items', -1$$),
  ($$(SELECT q FROM queries WHERE u = 1), 'items', 5, id_column => 'nope'$$),
  ($$(SELECT q FROM queries WHERE u = 1), 'items', 5, embedding_column => 'title'$$),
  ($$(SELECT q FROM queries WHERE u = 1), 'items', 5, bias_column => 'title'$$),
  ($$(SELECT q FROM queries WHERE u = 1), 'items', 5, id_column => NULL$$),
  ($$(SELECT q FROM queries WHERE u = 1), 'no_such_table', 5$$)) t(q);
CREATE TABLE mixed (id int, bias real, embedding fm_vector);
INSERT INTO mixed VALUES (1, 0, '[1,2,3]'), (2, NULL, '[1,2]'), (3, 0, '[1,2]');
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,2,3]', 'mixed', 5)$$);
SELECT pg_temp.try($$SELECT * FROM fm_topk('[1,2,3]', 'mixed', 5, ARRAY[3])$$);
SELECT * FROM fm_topk('[1,2,3]', 'mixed', 5) WHERE false;  -- the error was not cached
SELECT pg_temp.try('SELECT fm_topk_track(''good_items'')');

SELECT fm_topk_cache_reset();
SELECT count(*) FROM fm_topk_cache();
DROP VIEW good_items;
DROP TABLE items, items_saved, queries, mixed;
DROP ROLE regress_fmrec_reader;
