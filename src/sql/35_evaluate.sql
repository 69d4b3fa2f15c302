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
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col record;
BEGIN
	features_sql := 'ARRAY[]::pg_catalog.text[]';
	values_sql := 'ARRAY[]::pg_catalog.text[]';
	FOR col IN
		SELECT a.attname, t.typcategory OPERATOR(pg_catalog.=) 'A' AS is_array
		  FROM pg_catalog.unnest((@extschema@.fm_model_row(model)).features) WITH ORDINALITY AS f(name, ord)
		  JOIN pg_catalog.pg_attribute a
		    ON a.attrelid OPERATOR(pg_catalog.=) rel AND a.attname OPERATOR(pg_catalog.=) f.name
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
		 ORDER BY f.ord
	LOOP
		IF col.is_array THEN
			features_sql := features_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) pg_catalog.array_fill(%L::pg_catalog.text, '
				'ARRAY[coalesce(pg_catalog.cardinality(%I.%I), 0)])',
				col.attname, alias, col.attname);
			values_sql := values_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) coalesce(%I.%I::pg_catalog.text[], ARRAY[]::pg_catalog.text[])',
				alias, col.attname);
		ELSE
			features_sql := features_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) ARRAY[%L::pg_catalog.text]', col.attname);
			values_sql := values_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) ARRAY[%I.%I::pg_catalog.text]', alias, col.attname);
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
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@.fm_model_row(model);
	u record;
	i record;
BEGIN
	IF k OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('k must be at least 1, not %s', k);
	END IF;
	target := coalesce(target, m.target::pg_catalog.name);
	u := @extschema@.fm_description_sql(model, user_table, 'u');
	i := @extschema@.fm_description_sql(model, item_table, 'i');
	RETURN QUERY EXECUTE pg_catalog.format($q$
		WITH items AS MATERIALIZED (
			SELECT i.%1$I::pg_catalog.int8 AS item, f.bias, f.embedding
			  FROM %2$s i CROSS JOIN LATERAL @extschema@.fm_item($1, %3$s, %4$s) f),
		test_rows AS MATERIALIZED (
			SELECT t.%5$I::pg_catalog.int8 AS uid, t.%1$I::pg_catalog.int8 AS item,
			       t.%6$I::pg_catalog.float8 AS y
			  FROM %7$s t WHERE t.%6$I IS NOT NULL),
		users AS MATERIALIZED (
			SELECT u.%5$I::pg_catalog.int8 AS uid, f.bias, f.embedding
			  FROM %8$s u CROSS JOIN LATERAL @extschema@.fm_item($1, %9$s, %10$s) f
			 WHERE u.%5$I::pg_catalog.int8 IN (SELECT uid FROM test_rows)),
		seen AS MATERIALIZED (
			SELECT s.%5$I::pg_catalog.int8 AS uid, s.%1$I::pg_catalog.int8 AS item FROM %11$s s),
		errors AS (
			SELECT pg_catalog.sqrt(pg_catalog.avg(pg_catalog.power(t.y OPERATOR(pg_catalog.-)
			         greatest($2, least($3, $4 OPERATOR(pg_catalog.+) u.bias OPERATOR(pg_catalog.+) i.bias
			                  OPERATOR(pg_catalog.+) @extschema@.fm_dot(u.embedding, i.embedding))),
			         2::pg_catalog.float8))) AS rmse,
			       pg_catalog.count(*) AS n
			  FROM test_rows t JOIN users u USING (uid) JOIN items i USING (item)),
		scored AS (
			SELECT u.uid, i.item, @extschema@.fm_score(u.embedding, i.embedding, i.bias) AS score
			  FROM users u CROSS JOIN items i
			 WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.uid OPERATOR(pg_catalog.=) u.uid
			                                          AND s.item OPERATOR(pg_catalog.=) i.item)),
		ranked AS (
			SELECT r.uid, pg_catalog.array_agg(r.item ORDER BY r.rn) AS items
			  FROM (SELECT s.uid, s.item,
			               pg_catalog.row_number() OVER (PARTITION BY s.uid ORDER BY s.score DESC, s.item) AS rn
			          FROM scored s) r
			 WHERE r.rn OPERATOR(pg_catalog.<=) $5
			 GROUP BY r.uid),
		relevant AS (
			SELECT t.uid, pg_catalog.array_agg(t.item) AS items FROM test_rows t
			 WHERE t.y OPERATOR(pg_catalog.>=) $6 GROUP BY t.uid),
		quality AS (
			SELECT pg_catalog.avg(q.precision_at_k) AS p, pg_catalog.avg(q.recall_at_k) AS r,
			       pg_catalog.avg(q.ndcg_at_k) AS n, pg_catalog.count(*) AS users
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
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d record;
	missing name;
	updated bigint;
BEGIN
	PERFORM @extschema@.fm_model_row(model);
	SELECT c INTO missing FROM pg_catalog.unnest(ARRAY[bias_column, embedding_column]) AS c
	 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
	                    WHERE a.attrelid OPERATOR(pg_catalog.=) item_table
	                      AND a.attname OPERATOR(pg_catalog.=) c
	                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = pg_catalog.format('column "%s" of relation %s does not exist', missing, item_table),
			HINT = pg_catalog.format('ALTER TABLE %s ADD COLUMN %I real, ADD COLUMN %I fm_vector;',
			              item_table, bias_column, embedding_column);
	END IF;
	d := @extschema@.fm_description_sql(model, item_table, 'i');
	EXECUTE pg_catalog.format('UPDATE %s AS i SET (%I, %I) = '
	                          '(SELECT f.bias, f.embedding FROM @extschema@.fm_item($1, %s, %s) f)',
	               item_table, bias_column, embedding_column, d.features_sql, d.values_sql)
	USING model;
	GET DIAGNOSTICS updated = ROW_COUNT;
	RETURN updated;
END $$;
COMMENT ON FUNCTION fm_materialize_items(text, regclass, name, name) IS
	'fills an item table''s bias and embedding columns from a model (exact ranking by fm_score)';
