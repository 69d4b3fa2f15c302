------------------------------------------------------------------------------
-- Fold-in: the query vector of a user who rated items after the training,
-- solved in closed form against the item vectors (src/core/foldin.h), in
-- milliseconds and without retraining.
------------------------------------------------------------------------------

-- The context (the user's metadata) is read by fm_item(model, jsonb): its
-- scalar and query vector, with the model's feature kinds; NULL and {} are
-- the empty context.
CREATE FUNCTION fm_fold_in(model text, context jsonb, items anyarray,
                           ratings real[] DEFAULT NULL,
                           regularization double precision DEFAULT NULL,
                           item_table regclass DEFAULT NULL)
	RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_fold_in(text, jsonb, anyarray, real[], double precision, regclass) IS
	'query vector of a user from the items they rated after the training (closed form against the item table''s vectors), for ORDER BY fm_score(...)';
