-- fm_predict of fmrec at commit 386754b (PL/pgSQL over parallel text
-- arrays) and the helpers it calls, verbatim but for their schema: created
-- in the scratch schema fmrec_386754b, so that test/bench/predict_bench.sh
-- can time the old serving path against the C one in the same run.
-- @extschema@ is replaced by the benchmark with fmrec's schema.
CREATE SCHEMA fmrec_386754b;

-- (feature, value, x) of the known features of a description.
CREATE FUNCTION fmrec_386754b.fm_features_of(model text, feature text[], value text[])
	RETURNS TABLE (feature_name text, feature_value text, x double precision, bias real,
	               embedding fm_vector)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	IF cardinality(fm_features_of.feature) <> cardinality(fm_features_of.value) THEN
		RAISE EXCEPTION USING ERRCODE = 'array_subscript_error',
			MESSAGE = format('feature and value arrays differ in length: %s and %s',
							 cardinality(fm_features_of.feature), cardinality(fm_features_of.value));
	END IF;
	RETURN QUERY
	WITH entries AS (
		SELECT u.f, u.v, 1.0 / count(*) OVER (PARTITION BY u.f) AS w
		  FROM unnest(fm_features_of.feature, fm_features_of.value) AS u(f, v)
		 WHERE u.v IS NOT NULL AND u.f IS NOT NULL
	), merged AS (
		SELECT e.f, e.v, sum(e.w)::double precision AS x FROM entries e GROUP BY e.f, e.v
	)
	SELECT m.f, m.v, m.x, ff.bias, ff.embedding
	  FROM merged m
	  JOIN @extschema@.fm_feature ff
	    ON ff.model = fm_features_of.model AND ff.feature = m.f AND ff.value = m.v;
END $$;

CREATE FUNCTION fmrec_386754b.fm_model_row(model text) RETURNS fm_model
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	result @extschema@.fm_model;
BEGIN
	SELECT * INTO result FROM @extschema@.fm_model m WHERE m.model = fm_model_row.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('model "%s" does not exist', model),
			HINT = 'Train it with fm_train_from_table(); SELECT model FROM fm_model lists the models.';
	END IF;
	RETURN result;
END $$;

-- The full FM equation for one row, clipped to the target range of training.
CREATE FUNCTION fmrec_386754b.fm_predict(model text, feature text[], value text[]) RETURNS double precision
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	m @extschema@.fm_model := fmrec_386754b.fm_model_row(model);
	linear double precision;
	total @extschema@.fm_vector;
	squares double precision;
	prediction double precision;
BEGIN
	SELECT coalesce(sum(f.bias * f.x), 0),
	       @extschema@.fm_sum(f.embedding * f.x::real),
	       coalesce(sum(@extschema@.fm_dot(f.embedding, f.embedding) * f.x * f.x), 0)
	  INTO linear, total, squares
	  FROM fmrec_386754b.fm_features_of(model, feature, value) f;
	prediction := m.w0 + linear
		+ 0.5 * (coalesce(@extschema@.fm_dot(total, total), 0) - squares);
	RETURN greatest(m.target_min, least(m.target_max, prediction));
END $$;
COMMENT ON FUNCTION fmrec_386754b.fm_predict(text, text[], text[]) IS
	'full FM prediction for one row given as (feature, value) pairs, clipped to the training target range';
