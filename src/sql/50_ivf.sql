------------------------------------------------------------------------------
-- Approximate top-k: the fm_ivf index (inverted lists over k-means
-- centroids, maximum inner product search).  See src/fm_ivf.h.
--
--   CREATE INDEX ON items USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 1000);
--   SET fmrec.ivf_probes = 20;
--   SELECT id FROM items
--    ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec($1) LIMIT 10;
--
-- fm_item_vec(e, b) . fm_query_vec(q) = b + q.e = fm_score(q, e, b), so the
-- ORDER BY is the serving query; <#> is the negative inner product, so
-- ascending order is best first.  Rows whose indexed value is NULL are not
-- in the index.
------------------------------------------------------------------------------

CREATE FUNCTION fm_item_vec(embedding fm_vector, bias real) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
COMMENT ON FUNCTION fm_item_vec(fm_vector, real) IS
	'[embedding, bias]: an item as one vector, for ORDER BY ... <#> fm_query_vec(q)';
CREATE FUNCTION fm_query_vec(query fm_vector) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
COMMENT ON FUNCTION fm_query_vec(fm_vector) IS
	'[query, 1]: the query side of fm_item_vec; their inner product is fm_score';

CREATE FUNCTION fm_negative_inner_product(fm_vector, fm_vector) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
CREATE OPERATOR <#> (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_negative_inner_product, COMMUTATOR = <#>);
COMMENT ON OPERATOR <#> (fm_vector, fm_vector) IS
	'negative inner product: ORDER BY a <#> b puts the largest inner product first';

CREATE FUNCTION fm_ivf_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD fm_ivf TYPE INDEX HANDLER fm_ivf_handler;
COMMENT ON ACCESS METHOD fm_ivf IS
	'inverted-file index for ORDER BY <#> (maximum inner product), approximate: see fmrec.ivf_probes';

CREATE OPERATOR CLASS fm_vector_ip_ops DEFAULT FOR TYPE fm_vector USING fm_ivf AS
	OPERATOR 1 <#> (fm_vector, fm_vector) FOR ORDER BY float_ops;
