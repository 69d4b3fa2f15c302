-- Scoring, similarity and arithmetic on fm_vector.
\i sql/include/try.sql

-- fm_score = bias + dot(query, embedding); bias defaults to 0
SELECT fm_score('[1,2,3]', '[4,5,6]', 0.5);
SELECT fm_score('[1,2,3]', '[4,5,6]');
SELECT fm_score(query => '[1,2,3]', embedding => '[4,5,6]', bias => -32);
SELECT fm_score('[1,2,3]', '[4,5,6]', NULL) IS NULL AS strict;
SELECT fm_dot('[1,2,3]', '[4,5,6]');
-- long vectors exercise the vectorised path and its tail
SELECT fm_dot(v, v) = 37.0 * 38 * 75 / 6 AS exact_sum_of_squares
  FROM (SELECT array_agg(i)::fm_vector AS v FROM generate_series(1, 37) i) s;

-- cosine in [-1, 1]; NULL for a zero vector
SELECT fm_cosine('[1,0]', '[0,1]'), fm_cosine('[1,1]', '[2,2]'), fm_cosine('[1,1]', '[-3,-3]');
SELECT fm_cosine('[0,0]', '[1,1]') IS NULL AS zero_gives_null;
SELECT fm_norm('[3,4]'), fm_dims('[3,4]');

-- arithmetic
SELECT '[1,2,3]'::fm_vector + '[10,20,30]';
SELECT '[1,2,3]'::fm_vector - '[10,20,30]';
SELECT '[1,2,3]'::fm_vector * 2::real, 0.5::real * '[1,2,3]'::fm_vector;
SELECT '[-1,2]'::fm_vector * 0::real AS no_negative_zero;
SELECT '[1,2]'::fm_vector = '[1,2]', '[1,2]'::fm_vector = '[1,3]', '[1,2]'::fm_vector <> '[1,3]';

-- every dimension mismatch of arithmetic names both dimensions (comparisons
-- order vectors of any dimensions, see below); overflow is 22003
SELECT q, pg_temp.try('SELECT ' || q) FROM (VALUES
  ($$fm_score('[1,2,3]', '[4,5]', 0)$$),
  ($$fm_dot('[1,2,3]', '[4,5]')$$),
  ($$fm_cosine('[1,2]', '[1,2,3]')$$),
  ($$'[1,2,3]'::fm_vector + '[1,2]'$$),
  ($$'[1,2,3]'::fm_vector - '[1,2]'$$),
  ($$'[3e38]'::fm_vector + '[3e38]'$$),
  ($$'[-3e38]'::fm_vector - '[3e38]'$$),
  ($$'[3e38]'::fm_vector * 10::real$$),
  ($$'[1]'::fm_vector * 'NaN'::real$$),
  ($$'Infinity'::real * '[1]'::fm_vector$$)) t(q);

-- the serving query: ORDER BY fm_score DESC LIMIT k
CREATE TABLE movies (movie_id int, title text, bias real, embedding fm_vector(2));
INSERT INTO movies VALUES
  (1, 'Action One', 0.1, '[1, 0]'), (2, 'Drama Two', 0.2, '[0, 1]'),
  (3, 'Mixed Three', 0.0, '[0.7, 0.6]'), (4, 'Bad Four', -1.0, '[0.1, 0.1]');
SELECT title, round(fm_score('[2, 1]', embedding, bias)::numeric, 3) AS score
  FROM movies ORDER BY fm_score('[2, 1]', embedding, bias) DESC LIMIT 3;
DROP TABLE movies;

-- Vectors stored out of line (over ~500 dimensions) reach the functions that
-- read vectors in place as toast pointers, which have a 1-byte header too
CREATE TABLE wide_items (id int, bias real, embedding fm_vector);
INSERT INTO wide_items SELECT i, i, array_fill(i::real, ARRAY[700])::fm_vector FROM generate_series(1, 3) i;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE relname = 'wide_items';
SELECT id, fm_score((SELECT embedding FROM wide_items WHERE id = 1), embedding, bias) AS score,
       fm_item_vec(embedding, bias) <#> fm_query_vec((SELECT embedding FROM wide_items WHERE id = 1)) AS ip
  FROM wide_items ORDER BY id;
DROP TABLE wide_items;

-- C functions that only compute are IMMUTABLE STRICT PARALLEL SAFE; listed are
-- those that read or write tables or hold state: the trainer, the evaluations,
-- the serving functions (fm_predict, fm_query, fm_item), fm_fold_in, fm_topk, its cache and its version rows
-- (trigger and marker), the trigger of registered item tables, and the index access method handler
SELECT p.proname AS function, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON d.refobjid = e.oid AND e.extname = 'fmrec'
 WHERE p.prokind = 'f' AND p.prorettype <> 'internal'::regtype
   AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
   AND p.proname NOT LIKE '%finalfn'
 ORDER BY 1, 2, 3, 4;	-- (overloads: ties broken, whatever the catalog's order)

-- btree and hash operator classes: DISTINCT, GROUP BY, UNION, ORDER BY,
-- unique and hash indexes; -0 equals +0 and hashes alike; vectors of other
-- dimensions order after their prefix
CREATE TABLE vecs (v fm_vector);
INSERT INTO vecs VALUES ('[1,2]'), ('[1,2]'), ('[0,5]'), ('[-0,5]'), ('[1]'), ('[1,2,0]'), ('[-3,1]');
SELECT v FROM vecs ORDER BY v;
SELECT count(DISTINCT v) AS distinct_vectors FROM vecs;
SET enable_hashagg = off;
SELECT v, count(*) FROM vecs GROUP BY v ORDER BY v;
RESET enable_hashagg;
SET enable_sort = off;
SELECT v, count(*) FROM vecs GROUP BY v ORDER BY count(*) DESC, v;
RESET enable_sort;
SELECT count(*) AS union_rows FROM (SELECT v FROM vecs UNION SELECT '[9]'::fm_vector) u;
SELECT fm_vector_hash('[0,5]') = fm_vector_hash('[-0,5]') AS zero_hashes_alike,
       fm_vector_hash_extended('[1,2]', 7) <> fm_vector_hash_extended('[1,2]', 8) AS seeded;
SELECT '[1,2]'::fm_vector < '[1,3]', '[1,2]'::fm_vector < '[1,2,0]', '[2]'::fm_vector >= '[1,9]',
       '[1,2]'::fm_vector = '[1,2,3]', '[1,2]'::fm_vector <> '[1,2,3]';
CREATE INDEX ON vecs USING hash (v);
SET enable_seqscan = off;
SELECT count(*) FROM vecs WHERE v = '[1,2]';
RESET enable_seqscan;
DELETE FROM vecs WHERE v = '[1,2]' OR v = '[0,5]';
INSERT INTO vecs VALUES ('[0,5]');
CREATE UNIQUE INDEX ON vecs (v);
SELECT pg_temp.try($$INSERT INTO vecs VALUES ('[-0,5]')$$);
DROP TABLE vecs;

-- every object of fmrec is documented in the catalog (\dx+ fmrec, \df+)
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS undocumented
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'fmrec'
 WHERE d.deptype = 'e'
   AND obj_description(d.objid, d.classid::regclass::name) IS NULL
   -- array types and the row types of tables and views (members from PostgreSQL 17 on)
   AND NOT EXISTS (SELECT 1 FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typelem <> 0 OR c.relkind IN ('r', 'S', 'v')))
 ORDER BY 1;
