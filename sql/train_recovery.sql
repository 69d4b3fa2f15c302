-- Recovery of a known real-valued factorization machine: rows generated
-- from a true model over three numeric columns of very different units
-- (n1 in [0, 100], n2 in [-1, 1], n3 in [0, 5] or NULL) and a weighted
-- jsonb column of four tags (each present with probability 1/2, weight in
-- [0, 1]), k = 2, plus uniform noise of standard deviation 0.058 (6% of the
-- target's 0.92).  The function is exactly representable, so a correct
-- training reaches the noise floor: measured RMSE against the true function
-- 0.5% (ALS, Adam, SGD) to 5.4% (MCMC) of its standard deviation.  Bars:
--   RMSE(prediction, true function) on 1,000 fresh rows < 10% of its sd;
--   correlation of the 21 recovered pairwise weights <v_i, v_j> with the
--   true ones > 0.99, and of the 7 biases > 0.99.
-- The predictions are computed from fm_feature as serving does, with the
-- RAW values of the numeric columns: a stored parameter not rescaled from
-- the internal x / max|x| would be off by up to 100x and fail every bar.
SET client_min_messages = warning;
SELECT setseed(0.25) IS NULL AS seeded;
CREATE TABLE truth_param (feature text, value text, w float8, v1 float8, v2 float8);
INSERT INTO truth_param VALUES
 ('n1', '', 0.02, 0.012, -0.008),
 ('n2', '', 0.50, 0.60, 0.30),
 ('n3', '', -0.20, -0.15, 0.20),
 ('tags', 't1', 0.80, 0.70, -0.40),
 ('tags', 't2', -0.50, -0.30, 0.80),
 ('tags', 't3', 0.30, 0.50, 0.50),
 ('tags', 't4', -0.10, -0.60, -0.20);
CREATE TABLE truth_rows AS
SELECT i, round((random() * 100)::numeric, 3)::float8 AS n1, random() * 2 - 1 AS n2,
       CASE WHEN random() < 0.9 THEN random() * 5 END AS n3,
       (SELECT jsonb_object_agg(t, round(random()::numeric, 3)) FROM unnest(ARRAY['t1', 't2', 't3', 't4']) t
         WHERE random() < 0.5 + 0 * i) AS tags,
       (random() - 0.5) * 0.2 AS noise
  FROM generate_series(1, 6000) i;
-- each row in long form (row, feature, value, x), and the true function
CREATE VIEW truth_x AS
SELECT i, 'n1' AS feature, '' AS value, n1 AS x FROM truth_rows WHERE n1 IS NOT NULL
UNION ALL SELECT i, 'n2', '', n2 FROM truth_rows WHERE n2 IS NOT NULL
UNION ALL SELECT i, 'n3', '', n3 FROM truth_rows WHERE n3 IS NOT NULL
UNION ALL SELECT i, 'tags', e.key, e.value::float8 FROM truth_rows, jsonb_each_text(tags) e;
CREATE VIEW truth_y AS
SELECT x.i, 3.0 + sum(x.x * p.w) + 0.5 * (power(sum(x.x * p.v1), 2) + power(sum(x.x * p.v2), 2)
        - sum(x.x * x.x * (p.v1 * p.v1 + p.v2 * p.v2))) AS y
  FROM truth_x x JOIN truth_param p USING (feature, value) GROUP BY x.i;
CREATE TABLE rec_train AS
SELECT r.n1, r.n2, r.n3, r.tags, y.y + r.noise AS y FROM truth_rows r JOIN truth_y y USING (i) WHERE r.i <= 5000;
CREATE TABLE rec_test AS SELECT r.i, y.y FROM truth_rows r JOIN truth_y y USING (i) WHERE r.i > 5000;

-- the model's prediction of each test row, from the stored parameters
CREATE FUNCTION pg_temp.check_recovery(model text)
RETURNS TABLE (kinds text[], rmse_below_10pct boolean, pairs_corr_above_099 boolean, bias_corr_above_099 boolean)
LANGUAGE sql AS $$
WITH pred AS (
  SELECT x.i, m.w0 + sum(x.x * f.bias) + 0.5 * (fm_dot(fm_sum(f.embedding * x.x::real), fm_sum(f.embedding * x.x::real))
                                              - sum(x.x * x.x * fm_dot(f.embedding, f.embedding))) AS p
    FROM truth_x x JOIN fm_feature f ON f.model = $1 AND f.feature = x.feature AND f.value = x.value
    JOIN fm_model m ON m.model = $1
   WHERE x.i > 5000 GROUP BY x.i, m.w0),
pairs AS (
  SELECT fm_dot(a.embedding, b.embedding) AS got, ta.v1 * tb.v1 + ta.v2 * tb.v2 AS want
    FROM fm_feature a JOIN fm_feature b ON a.model = b.model AND (a.feature, a.value) < (b.feature, b.value)
    JOIN truth_param ta ON (ta.feature, ta.value) = (a.feature, a.value)
    JOIN truth_param tb ON (tb.feature, tb.value) = (b.feature, b.value)
   WHERE a.model = $1)
SELECT (SELECT feature_kinds FROM fm_model WHERE model = $1),
       (SELECT sqrt(avg((p.p - t.y) ^ 2)) FROM pred p JOIN rec_test t USING (i)) < 0.1 * (SELECT stddev(y) FROM rec_test),
       (SELECT corr(got, want) > 0.99 AND count(*) = 21 FROM pairs),
       (SELECT corr(f.bias, t.w) > 0.99 FROM fm_feature f JOIN truth_param t USING (feature, value) WHERE f.model = $1)
$$;

SELECT method, rows_used, n_features
  FROM fm_train_from_table('rec_train', 'y', ARRAY['n1', 'n2', 'n3', 'tags'], 'rec_als', method => 'als', k => 2,
                           epochs => 100, regularization => 0.0001, validation_fraction => 0);
SELECT * FROM pg_temp.check_recovery('rec_als');
SELECT method FROM fm_train_from_table('rec_train', 'y', ARRAY['n1', 'n2', 'n3', 'tags'], 'rec_sgd', k => 2,
                                       epochs => 100, regularization => 0.0001, validation_fraction => 0);
SELECT * FROM pg_temp.check_recovery('rec_sgd');
SELECT method FROM fm_train_from_table('rec_train', 'y', ARRAY['n1', 'n2', 'n3', 'tags'], 'rec_mcmc', method => 'mcmc',
                                       k => 2, epochs => 100, validation_fraction => 0);
SELECT * FROM pg_temp.check_recovery('rec_mcmc');
