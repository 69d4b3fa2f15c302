-- fmrec 0.2.0 -> 0.3.0 (ALTER EXTENSION fmrec UPDATE).  Written by hand; the
-- result must equal a fresh 0.3.0 install (test/t/080_upgrade.pl compares
-- the catalogs, comments included).
\echo Use "ALTER EXTENSION fmrec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- fm_model: feature kinds, training versions, the per-epoch curve ----
CREATE SEQUENCE @extschema@.fm_model_version_seq;
COMMENT ON SEQUENCE @extschema@.fm_model_version_seq IS 'numbers the trainings: fm_model.version';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_model_version_seq', '');
ALTER TABLE @extschema@.fm_model
	ADD COLUMN feature_kinds text[],
	ADD COLUMN version bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.fm_model_version_seq'::pg_catalog.regclass),
	ADD COLUMN history jsonb;

-- ---- [features] numeric and weighted features ----

-- ---- [serving] serving calls in C ----

-- ---- [fold-in] ----
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

-- ---- [items] item tables bound to their model; fm_topk fast by default ----

-- ---- [progress] training you can watch ----
