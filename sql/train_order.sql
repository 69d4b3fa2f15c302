-- The same rows and seed give the same model, whatever order the source
-- delivers them in: a table and the same rows inserted the other way round,
-- a three-table join under a hash join and under a merge join, a view
-- ORDER BY random(), and a validation relation read in two orders.
SET client_min_messages = warning;	-- per-epoch NOTICEs carry timings

CREATE TABLE ord_users (user_id int PRIMARY KEY, grp text);
CREATE TABLE ord_items (item_id int PRIMARY KEY, genres text[]);
CREATE TABLE ord_ratings (user_id int, item_id int, rating real);
INSERT INTO ord_users SELECT u, CASE WHEN u % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 50) u;
INSERT INTO ord_items SELECT i, CASE WHEN i % 3 = 0 THEN ARRAY['x', 'y'] ELSE ARRAY['z'] END
  FROM generate_series(1, 30) i;
-- inserted scrambled, so that a hash join (probe order) and a merge join
-- (key order) deliver different orders
INSERT INTO ord_ratings
SELECT u, i, CASE WHEN (u + i) % 2 = 0 THEN 4.5 ELSE 1.5 END + ((u * 7 + i * 3) % 5 - 2) * 0.1
  FROM generate_series(1, 50) u, generate_series(1, 30) i
 WHERE (u * 13 + i * 7) % 3 <> 0
 ORDER BY (u * 37 + i * 11) % 97, u, i;
ANALYZE ord_users, ord_items, ord_ratings;

CREATE VIEW ord_joined AS
SELECT r.user_id, r.item_id, u.grp, i.genres, r.rating
  FROM ord_ratings r JOIN ord_users u USING (user_id) JOIN ord_items i USING (item_id);
CREATE TABLE ord_forward AS SELECT * FROM ord_joined ORDER BY user_id, item_id;
CREATE TABLE ord_backward AS SELECT * FROM ord_joined ORDER BY user_id DESC, item_id DESC;
CREATE VIEW ord_shuffled AS SELECT * FROM ord_forward ORDER BY random();

CREATE FUNCTION ord_train(source regclass, model text, method text, validation regclass DEFAULT NULL)
RETURNS TABLE (train_rmse double precision, validation_rmse double precision)
LANGUAGE sql AS $$
  SELECT t.train_rmse, t.validation_rmse
    FROM fm_train_from_table(source, 'rating', ARRAY['user_id', 'item_id', 'grp', 'genres'], model,
                             k => 4, epochs => 6, method => method, seed => 11,
                             validation => validation) t
$$;

-- every feature row and w0 bit for bit
CREATE FUNCTION ord_compare(a text, b text,
                            OUT features_a bigint, OUT features_b bigint, OUT identical bigint,
                            OUT same_w0 boolean, OUT same_rmse boolean)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM fm_feature WHERE model = a),
         (SELECT count(*) FROM fm_feature WHERE model = b),
         (SELECT count(*) FROM fm_feature fa JOIN fm_feature fb USING (feature, value)
           WHERE fa.model = a AND fb.model = b
             AND fa.bias = fb.bias AND fa.embedding = fb.embedding
             AND fa.embedding::text = fb.embedding::text),
         (SELECT w0 FROM fm_model WHERE model = a) = (SELECT w0 FROM fm_model WHERE model = b),
         (SELECT (train_rmse, validation_rmse) FROM fm_model WHERE model = a) IS NOT DISTINCT FROM
         (SELECT (train_rmse, validation_rmse) FROM fm_model WHERE model = b)
$$;

CREATE TABLE ord_methods (method text, n int);
INSERT INTO ord_methods VALUES ('sgd', 1), ('adam', 2), ('als', 3), ('mcmc', 4);

-- a table, and the same rows inserted in the opposite order
SELECT count(*) FROM ord_methods, ord_train('ord_forward', 'fwd_' || method, method);
SELECT count(*) FROM ord_methods, ord_train('ord_backward', 'bwd_' || method, method);

-- the three-table join under two plans that deliver the rows differently
SET enable_nestloop = off;
SET enable_mergejoin = off;
SET enable_hashjoin = on;
CREATE TEMP TABLE ord_seen_hash AS SELECT row_number() OVER () AS n, user_id, item_id FROM ord_joined;
SELECT count(*) FROM ord_methods, ord_train('ord_joined', 'hash_' || method, method);
SET enable_hashjoin = off;
SET enable_mergejoin = on;
CREATE TEMP TABLE ord_seen_merge AS SELECT row_number() OVER () AS n, user_id, item_id FROM ord_joined;
SELECT count(*) FROM ord_methods, ord_train('ord_joined', 'merge_' || method, method);
RESET enable_nestloop;
RESET enable_mergejoin;
RESET enable_hashjoin;
-- the plans did read the rows in different orders
SELECT count(*) AS rows, count(*) FILTER (WHERE (h.user_id, h.item_id) <> (m.user_id, m.item_id)) > 0 AS order_differs
  FROM ord_seen_hash h JOIN ord_seen_merge m USING (n);

-- a view that shuffles on every read
SELECT count(*) FROM ord_methods, ord_train('ord_shuffled', 'shuf_' || method, method);

SELECT m.method, v.other, c.*
  FROM ord_methods m,
       unnest(ARRAY['bwd_', 'hash_', 'merge_', 'shuf_']) WITH ORDINALITY AS v(other, o),
       ord_compare('fwd_' || m.method, v.other || m.method) c
 ORDER BY m.n, v.o;

-- an explicit validation relation, read in two orders
CREATE TABLE ord_valid AS SELECT user_id, item_id, grp, genres, rating + 0.25 AS rating
  FROM ord_forward WHERE (user_id + item_id) % 4 = 0 ORDER BY user_id, item_id;
CREATE TABLE ord_valid_back AS SELECT * FROM ord_valid ORDER BY user_id DESC, item_id DESC;
SELECT count(*) FROM ord_methods, ord_train('ord_forward', 'vfwd_' || method, method, 'ord_valid');
SELECT count(*) FROM ord_methods, ord_train('ord_backward', 'vbwd_' || method, method, 'ord_valid_back');
SELECT m.method, c.*
  FROM ord_methods m, ord_compare('vfwd_' || m.method, 'vbwd_' || m.method) c
 ORDER BY m.n;

-- and the models are not all the same: the comparison can tell
SELECT c.identical < c.features_a AS sgd_differs_from_adam
  FROM ord_compare('fwd_sgd', 'fwd_adam') c;

DROP TABLE ord_methods;
DELETE FROM fm_model WHERE model ~ '^(v?fwd|v?bwd|hash|merge|shuf)_';
DROP VIEW ord_shuffled, ord_joined;
DROP TABLE ord_forward, ord_backward, ord_valid, ord_valid_back, ord_ratings, ord_users, ord_items;
DROP FUNCTION ord_train, ord_compare;
