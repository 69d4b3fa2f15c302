------------------------------------------------------------------------------
-- Serving, in C (src/fm_serve.c).  A context or item is described by a
-- jsonb object {"feature": value, ...}, by rows whose columns that are
-- features of the model are read (the others are ignored), or by parallel
-- arrays of feature names and values (a multi-valued column repeats its
-- name once per element).  Values are read by the feature's kind
-- (fm_model.feature_kinds): categorical (an array's elements 1/count each),
-- each (1 each), numeric (x = the number), weighted ({"category": weight}).
-- A name that is not a feature of the model is an error (42703); an
-- unknown value contributes nothing (cold start).
------------------------------------------------------------------------------

-- Every SQL and PL/pgSQL body of fmrec runs with search_path = pg_catalog,
-- pg_temp and names every function, operator and type it uses with its
-- schema (pg_catalog. or @extschema@.), so that no object a user created in
-- a writable schema (public, "$user") can be picked instead of the intended
-- one; test/t/100_hijack.pl plants such objects and checks.

-- A model's fm_model row, or error 42704 (_fm_description_sql).
CREATE FUNCTION _fm_model_row(model text) RETURNS fm_model
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result @extschema@.fm_model;
BEGIN
	SELECT * INTO result FROM @extschema@.fm_model m
	 WHERE m.model OPERATOR(pg_catalog.=) _fm_model_row.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('model "%s" does not exist', model),
			HINT = 'Train it with fm_train_from_table; SELECT model FROM fm_model lists the models.';
	END IF;
	RETURN result;
END $$;

-- The full FM equation, clipped to the target range of training.  The
-- jsonb and batch forms are STRICT; the array and row forms return NULL for
-- a NULL model and read NULL arrays or rows as nothing known.
CREATE FUNCTION fm_predict(model text, context jsonb) RETURNS double precision
	AS 'MODULE_PATHNAME', 'fm_predict_jsonb' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION fm_predict(text, jsonb) IS
	'full FM prediction for a context given as a jsonb object {"feature": value, ...}, clipped to the training target range';

CREATE FUNCTION fm_predict(model text, feature text[], value text[]) RETURNS double precision
	AS 'MODULE_PATHNAME', 'fm_predict_arrays' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION fm_predict(text, text[], text[]) IS
	'full FM prediction for one row given as (feature, value) pairs, clipped to the training target range';

-- The row form takes two rows or more (a single row would make the call
-- fm_predict('m', '{"a": 1}') ambiguous with the jsonb form).
CREATE FUNCTION fm_predict(model text, row1 "any", VARIADIC rows "any") RETURNS double precision
	AS 'MODULE_PATHNAME', 'fm_predict_rows' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION fm_predict(text, "any", "any") IS
	'full FM prediction for rows (e.g. of users and movies): their columns that are features of the model, clipped to the training target range';

CREATE FUNCTION fm_predict_batch(model text, contexts jsonb[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'fm_predict_batch' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION fm_predict_batch(text, jsonb[]) IS
	'fm_predict of each jsonb context of an array (NULL for a NULL element), in one call';

-- The query vector of a context: the weighted sum of its embeddings; a zero
-- vector when no value is known, so scores fall back to item biases instead
-- of NULL.  Computed once per statement and call site.
CREATE FUNCTION fm_query(model text, context jsonb) RETURNS fm_vector
	AS 'MODULE_PATHNAME', 'fm_query_jsonb' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION fm_query(text, jsonb) IS
	'query vector of a user context given as a jsonb object: sum of its feature embeddings (cold start works with metadata only)';

CREATE FUNCTION fm_query(model text, feature text[], value text[]) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION fm_query(text, text[], text[]) IS
	'query vector of a user context: sum of its feature embeddings (cold start works with metadata only)';

-- An item's own part of the FM: its bias (linear terms plus the pairwise
-- terms among its own features, e.g. movie x genres) and its embedding (sum
-- of its feature embeddings).  With these materialised,
-- ORDER BY fm_score(fm_query(...), embedding, bias) DESC ranks items exactly
-- as fm_predict() would.
CREATE FUNCTION fm_item(model text, item jsonb, OUT bias real, OUT embedding fm_vector)
	AS 'MODULE_PATHNAME', 'fm_item_jsonb' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION fm_item(text, jsonb) IS
	'bias and embedding of an item described by a jsonb object, for exact ORDER BY fm_score(...)';

CREATE FUNCTION fm_item(model text, feature text[], value text[],
                        OUT bias real, OUT embedding fm_vector)
	AS 'MODULE_PATHNAME', 'fm_item_arrays' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION fm_item(text, text[], text[]) IS
	'bias and embedding of an item described by its features, for exact ORDER BY fm_score(...)';
