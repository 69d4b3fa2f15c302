-- fm_train_from_table: every bad argument is an ERROR with its SQLSTATE,
-- and a failed training leaves the previous model untouched.
SET client_min_messages = warning;
\i sql/include/try.sql

CREATE TYPE pair AS (a int, b int);
CREATE TABLE r (u int, i int, t text, p pair, g text[], rating real, label text);
INSERT INTO r SELECT x % 10, x % 7, 't' || x % 3, ROW(x, x)::pair, ARRAY['g' || x % 4], (x % 5) + 1, 'l'
  FROM generate_series(1, 500) x;
SELECT rows_used FROM fm_train_from_table('r', 'rating', ARRAY['u', 'i'], 'keep', k => 4, epochs => 3);
SELECT trained_at AS kept_at FROM fm_model WHERE model = 'keep' \gset

SELECT q, pg_temp.try(format($f$SELECT fm_train_from_table(%s)$f$, q)) FROM (VALUES
  ($$'no_such_table', 'rating', ARRAY['u'], 'keep'$$),
  ($$'r', 'no_such_column', ARRAY['u'], 'keep'$$),
  ($$'r', 'rating', ARRAY['u', 'no_such_column'], 'keep'$$),
  ($$'r', 'label', ARRAY['u'], 'keep'$$),
  ($$'r', 'rating', ARRAY['u', 'p'], 'keep'$$),
  ($$'r', 'rating', ARRAY['u', 'u'], 'keep'$$),
  ($$'r', 'rating', ARRAY['u', 'rating'], 'keep'$$),
  ($$'r', 'rating', ARRAY[]::name[], 'keep'$$),
  ($$'r', 'rating', ARRAY['u', NULL], 'keep'$$),
  ($$NULL, 'rating', ARRAY['u'], 'keep'$$),
  ($$'r', 'rating', ARRAY['u'], NULL$$),
  ($$'r', 'rating', ARRAY['u'], ''$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', k => 0$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', k => 1025$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', epochs => 0$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', learning_rate => 0$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', learning_rate => -1$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', learning_rate => 'NaN'$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', learning_rate => 'Infinity'$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', regularization => 0$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', init_stdev => -0.1$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', validation_fraction => 0.6$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', validation_fraction => -0.1$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', method => 'gradient boosting'$$),
  ($$'r', 'rating', ARRAY['u'], 'keep', method => NULL$$)) t(q);

-- no usable rows: an empty table, a table of NULL targets
CREATE TABLE empty_r (LIKE r);
SELECT pg_temp.try($$SELECT fm_train_from_table('empty_r', 'rating', ARRAY['u'], 'keep')$$);
INSERT INTO empty_r (u, rating) SELECT x, NULL FROM generate_series(1, 10) x;
SELECT pg_temp.try($$SELECT fm_train_from_table('empty_r', 'rating', ARRAY['u'], 'keep')$$);

-- NaN and infinite targets are skipped and counted, like NULLs
CREATE TABLE odd_targets (u int, rating double precision);
INSERT INTO odd_targets SELECT x % 5, x % 5 FROM generate_series(1, 100) x;
INSERT INTO odd_targets VALUES (1, 'NaN'), (2, 'Infinity'), (3, '-Infinity'), (4, NULL);
SELECT rows_used, rows_skipped FROM fm_train_from_table('odd_targets', 'rating', ARRAY['u'], 'odd', k => 2, epochs => 2);

-- a training too big for fmrec.max_training_memory fails before allocating
CREATE TABLE big_r AS SELECT x % 1000 AS u, x % 997 AS i, (x % 5) + 1 AS rating FROM generate_series(1, 100000) x;
SET fmrec.max_training_memory = '1MB';
SELECT pg_temp.try($$SELECT fm_train_from_table('big_r', 'rating', ARRAY['u', 'i'], 'keep', k => 8, epochs => 1)$$);
RESET fmrec.max_training_memory;

-- after all these failures the previous model is intact
SELECT k, trained_at = :'kept_at' AS untouched, (SELECT count(*) FROM fm_feature WHERE model = 'keep') AS features
  FROM fm_model WHERE model = 'keep';

-- serving errors
SELECT q, pg_temp.try('SELECT ' || q) FROM (VALUES
  ($$fm_predict('nope', ARRAY['u'], ARRAY['1'])$$),
  ($$fm_query('nope', ARRAY['u'], ARRAY['1'])$$),
  ($$fm_predict('keep', ARRAY['u', 'i'], ARRAY['1'])$$),
  ($$fm_predict('keep', ARRAY['u'], ARRAY['1'])$$)) t(q);

-- a validation relation must have the training columns, of the same kinds
CREATE TABLE v_missing (u int, rating real);
CREATE TABLE v_array (u int, i int[], rating real);
SELECT pg_temp.try($$SELECT fm_train_from_table('r', 'rating', ARRAY['u', 'i'], 'keep', validation => 'v_missing')$$);
SELECT pg_temp.try($$SELECT fm_train_from_table('r', 'rating', ARRAY['u', 'i'], 'keep', validation => 'v_array')$$);
