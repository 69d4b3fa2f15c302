------------------------------------------------------------------------------
-- Evaluation: error and ranking quality of a model on held-out ratings.
------------------------------------------------------------------------------

-- Precision@k, recall@k and NDCG@k (binary relevance) of one ranked list;
-- recall and NDCG are NULL when nothing is relevant.  Average over users.
CREATE FUNCTION fm_ranking_metrics(ranked bigint[], relevant bigint[], k integer DEFAULT 10,
                                   OUT precision_at_k double precision,
                                   OUT recall_at_k double precision,
                                   OUT ndcg_at_k double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- SQL expressions for the (feature, value) arrays of a row of `rel` (under
-- alias `alias`), covering the model's feature columns that `rel` has.
-- Array columns repeat their name once per element, as fm_predict expects.
CREATE FUNCTION fm_description_sql(model text, rel regclass, alias text,
                                   OUT features_sql text, OUT values_sql text)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	col record;
BEGIN
	features_sql := 'ARRAY[]::text[]';
	values_sql := 'ARRAY[]::text[]';
	FOR col IN
		SELECT a.attname, t.typcategory = 'A' AS is_array
		  FROM unnest((@extschema@.fm_model_row(model)).features) WITH ORDINALITY AS f(name, ord)
		  JOIN pg_attribute a ON a.attrelid = rel AND a.attname = f.name AND a.attnum > 0 AND NOT a.attisdropped
		  JOIN pg_type t ON t.oid = a.atttypid
		 ORDER BY f.ord
	LOOP
		IF col.is_array THEN
			features_sql := features_sql || format(' || pg_catalog.array_fill(%L::text, ARRAY[coalesce(pg_catalog.cardinality(%I.%I), 0)])',
												   col.attname, alias, col.attname);
			values_sql := values_sql || format(' || coalesce(%I.%I::text[], ARRAY[]::text[])', alias, col.attname);
		ELSE
			features_sql := features_sql || format(' || ARRAY[%L::text]', col.attname);
			values_sql := values_sql || format(' || ARRAY[%I.%I::text]', alias, col.attname);
		END IF;
	END LOOP;
END $$;

-- Evaluates a model on held-out ratings `test` (user, item, target):
--   rmse: of the clipped predictions;
--   precision/recall/NDCG@k: for each test user with at least one relevant
--   rating (target >= relevant_threshold), the top k of all items in
--   item_table that the user did not rate in `train`, ranked by fm_score.
-- User features are the model's feature columns found in user_table, item
-- features those found in item_table (e.g. genres).  Every model feature
-- must live in one of the two.
CREATE FUNCTION fm_evaluate(model text, test regclass, train regclass,
                            user_table regclass, item_table regclass,
                            k integer DEFAULT 10,
                            relevant_threshold double precision DEFAULT 4,
                            user_column name DEFAULT 'user_id',
                            item_column name DEFAULT 'movie_id',
                            target name DEFAULT NULL)
	RETURNS TABLE (rmse double precision, precision_at_k double precision,
	               recall_at_k double precision, ndcg_at_k double precision,
	               evaluated_users bigint, test_rows bigint)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@.fm_model_row(model);
	u record;
	i record;
BEGIN
	IF k < 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('k must be at least 1, not %s', k);
	END IF;
	target := coalesce(target, m.target::name);
	u := @extschema@.fm_description_sql(model, user_table, 'u');
	i := @extschema@.fm_description_sql(model, item_table, 'i');
	RETURN QUERY EXECUTE format($q$
		WITH items AS MATERIALIZED (
			SELECT i.%1$I::bigint AS item, f.bias, f.embedding
			  FROM %2$s i CROSS JOIN LATERAL @extschema@.fm_item($1, %3$s, %4$s) f),
		test_rows AS MATERIALIZED (
			SELECT t.%5$I::bigint AS uid, t.%1$I::bigint AS item, t.%6$I::float8 AS y
			  FROM %7$s t WHERE t.%6$I IS NOT NULL),
		users AS MATERIALIZED (
			SELECT u.%5$I::bigint AS uid, f.bias, f.embedding
			  FROM %8$s u CROSS JOIN LATERAL @extschema@.fm_item($1, %9$s, %10$s) f
			 WHERE u.%5$I::bigint IN (SELECT uid FROM test_rows)),
		seen AS MATERIALIZED (
			SELECT s.%5$I::bigint AS uid, s.%1$I::bigint AS item FROM %11$s s),
		errors AS (
			SELECT sqrt(avg((t.y - greatest($2, least($3, $4 + u.bias + i.bias
			                 + @extschema@.fm_dot(u.embedding, i.embedding)))) ^ 2)) AS rmse,
			       count(*) AS n
			  FROM test_rows t JOIN users u USING (uid) JOIN items i USING (item)),
		scored AS (
			SELECT u.uid, i.item, @extschema@.fm_score(u.embedding, i.embedding, i.bias) AS score
			  FROM users u CROSS JOIN items i
			 WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.uid = u.uid AND s.item = i.item)),
		ranked AS (
			SELECT r.uid, array_agg(r.item ORDER BY r.rn) AS items
			  FROM (SELECT s.uid, s.item,
			               row_number() OVER (PARTITION BY s.uid ORDER BY s.score DESC, s.item) AS rn
			          FROM scored s) r
			 WHERE r.rn <= $5
			 GROUP BY r.uid),
		relevant AS (
			SELECT t.uid, array_agg(t.item) AS items FROM test_rows t WHERE t.y >= $6 GROUP BY t.uid),
		quality AS (
			SELECT avg(q.precision_at_k) AS p, avg(q.recall_at_k) AS r, avg(q.ndcg_at_k) AS n,
			       count(*) AS users
			  FROM ranked JOIN relevant USING (uid)
			  CROSS JOIN LATERAL @extschema@.fm_ranking_metrics(ranked.items, relevant.items, $5) q)
		SELECT errors.rmse, quality.p, quality.r, quality.n, quality.users, errors.n
		  FROM errors, quality
		$q$, item_column, item_table, i.features_sql, i.values_sql, user_column, target, test,
		     user_table, u.features_sql, u.values_sql, train)
	USING model, m.target_min, m.target_max, m.w0, k, relevant_threshold;
END $$;
COMMENT ON FUNCTION fm_evaluate(text, regclass, regclass, regclass, regclass, integer, double precision, name, name, name) IS
	'RMSE and precision/recall/NDCG@k of a model on held-out ratings';

-- Fills the bias and embedding columns of an item table from a model, so
-- that ORDER BY fm_score(query, embedding, bias) DESC ranks exactly as the
-- full model.  The item features are the model's feature columns present in
-- the table (e.g. movie_id and genres).  Returns the number of rows updated.
CREATE FUNCTION fm_materialize_items(model text, item_table regclass,
                                     bias_column name DEFAULT 'bias',
                                     embedding_column name DEFAULT 'embedding')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	d record;
	missing name;
	updated bigint;
BEGIN
	PERFORM @extschema@.fm_model_row(model);
	SELECT c INTO missing FROM unnest(ARRAY[bias_column, embedding_column]) AS c
	 WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = item_table
	                      AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('column "%s" of relation %s does not exist', missing, item_table),
			HINT = format('ALTER TABLE %s ADD COLUMN %I real, ADD COLUMN %I fm_vector;',
			              item_table, bias_column, embedding_column);
	END IF;
	d := @extschema@.fm_description_sql(model, item_table, 'i');
	EXECUTE format('UPDATE %s AS i SET (%I, %I) = (SELECT f.bias, f.embedding FROM @extschema@.fm_item($1, %s, %s) f)',
	               item_table, bias_column, embedding_column, d.features_sql, d.values_sql)
	USING model;
	GET DIAGNOSTICS updated = ROW_COUNT;
	RETURN updated;
END $$;
COMMENT ON FUNCTION fm_materialize_items(text, regclass, name, name) IS
	'fills an item table''s bias and embedding columns from a model (exact ranking by fm_score)';
