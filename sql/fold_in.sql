-- fm_fold_in: the query vector of a user from items rated after the
-- training, in closed form.  The solution is checked against its objective
-- (the gradient, computed here in SQL from the item table, is zero at the
-- returned vector and not at the context vector), for a rating model and
-- for iALS; every bad input is an error with its SQLSTATE.
SET client_min_messages = warning;
\i sql/include/try.sql

CREATE TABLE fr (user_id int, movie_id int, gender text, genres text[], rating real);
INSERT INTO fr SELECT u, m, CASE WHEN u % 2 = 0 THEN 'F' ELSE 'M' END, ARRAY['g' || (m % 3), 'h' || (m % 2)],
       1 + (u * m) % 5
  FROM generate_series(1, 60) u, generate_series(1, 30) m WHERE (u + m) % 3 <> 0;
CREATE TABLE fmovies AS SELECT DISTINCT movie_id, genres FROM fr;
ALTER TABLE fmovies ADD PRIMARY KEY (movie_id);
CREATE TABLE f_sgd_items AS SELECT *, NULL::real AS bias, NULL::fm_vector AS embedding FROM fmovies;
CREATE TABLE f_ials_items AS SELECT * FROM f_sgd_items;
SELECT model, method, k FROM fm_train_from_table('fr', 'rating', ARRAY['user_id', 'movie_id', 'gender', 'genres'],
       'f_sgd', k => 4, epochs => 10);
SELECT model, method, k FROM fm_train_from_table('fr', 'rating', ARRAY['user_id', 'movie_id', 'gender', 'genres'],
       'f_ials', method => 'ials', k => 4, epochs => 5, item_features => ARRAY['movie_id', 'genres'], items => 'fmovies');
SELECT model, method, k FROM fm_train_from_table('fr', 'rating', ARRAY['user_id', 'movie_id', 'gender', 'genres'],
       'f_k3', k => 3, epochs => 2);
SELECT fm_materialize_items('f_sgd', 'f_sgd_items'), fm_materialize_items('f_ials', 'f_ials_items');


-- The gradient of the fold-in objective (src/core/foldin.h) in theta = (u, p)
-- at p = query - q0, u at its optimum given p: max |dL/dp_d|.
CREATE FUNCTION pg_temp.fold_in_gradient(model text, tbl regclass, gender text, items int[], ratings real[],
                                         reg float8, query fm_vector)
	RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	m fm_model;
	k int;
	s0 float8;
	q0 float8[];
	p float8[];
	grad float8[];
	e float8[];
	y float8;
	u float8;
	lam float8;
	wsum float8 := 0;
	asum float8 := 0;
	num float8 := 0;
	implicit bool;
	r record;
BEGIN
	SELECT * INTO m FROM fm_model f WHERE f.model = fold_in_gradient.model;
	k := m.k;
	implicit := m.method = 'ials';
	SELECT m.w0 + i.bias, fm_vector_to_real_array(i.embedding)::float8[] INTO s0, q0
	  FROM fm_item(model, ARRAY['gender'], ARRAY[gender]) i;
	p := ARRAY(SELECT query_x - q0[d] FROM unnest(fm_vector_to_real_array(query)) WITH ORDINALITY AS z(query_x, d));
	-- the terms: rated items with weight w and target t; for iALS every
	-- item with its unobserved weight alpha and target 0
	CREATE TEMP TABLE terms (w float8, t float8, b float8, e float8[]);
	EXECUTE format('INSERT INTO terms SELECT CASE WHEN $3 THEN 1 + ($4->>''confidence'')::float8 * x.r ELSE 1 END,
	                       CASE WHEN $3 THEN 1 ELSE x.r END, i.bias, fm_vector_to_real_array(i.embedding)::float8[]
	                  FROM unnest($1, $2) AS x(id, r) JOIN %s i ON i.movie_id = x.id', tbl)
	  USING items, ratings, implicit, m.params;
	SELECT sum(w) INTO wsum FROM terms;
	IF implicit THEN
		-- alpha_j = alpha0 N (n_j + 1)^beta / sum (n_j + 1)^beta, n_j the item's rows in training
		EXECUTE format('INSERT INTO terms SELECT a.alpha, 0, a.bias, a.e FROM (
		    SELECT (($1->>''unobserved_weight'')::float8 * count(*) OVER ()
		            * power(coalesce(c.n, 0) + 1, ($1->>''popularity_exponent'')::float8)
		            / sum(power(coalesce(c.n, 0) + 1, ($1->>''popularity_exponent'')::float8)) OVER ()) AS alpha,
		           i.bias, fm_vector_to_real_array(i.embedding)::float8[] AS e
		      FROM %s i LEFT JOIN (SELECT movie_id, count(*) AS n FROM fr GROUP BY 1) c USING (movie_id)) a', tbl)
		  USING m.params;
		asum := (SELECT sum(w) FROM terms) - wsum;
		lam := reg * power(wsum + asum, (m.params->>'reg_exponent')::float8);
	ELSE
		lam := reg * cardinality(items);	-- sgd: the penalty applies at every rating
	END IF;
	-- u: dL/du = 0 with y = y0 + u, y0 the prediction at u = 0
	FOR r IN SELECT * FROM terms LOOP
		y := s0 + r.b;
		FOR d IN 1..k LOOP
			y := y + (q0[d] + p[d]) * r.e[d] + p[d] * q0[d];
		END LOOP;
		num := num + r.w * (r.t - y);
	END LOOP;
	u := num / ((SELECT sum(w) FROM terms) + lam);
	grad := array_fill(0::float8, ARRAY[k]);
	FOR r IN SELECT * FROM terms LOOP
		y := s0 + r.b + u;
		FOR d IN 1..k LOOP
			y := y + (q0[d] + p[d]) * r.e[d] + p[d] * q0[d];
		END LOOP;
		FOR d IN 1..k LOOP
			grad[d] := grad[d] - 2 * r.w * (r.t - y) * (q0[d] + r.e[d]);
		END LOOP;
	END LOOP;
	DROP TABLE terms;
	RETURN (SELECT max(abs(g + 2 * lam * p[d])) FROM unnest(grad) WITH ORDINALITY AS z(g, d));
END $$;

-- a rating model: zero gradient at the fold-in, not at the context vector
SELECT pg_temp.fold_in_gradient('f_sgd', 'f_sgd_items', 'F', ARRAY[1, 2, 4, 5, 7, 8, 10], ARRAY[5, 1, 4, 2, 5, 3, 1]::real[], 0.5,
         fm_fold_in('f_sgd', '{"gender": "F"}', ARRAY[1, 2, 4, 5, 7, 8, 10], ARRAY[5, 1, 4, 2, 5, 3, 1]::real[], 0.5)) < 1e-4
       AS sgd_gradient_zero,
       pg_temp.fold_in_gradient('f_sgd', 'f_sgd_items', 'F', ARRAY[1, 2, 4, 5, 7, 8, 10], ARRAY[5, 1, 4, 2, 5, 3, 1]::real[], 0.5,
         fm_query('f_sgd', ARRAY['gender'], ARRAY['F'])) > 1e-2 AS sgd_gradient_not_zero_at_context;
-- iALS, the model's own penalty (regularization NULL), over every item of the table
SELECT pg_temp.fold_in_gradient('f_ials', 'f_ials_items', 'M', ARRAY[3, 6, 9, 12, 13], ARRAY[4, 5, 3, 1, 2]::real[],
         (SELECT (params->>'regularization')::float8 FROM fm_model WHERE model = 'f_ials'),
         fm_fold_in('f_ials', '{"gender": "M"}', ARRAY[3, 6, 9, 12, 13], ARRAY[4, 5, 3, 1, 2]::real[])) < 1e-4
       AS ials_gradient_zero,
       pg_temp.fold_in_gradient('f_ials', 'f_ials_items', 'M', ARRAY[3, 6, 9, 12, 13], ARRAY[4, 5, 3, 1, 2]::real[],
         (SELECT (params->>'regularization')::float8 FROM fm_model WHERE model = 'f_ials'),
         fm_query('f_ials', ARRAY['gender'], ARRAY['M'])) > 1e-2 AS ials_gradient_not_zero_at_context;

-- the Gramian is cached per backend; for a table tracked by fm_topk_track a
-- change of its rows is seen at once (an unrated item's vector changes the
-- Gramian, hence the fold-in)
SELECT fm_topk_track('f_ials_items');
CREATE TEMP TABLE before AS SELECT fm_fold_in('f_ials', '{"gender": "M"}', ARRAY[3, 6], ARRAY[4, 5]::real[]) AS v;
UPDATE f_ials_items SET embedding = embedding * 3 WHERE movie_id = 20;
SELECT fm_fold_in('f_ials', '{"gender": "M"}', ARRAY[3, 6], ARRAY[4, 5]::real[]) <> v AS change_seen FROM before;
UPDATE f_ials_items SET embedding = embedding * (1.0 / 3) WHERE movie_id = 20;
SELECT fm_topk_untrack('f_ials_items');

-- no items: the context vector alone (and NULL or {} context: no feature)
SELECT fm_fold_in('f_sgd', '{"gender": "F"}', '{}'::int[]) = fm_query('f_sgd', ARRAY['gender'], ARRAY['F']) AS context_alone,
       fm_fold_in('f_ials', NULL, '{}'::bigint[]) = fm_query('f_ials', '{}'::text[], '{}'::text[]) AS null_context,
       fm_fold_in('f_ials', '{}', '{}'::text[]) = fm_query('f_ials', '{}'::text[], '{}'::text[]) AS empty_context,
       fm_fold_in(NULL, '{}', ARRAY[1]) IS NULL AS null_model;
-- the item key in any type that casts to the key column's; ratings NULL = implicit positives
SELECT fm_fold_in('f_sgd', '{"gender": "F"}', ARRAY['1', '2'], ARRAY[5, 1]::real[])
       = fm_fold_in('f_sgd', '{"gender": "F"}', ARRAY[1, 2]::bigint[], ARRAY[5, 1]::real[]) AS any_key_type,
       fm_dims(fm_fold_in('f_ials', '{"gender": "F"}', ARRAY[1, 2, 3])) AS implicit_positives_dims,
       fm_fold_in('f_ials', '{"gender": "F"}', ARRAY[1, 2, 3])
       <> fm_fold_in('f_ials', '{"gender": "F"}', '{}'::int[]) AS implicit_positives_move;
-- the vector goes straight into ORDER BY fm_score(...): the items rated 5
-- come first among the candidates
SELECT array_agg(movie_id ORDER BY s DESC, movie_id) AS top FROM (
  SELECT movie_id, fm_score(fm_fold_in('f_sgd', '{"gender": "F"}', ARRAY[1, 2, 4, 5], ARRAY[5, 1, 5, 1]::real[]),
                            embedding, bias) AS s
    FROM f_sgd_items ORDER BY s DESC LIMIT 30) t
 WHERE movie_id IN (1, 2, 4, 5);

-- errors; nothing is written (the function is STABLE)
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 98, 99], ARRAY[5, 1, 3]::real[])$$) AS unknown_items;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 2], ARRAY[5, 1, 3]::real[])$$) AS lengths;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 2], ARRAY[5, 'NaN']::real[])$$) AS nan_rating;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 2], ARRAY['Infinity', 5]::real[])$$) AS inf_rating;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, NULL], ARRAY[5, 4]::real[])$$) AS null_item;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 2], ARRAY[5, NULL]::real[])$$) AS null_rating;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 2])$$) AS rating_model_without_ratings;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '[1, 2]', ARRAY[1, 2], ARRAY[5, 4]::real[])$$) AS context_not_object;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1, 2], ARRAY[5, 4]::real[], -1)$$) AS negative_regularization;
SELECT pg_temp.try($$SELECT fm_fold_in('f_none', '{}', ARRAY[1], ARRAY[5]::real[])$$) AS unknown_model;
SELECT pg_temp.try($$SELECT fm_fold_in('f_ials', '{}', ARRAY['x'])$$) AS key_not_of_its_type;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1], ARRAY[5]::real[], item_table => 'f_ials_items')$$) AS not_its_item_table;
-- an item row whose vector is not of the model's dimension
UPDATE f_sgd_items SET embedding = '[1,2,3]' WHERE movie_id = 1;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[1], ARRAY[5]::real[])$$) AS dimension_mismatch;
UPDATE f_sgd_items SET embedding = NULL WHERE movie_id = 2;
SELECT pg_temp.try($$SELECT fm_fold_in('f_sgd', '{}', ARRAY[2], ARRAY[4]::real[])$$) AS not_materialised;
-- a model with no item table registered
SELECT model FROM fm_train_from_table('fr', 'rating', ARRAY['user_id', 'movie_id'], 'f_bare', k => 2, epochs => 1);
SELECT pg_temp.try($$SELECT fm_fold_in('f_bare', '{}', ARRAY[1], ARRAY[5]::real[])$$) AS no_item_table;
SELECT provolatile, proparallel, proconfig FROM pg_proc WHERE proname = 'fm_fold_in';
-- the training relation gone (or not readable): iALS's unobserved weights
-- are then uniform, with a NOTICE (a new session: the Gramian is cached);
-- every movie here has 40 ratings, so they were uniform already: same vector
CREATE TABLE exact_fold_in AS SELECT fm_fold_in('f_ials', '{"gender": "M"}', ARRAY[3, 6], ARRAY[4, 5]::real[]) AS v;
\c -
ALTER TABLE fr RENAME TO fr_moved;
SELECT fm_fold_in('f_ials', '{"gender": "M"}', ARRAY[3, 6], ARRAY[4, 5]::real[]) = v AS uniform_weights FROM exact_fold_in;
ALTER TABLE fr_moved RENAME TO fr;
SET client_min_messages = warning;
DROP TABLE exact_fold_in;
