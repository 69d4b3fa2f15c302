-- Serving in C: fm_predict / fm_query / fm_item for jsonb contexts, rows and
-- parallel arrays, fm_predict_batch.  Every form agrees with the others and
-- with the FM equation recomputed in SQL from fm_feature; the feature kinds
-- (categorical, each, numeric, weighted) are read as documented; every bad
-- input is an error with its SQLSTATE.
SET client_min_messages = warning;
\i sql/include/try.sql

CREATE TABLE sv_users (user_id int PRIMARY KEY, grp text, note text);
CREATE TABLE sv_items (item_id int PRIMARY KEY, genres text[], title text);
INSERT INTO sv_users SELECT u, CASE WHEN u % 2 = 0 THEN 'a' ELSE 'b' END, 'user ' || u
  FROM generate_series(1, 40) u;
INSERT INTO sv_items SELECT i, CASE WHEN i % 3 = 0 THEN ARRAY['x', 'y'] WHEN i % 3 = 1 THEN ARRAY['z'] ELSE ARRAY['x', 'y', 'z'] END,
       'item ' || i
  FROM generate_series(1, 30) i;
CREATE TABLE sv_ratings AS
SELECT u.user_id, i.item_id, u.grp, i.genres,
       (CASE WHEN (u.user_id + i.item_id) % 2 = 0 THEN 4.5 ELSE 1.5 END
        + ((u.user_id * 7 + i.item_id * 3) % 5 - 2) * 0.1)::real AS rating
  FROM sv_users u, sv_items i WHERE (u.user_id * 13 + i.item_id * 7) % 3 <> 0;
SELECT n_features > 0 AS trained
  FROM fm_train_from_table('sv_ratings', 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'],
                           'serve_sv', k => 4, epochs => 30, seed => 1);

-- The pairs served: every known user with a few items, plus unknown users
-- and items (cold start) and one with everything unknown.
CREATE TABLE sv_pairs AS
SELECT row_number() OVER (ORDER BY u, i) AS id, u AS user_id, i AS item_id
  FROM generate_series(1, 42) u, generate_series(1, 31, 5) i;
-- (feature, value, x) of each pair, as training reads a row
CREATE TABLE sv_desc AS
SELECT p.id, 'user_id' AS feature, p.user_id::text AS value, 1.0::float8 AS x FROM sv_pairs p
UNION ALL SELECT p.id, 'item_id', p.item_id::text, 1.0 FROM sv_pairs p
UNION ALL SELECT p.id, 'grp', u.grp, 1.0 FROM sv_pairs p JOIN sv_users u USING (user_id)
UNION ALL SELECT p.id, 'genres', g, 1.0 / cardinality(i.genres)
  FROM sv_pairs p JOIN sv_items i USING (item_id), unnest(i.genres) g;

-- The FM equation in SQL: w0 + sum w x + 1/2 (|sum v x|^2 - sum |v|^2 x^2), clipped.
CREATE FUNCTION pg_temp.reference(model_name text, d_table regclass) RETURNS TABLE (id bigint, p float8, q real[])
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
  WITH t AS (SELECT d.id, d.x, f.bias, f.embedding::real[] AS v
               FROM %s d JOIN fm_feature f ON f.model = $1 AND f.feature = d.feature AND f.value = d.value),
  dims AS (SELECT t.id, e.ord, sum(e.val * t.x) AS s FROM t, unnest(t.v) WITH ORDINALITY e(val, ord) GROUP BY t.id, e.ord),
  per AS (SELECT t.id, sum(t.bias * t.x) AS lin,
                 sum((SELECT sum(e * e) FROM unnest(t.v) e) * t.x * t.x) AS sq FROM t GROUP BY t.id),
  ids AS (SELECT DISTINCT d.id FROM %s d)
  SELECT ids.id,
         greatest(m.target_min, least(m.target_max,
           m.w0 + coalesce(per.lin, 0) + 0.5 * (coalesce((SELECT sum(s * s) FROM dims WHERE dims.id = ids.id), 0) - coalesce(per.sq, 0)))),
         coalesce((SELECT array_agg(dims.s::real ORDER BY dims.ord) FROM dims WHERE dims.id = ids.id),
                  array_fill(0::real, ARRAY[m.k]))
    FROM ids CROSS JOIN fm_model m LEFT JOIN per ON per.id = ids.id WHERE m.model = $1$q$, d_table, d_table)
  USING model_name;
END $$;

-- every form, for every pair
CREATE TABLE sv_served AS
SELECT p.id,
       fm_predict('serve_sv', jsonb_strip_nulls(jsonb_build_object('user_id', p.user_id, 'item_id', p.item_id,
                                                              'grp', u.grp, 'genres', i.genres))) AS by_jsonb,
       fm_predict('serve_sv', ARRAY['user_id', 'item_id', 'grp'] || array_fill('genres'::text, ARRAY[coalesce(cardinality(i.genres), 0)]),
                  ARRAY[p.user_id::text, p.item_id::text, u.grp] || i.genres) AS by_arrays,
       fm_predict('serve_sv', u, i) AS by_rows,
       fm_query('serve_sv', jsonb_strip_nulls(jsonb_build_object('user_id', p.user_id, 'grp', u.grp))) AS q_jsonb,
       fm_query('serve_sv', ARRAY['user_id', 'grp'], ARRAY[p.user_id::text, u.grp]) AS q_arrays
  FROM sv_pairs p LEFT JOIN sv_users u USING (user_id) LEFT JOIN sv_items i USING (item_id);
SELECT count(*) AS pairs,
       max(abs(s.by_jsonb - r.p)) < 1e-6 AS jsonb_exact,
       max(abs(s.by_arrays - r.p)) < 1e-6 AS arrays_exact,
       max(abs(s.by_rows - r.p)) < 1e-6 AS rows_exact,
       bool_and(s.by_jsonb = s.by_arrays AND s.by_arrays = s.by_rows) AS forms_identical,
       count(*) FILTER (WHERE r.p <> (SELECT w0 FROM fm_model WHERE model = 'serve_sv')) > 200 AS informative
  FROM sv_served s JOIN pg_temp.reference('serve_sv', 'sv_desc') r USING (id);
-- the pairs whose user and item are both unknown are w0 exactly (cold start)
SELECT count(*) AS cold, bool_and(s.by_jsonb = m.w0) AS cold_is_w0
  FROM sv_served s JOIN sv_pairs p USING (id), fm_model m
 WHERE m.model = 'serve_sv' AND p.user_id > 40 AND p.item_id > 30;
-- the batch form: the same predictions, in order
SELECT cardinality(b) AS batch, b = (SELECT array_agg(by_jsonb ORDER BY id) FROM sv_served) AS batch_identical
  FROM (SELECT fm_predict_batch('serve_sv', array_agg(jsonb_strip_nulls(jsonb_build_object('user_id', p.user_id, 'item_id', p.item_id,
                                                  'grp', u.grp, 'genres', i.genres)) ORDER BY p.id)) AS b
          FROM sv_pairs p LEFT JOIN sv_users u USING (user_id) LEFT JOIN sv_items i USING (item_id)) s;
SELECT fm_predict_batch('serve_sv', ARRAY['{}', NULL]::jsonb[]) = ARRAY[(SELECT w0 FROM fm_model WHERE model = 'serve_sv'), NULL] AS batch_nulls,
       fm_predict_batch('serve_sv', '{}'::jsonb[]) AS empty_batch;
-- query vectors: both forms, equal to the sum of the user's embeddings in SQL
CREATE TABLE sv_qdesc AS SELECT * FROM sv_desc WHERE feature IN ('user_id', 'grp');
SELECT bool_and(s.q_jsonb = s.q_arrays) AS query_forms_identical,
       max((SELECT max(abs(a - b)) FROM unnest(s.q_jsonb::real[], r.q) AS z(a, b))) < 1e-6 AS query_exact,
       bool_and(s.q_jsonb = array_fill(0::real, ARRAY[4])::fm_vector) FILTER (WHERE p.user_id > 40) AS unknown_user_zero
  FROM sv_served s JOIN sv_pairs p USING (id) JOIN pg_temp.reference('serve_sv', 'sv_qdesc') r USING (id);
-- items: the jsonb form, the array form (what fm_materialize_items uses) and
-- the serving identity fm_predict = w0 + user part + fm_score(query, item) for
-- a pair inside the target range
SELECT bool_and(j.bias = a.bias AND j.embedding = a.embedding) AS item_forms_identical
  FROM sv_items i,
       fm_item('serve_sv', jsonb_build_object('item_id', i.item_id, 'genres', i.genres)) j,
       fm_item('serve_sv', ARRAY['item_id'] || array_fill('genres'::text, ARRAY[cardinality(i.genres)]),
               ARRAY[i.item_id::text] || i.genres) a;
SELECT abs(fm_predict('serve_sv', '{"user_id": 3, "grp": "b", "item_id": 4, "genres": ["z"]}')
           - (m.w0 + u.bias + fm_score(fm_query('serve_sv', '{"user_id": 3, "grp": "b"}'), i.embedding, i.bias))) < 1e-5 AS serving_identity
  FROM fm_model m, fm_item('serve_sv', '{"user_id": 3, "grp": "b"}') u, fm_item('serve_sv', '{"item_id": 4, "genres": ["z"]}') i
 WHERE m.model = 'serve_sv';

-- jsonb scalars: any JSON type is read as its text; JSON null is absent
SELECT fm_predict('serve_sv', '{"user_id": 3, "item_id": 4}') = fm_predict('serve_sv', '{"user_id": "3", "item_id": ["4"]}') AS number_is_text,
       fm_predict('serve_sv', '{"user_id": 3, "grp": null}') = fm_predict('serve_sv', '{"user_id": 3}') AS null_absent,
       fm_predict('serve_sv', '{"genres": ["x", null, "y"]}') = fm_predict('serve_sv', '{"genres": ["x", "y"]}') AS null_element_absent,
       fm_predict('serve_sv', '{"genres": ["x", "x"]}') = fm_predict('serve_sv', '{"genres": "x"}') AS repeats_add_up,
       fm_predict('serve_sv', '{"grp": true}') = fm_predict('serve_sv', '{"grp": "true"}') AS bool_is_text,
       fm_predict('serve_sv', '{"grp": "nope"}') = fm_predict('serve_sv', '{}') AS unknown_value_nothing;

-- overload resolution of untyped literals
SELECT fm_predict('serve_sv', '{"grp": "a"}') = fm_predict('serve_sv', ARRAY['grp'], ARRAY['a']) AS jsonb_literal,
       fm_predict('serve_sv', '{grp}'::text[], '{a}') = fm_predict('serve_sv', ARRAY['grp'], ARRAY['a']) AS typed_array_literal,
       fm_query('serve_sv', '{grp}', '{a}') = fm_query('serve_sv', '{"grp": "a"}') AS query_array_literal,
       (fm_item('serve_sv', '{item_id}', '{1}')).bias = (fm_item('serve_sv', '{"item_id": 1}')).bias AS item_array_literal;
-- (with the row form, three untyped literals cannot choose: ARRAY[...] or a cast;
-- PostgreSQL 19 adds a DETAIL, left out)
SELECT split_part(pg_temp.try($$SELECT fm_predict('serve_sv', '{grp}', '{a}')$$), ' | ', 1) AS try;

-- NULLs: the jsonb and batch forms are STRICT; the array and row forms give
-- NULL for a NULL model and read NULL arrays and rows as nothing known
SELECT fm_predict('serve_sv', NULL::jsonb) IS NULL AS jsonb_null, fm_predict(NULL, '{}'::jsonb) IS NULL AS model_null,
       fm_query('serve_sv', NULL::jsonb) IS NULL AS query_null, (fm_item('serve_sv', NULL::jsonb)).bias IS NULL AS item_null,
       fm_predict_batch('serve_sv', NULL) IS NULL AS batch_null,
       fm_predict(NULL, ARRAY['grp'], ARRAY['a']) IS NULL AS arrays_model_null,
       fm_predict('serve_sv', NULL::text[], NULL::text[]) = m.w0 AS arrays_null_w0,
       fm_predict('serve_sv', ARRAY['grp', 'user_id', NULL], ARRAY[NULL, '3', 'x']) = fm_predict('serve_sv', '{"user_id": 3}') AS null_pairs_skipped,
       fm_predict('serve_sv', NULL::sv_users, NULL::sv_items) = m.w0 AS rows_null_w0
  FROM fm_model m WHERE m.model = 'serve_sv';
-- the row form ignores columns that are not features (note, title)
SELECT fm_predict('serve_sv', u, i) = fm_predict('serve_sv', jsonb_build_object('user_id', u.user_id, 'grp', u.grp,
                                                   'item_id', i.item_id, 'genres', i.genres)) AS rows_ignore_others
  FROM sv_users u, sv_items i WHERE u.user_id = 5 AND i.item_id = 6;

-- errors
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', '[1, 2]')$$) AS not_an_object;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', '"grp"')$$) AS scalar_context;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', '{"gruop": "a"}')$$) AS misspelled_key;
SELECT pg_temp.try($$SELECT fm_query('serve_sv', '{"gruop": "a"}')$$) AS misspelled_query;
SELECT pg_temp.try($$SELECT fm_item('serve_sv', '{"gruop": "a"}')$$) AS misspelled_item;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', ARRAY['gruop'], ARRAY['a'])$$) AS misspelled_array;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', ARRAY['grp', 'user_id'], ARRAY['a'])$$) AS lengths_differ;
SELECT pg_temp.try($$SELECT fm_predict('nope', '{}')$$) AS no_model;
SELECT pg_temp.try($$SELECT fm_predict('nope', ARRAY['grp'], ARRAY['a'])$$) AS no_model_arrays;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', '{"genres": {"x": 1}}')$$) AS categorical_object;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', '{"genres": [["x"]]}')$$) AS nested_array;
SELECT pg_temp.try($$SELECT fm_predict('serve_sv', u, 5) FROM sv_users u LIMIT 1$$) AS row_form_scalar;
SELECT pg_temp.try($$SELECT fm_predict_batch('serve_sv', ARRAY['{}', '{"gruop": 1}']::jsonb[])$$) AS batch_misspelled;

-- Feature kinds, on a hand-made model (k = 2): c categorical, e each,
-- n numeric (one row (n, '')), w weighted.
INSERT INTO fm_model (model, method, k, w0, target_min, target_max, source, target, features, params,
                      epochs, rows_used, rows_skipped, n_features, seconds, trained_at, feature_kinds)
VALUES ('serve_hand', 'sgd', 2, 1.0, -100, 100, 'none', 'y', ARRAY['c', 'e', 'n', 'w'], '{}', 0, 0, 0, 6, 0, now(),
        ARRAY['categorical', 'each', 'numeric', 'weighted']);
INSERT INTO fm_feature (model, feature, value, bias, embedding) VALUES
  ('serve_hand', 'c', 'a', 0.5, '[1, 0]'), ('serve_hand', 'c', 'b', 0.125, '[0, 0.5]'),
  ('serve_hand', 'e', 'x', 0.25, '[0, 1]'), ('serve_hand', 'e', 'y', -0.5, '[1, 1]'),
  ('serve_hand', 'n', '', 2, '[0.5, -1]'),
  ('serve_hand', 'w', 't1', 1, '[2, 0]'), ('serve_hand', 'w', 't2', -1, '[0, 2]');
-- By hand: linear 0.5 + 0.25 - 0.5 + 2*3 + 1*0.5 - 1*2 = 4.75; total (4.5, 3),
-- |total|^2 = 29.25; squares 1 + 1 + 2 + 1.25*9 + 4*0.25 + 4*4 = 32.25;
-- prediction 1 + 4.75 + (29.25 - 32.25)/2 = 4.25.
SELECT fm_predict('serve_hand', '{"c": "a", "e": ["x", "y"], "n": 3, "w": {"t1": 0.5, "t2": 2}}') AS by_hand_4_25,
       fm_query('serve_hand', '{"c": "a", "e": ["x", "y"], "n": 3, "w": {"t1": 0.5, "t2": 2}}') AS total_4_5_3;
CREATE TABLE hand_desc (id bigint, feature text, value text, x float8);
INSERT INTO hand_desc VALUES (1, 'c', 'a', 0.5), (1, 'c', 'b', 0.5), (1, 'e', 'x', 1), (1, 'e', 'y', 1),
  (1, 'n', '', -1.5), (1, 'w', 't1', 3), (2, 'n', '', 0.25), (3, 'w', 't2', -0.75), (3, 'c', 'a', 1);
CREATE TABLE hand_rows (id bigint, c text[], e text[], n float8, w jsonb, other text);
INSERT INTO hand_rows VALUES (1, '{a,b}', '{x,y}', -1.5, '{"t1": 3}', 'ignored'),
  (2, NULL, NULL, 0.25, NULL, NULL), (3, '{a}', '{}', NULL, '{"t2": -0.75, "t9": 4}', 'x');
SELECT r.id, round(ref.p::numeric, 6) AS reference,
       abs(fm_predict('serve_hand', to_jsonb(r) - 'id' - 'other') - ref.p) < 1e-6 AS jsonb_ok,
       abs(fm_predict('serve_hand', r, NULL) - ref.p) < 1e-6 AS rows_ok,
       abs(fm_predict('serve_hand', ARRAY['c', 'c', 'e', 'e', 'n', 'w'], ARRAY[r.c[1], r.c[2], r.e[1], r.e[2], r.n::text, r.w::text]) - ref.p) < 1e-6 AS arrays_ok
  FROM hand_rows r JOIN pg_temp.reference('serve_hand', 'hand_desc') ref USING (id) ORDER BY r.id;
-- numeric columns of any number type; numeric kind in the array form takes the number's text
SELECT fm_predict('serve_hand', '{"n": 2}') = 1 + 4 + 0 AS numeric_linear,
       fm_predict('serve_hand', (SELECT r FROM (SELECT 2::int AS n) r), NULL) = 5 AS int_column,
       fm_predict('serve_hand', (SELECT r FROM (SELECT 2::numeric AS n) r), NULL) = 5 AS numeric_column,
       fm_predict('serve_hand', ARRAY['n'], ARRAY['2']) = 5 AS numeric_text,
       fm_predict('serve_hand', '{"e": ["x", "x"]}') = 1 + 0.5 + 0.5 * (4 - 4) AS each_adds_up,
       fm_predict('serve_hand', '{"w": {}}') = 1 AS empty_weights;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"n": "3"}')$$) AS numeric_string;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"n": [3]}')$$) AS numeric_array;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"n": 1e400}')$$) AS numeric_overflow;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', ARRAY['n'], ARRAY['three'])$$) AS numeric_text_bad;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', ARRAY['n'], ARRAY['NaN'])$$) AS numeric_text_nan;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', (SELECT r FROM (SELECT 'NaN'::float8 AS n) r), NULL)$$) AS numeric_column_nan;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', (SELECT r FROM (SELECT 'Infinity'::float4 AS n) r), NULL)$$) AS numeric_column_inf;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', (SELECT r FROM (SELECT '3'::text AS n) r), NULL)$$) AS numeric_column_text;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"w": {"t1": "x"}}')$$) AS weight_string;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"w": {"t1": null}}')$$) AS weight_null;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"w": ["t1"]}')$$) AS weighted_array;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{"w": {"t1": 1e400}}')$$) AS weight_overflow;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', ARRAY['w'], ARRAY['[1]'])$$) AS weighted_text_not_object;
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', (SELECT r FROM (SELECT 't1'::text AS w) r), NULL)$$) AS weighted_column_text;
UPDATE fm_model SET feature_kinds = ARRAY['categorical', 'each', 'numeric', 'fuzzy'] WHERE model = 'serve_hand';
SELECT pg_temp.try($$SELECT fm_predict('serve_hand', '{}')$$) AS unknown_kind;
UPDATE fm_model SET feature_kinds = ARRAY['categorical', 'each', 'numeric', 'weighted'] WHERE model = 'serve_hand';

-- The memo lives for one snapshot: a PL/pgSQL loop (whose expressions
-- outlive a statement) sees a change of fm_feature made between two calls.
CREATE FUNCTION pg_temp.twice() RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE r float8[] := '{}';
BEGIN
  FOR i IN 1..2 LOOP
    r := r || fm_predict('serve_hand', '{"c": "a"}'::jsonb);
    UPDATE fm_feature SET bias = bias + 1 WHERE model = 'serve_hand' AND feature = 'c' AND value = 'a';
  END LOOP;
  RETURN r;
END $$;
SELECT pg_temp.twice() AS sees_each_update;
-- a NULL feature_kinds (models before 0.3.0) reads every column as categorical
UPDATE fm_model SET feature_kinds = NULL WHERE model = 'serve_hand';
SELECT fm_predict('serve_hand', '{"e": ["x", "y"]}') = fm_predict('serve_hand', ARRAY['e', 'e'], ARRAY['x', 'y']) AS legacy_categorical,
       fm_predict('serve_hand', '{"e": ["x", "y"]}') = 1 + 0.5 * (0.25 - 0.5) + 0.5 * (1.25 - 0.75) AS one_over_len;
