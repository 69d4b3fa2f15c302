------------------------------------------------------------------------------
-- Fold-in: the query vector of a user who rated items after the training,
-- solved in closed form against the item vectors (src/core/foldin.h), in
-- milliseconds and without retraining.
------------------------------------------------------------------------------

-- The context's own part, as fm_item computes it for a row: its scalar
-- (linear and pairwise terms among its features, without w0) and its query
-- vector.  The jsonb object's scalar values are features, an array's
-- non-NULL elements each one (weighing 1/count, as fm_item reads repeated
-- names); NULL and {} are the empty context.  The one place fold-in reads a
-- context: it goes through fm_item(model, jsonb) once that form exists.
CREATE FUNCTION _fm_fold_in_context(model text, context jsonb,
                                    OUT bias real, OUT embedding fm_vector)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	names text[];
	vals text[];
BEGIN
	IF context IS NOT NULL
	   AND pg_catalog.jsonb_typeof(context) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('context must be a jsonb object, not %s',
			                            pg_catalog.jsonb_typeof(context)),
			HINT = 'Give the user''s features as {"column": value, ...}.';
	END IF;
	SELECT coalesce(pg_catalog.array_agg(e.f), '{}'), coalesce(pg_catalog.array_agg(e.v), '{}')
	  INTO names, vals
	  FROM (SELECT j.key AS f, j.value OPERATOR(pg_catalog.#>>) '{}'::text[] AS v
	          FROM pg_catalog.jsonb_each(coalesce(context, '{}'::jsonb)) j
	         WHERE pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.<>) 'array'
	           AND pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.<>) 'object'
	           AND pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.<>) 'null'
	        UNION ALL
	        SELECT j.key, a.value OPERATOR(pg_catalog.#>>) '{}'::text[]
	          FROM pg_catalog.jsonb_each(coalesce(context, '{}'::jsonb)) j,
	               pg_catalog.jsonb_array_elements(j.value) a
	         WHERE pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.=) 'array'
	           AND pg_catalog.jsonb_typeof(a.value) OPERATOR(pg_catalog.<>) 'null') e;
	SELECT i.bias, i.embedding INTO bias, embedding FROM @extschema@.fm_item(model, names, vals) i;
END $$;
COMMENT ON FUNCTION _fm_fold_in_context(text, jsonb) IS
	'internal: scalar and query vector of a fold-in context';

CREATE FUNCTION fm_fold_in(model text, context jsonb, items anyarray,
                           ratings real[] DEFAULT NULL,
                           regularization double precision DEFAULT NULL,
                           item_table regclass DEFAULT NULL)
	RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_fold_in(text, jsonb, anyarray, real[], double precision, regclass) IS
	'query vector of a user from the items they rated after the training (closed form against the item table''s vectors), for ORDER BY fm_score(...)';
