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
CREATE FUNCTION _fm_description_sql(model text, rel regclass, alias text,
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
		  FROM pg_catalog.unnest((@extschema@._fm_model_row(model)).features) WITH ORDINALITY AS f(name, ord)
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

-- Evaluates a model on held-out ratings `test` (user, item, target), in C
-- (src/fm_evaluate.c):
--   rmse: of the full predictions clipped to the training target range, over
--     the test rows whose user is in user_table and item in item_table;
--   precision/recall/NDCG@k: for each test user (of user_table) with at least
--     one relevant row (target >= relevant_threshold), the top k of all items
--     of item_table that the user did not rate in `train`, ranked by
--     fm_score(user's query vector, item's embedding, item's bias), ties to
--     the smaller item id; averaged over those users.
-- User features are the model's feature columns found in user_table, item
-- features those found in item_table (e.g. genres), combined as fm_query and
-- fm_item do.  user_features, when given, names the only user_table columns
-- that describe a user: for a cold-start evaluation, hold some users out of
-- `train` entirely and rank them from their metadata, e.g.
-- user_features => ARRAY['age_group', 'gender', 'occupation'].
CREATE FUNCTION fm_evaluate(model text, test regclass, train regclass,
                            user_table regclass, item_table regclass,
                            k integer DEFAULT 10,
                            relevant_threshold double precision DEFAULT 4,
                            user_column name DEFAULT 'user_id',
                            item_column name DEFAULT 'movie_id',
                            target name DEFAULT NULL,
                            user_features name[] DEFAULT NULL)
	RETURNS TABLE (rmse double precision, precision_at_k double precision,
	               recall_at_k double precision, ndcg_at_k double precision,
	               evaluated_users bigint, test_rows bigint)
	AS 'MODULE_PATHNAME', 'fm_evaluate'
	LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_evaluate(text, regclass, regclass, regclass, regclass, integer, double precision, name, name, name, name[]) IS
	'RMSE and precision/recall/NDCG@k of a model on held-out ratings (user_features: cold start from those columns only)';

-- The honest baseline with fm_evaluate's protocol: items ranked by their
-- number of rows in `train` (ties to the smaller id), or, with group_by
-- (columns of user_table, e.g. ARRAY['age_group', 'gender']), by their
-- number of rows among the users of the same group.  With user_table, only
-- its users are evaluated (as fm_evaluate does); without, every test user.
-- rmse is NULL: counting predicts no rating.
CREATE FUNCTION fm_evaluate_popularity(test regclass, train regclass, item_table regclass,
                                       k integer DEFAULT 10,
                                       relevant_threshold double precision DEFAULT 4,
                                       user_column name DEFAULT 'user_id',
                                       item_column name DEFAULT 'movie_id',
                                       target name DEFAULT 'rating',
                                       group_by name[] DEFAULT NULL,
                                       user_table regclass DEFAULT NULL)
	RETURNS TABLE (rmse double precision, precision_at_k double precision,
	               recall_at_k double precision, ndcg_at_k double precision,
	               evaluated_users bigint, test_rows bigint)
	AS 'MODULE_PATHNAME', 'fm_evaluate_popularity'
	LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_evaluate_popularity(regclass, regclass, regclass, integer, double precision, name, name, name, name[], regclass) IS
	'precision/recall/NDCG@k of the most-popular ranking (optionally within groups of users) with fm_evaluate''s protocol';
