------------------------------------------------------------------------------
-- Documentation in the catalog: every object of fmrec has a COMMENT, so that
-- \dx+ fmrec, \df+ and \do+ read as a reference (sql/vector_ops.sql checks
-- that none is missing).  Objects commented where they are created are not
-- repeated here.  Names starting with _fm_ are fmrec's internals: not an
-- API, they may change in any release.
------------------------------------------------------------------------------

-- fm_vector: I/O, typmod, casts
COMMENT ON FUNCTION fm_vector_in(cstring, oid, integer) IS 'fm_vector text input: [1,2.5,-3e-2]';
COMMENT ON FUNCTION fm_vector_out(fm_vector) IS 'fm_vector text output';
COMMENT ON FUNCTION fm_vector_recv(internal, oid, integer) IS 'fm_vector binary input';
COMMENT ON FUNCTION fm_vector_send(fm_vector) IS 'fm_vector binary output';
COMMENT ON FUNCTION fm_vector_typmod_in(cstring[]) IS 'fm_vector(n): the dimension a column requires';
COMMENT ON FUNCTION fm_vector(fm_vector, integer, boolean) IS 'applies a column''s fm_vector(n) dimension';
COMMENT ON FUNCTION fm_vector_from_array(real[], integer, boolean) IS 'real[] to fm_vector (finite elements only)';
COMMENT ON FUNCTION fm_vector_from_array(double precision[], integer, boolean) IS 'double precision[] to fm_vector (finite, within float4)';
COMMENT ON FUNCTION fm_vector_from_array(integer[], integer, boolean) IS 'integer[] to fm_vector';
COMMENT ON FUNCTION fm_vector_to_real_array(fm_vector) IS 'fm_vector to real[]';
COMMENT ON CAST (fm_vector AS fm_vector) IS 'applies a column''s fm_vector(n) dimension';
COMMENT ON CAST (real[] AS fm_vector) IS 'assignment cast: an array of finite numbers becomes a vector';
COMMENT ON CAST (double precision[] AS fm_vector) IS 'assignment cast: an array of finite numbers becomes a vector';
COMMENT ON CAST (integer[] AS fm_vector) IS 'assignment cast: an array of integers becomes a vector';
COMMENT ON CAST (fm_vector AS real[]) IS 'assignment cast: the elements of a vector';

-- vector functions and operators
COMMENT ON FUNCTION fm_score_support(internal) IS 'planner support of fm_score: loads fmrec so its top-N scan is offered';
COMMENT ON FUNCTION fm_dot(fm_vector, fm_vector) IS 'inner product (the dimensions must match)';
COMMENT ON FUNCTION fm_norm(fm_vector) IS 'Euclidean norm';
COMMENT ON FUNCTION fm_dims(fm_vector) IS 'number of dimensions';
COMMENT ON FUNCTION fm_vector_add(fm_vector, fm_vector) IS 'element-wise sum (operator +)';
COMMENT ON FUNCTION fm_vector_sub(fm_vector, fm_vector) IS 'element-wise difference (operator -)';
COMMENT ON FUNCTION fm_vector_mul_scalar(fm_vector, real) IS 'vector times a number (operator *)';
COMMENT ON FUNCTION fm_scalar_mul_vector(real, fm_vector) IS 'number times a vector (operator *)';
COMMENT ON FUNCTION fm_vector_eq(fm_vector, fm_vector) IS 'equal (operator =): same dimension and elements, -0 = 0';
COMMENT ON FUNCTION fm_vector_ne(fm_vector, fm_vector) IS 'not equal (operator <>)';
COMMENT ON FUNCTION fm_vector_lt(fm_vector, fm_vector) IS 'less than (operator <): element by element, then the shorter first';
COMMENT ON FUNCTION fm_vector_le(fm_vector, fm_vector) IS 'less than or equal (operator <=)';
COMMENT ON FUNCTION fm_vector_gt(fm_vector, fm_vector) IS 'greater than (operator >)';
COMMENT ON FUNCTION fm_vector_ge(fm_vector, fm_vector) IS 'greater than or equal (operator >=)';
COMMENT ON FUNCTION fm_vector_cmp(fm_vector, fm_vector) IS 'btree comparison: -1, 0 or 1';
COMMENT ON FUNCTION fm_vector_hash(fm_vector) IS 'hash of a vector (-0 as 0)';
COMMENT ON FUNCTION fm_vector_hash_extended(fm_vector, bigint) IS 'seeded 64-bit hash of a vector';
COMMENT ON OPERATOR + (fm_vector, fm_vector) IS 'element-wise sum';
COMMENT ON OPERATOR - (fm_vector, fm_vector) IS 'element-wise difference';
COMMENT ON OPERATOR * (fm_vector, real) IS 'vector times a number';
COMMENT ON OPERATOR * (real, fm_vector) IS 'number times a vector';
COMMENT ON OPERATOR = (fm_vector, fm_vector) IS 'equal: same dimension and elements';
COMMENT ON OPERATOR <> (fm_vector, fm_vector) IS 'not equal';
COMMENT ON OPERATOR < (fm_vector, fm_vector) IS 'less than: element by element, then the shorter first';
COMMENT ON OPERATOR <= (fm_vector, fm_vector) IS 'less than or equal';
COMMENT ON OPERATOR > (fm_vector, fm_vector) IS 'greater than';
COMMENT ON OPERATOR >= (fm_vector, fm_vector) IS 'greater than or equal';
COMMENT ON OPERATOR CLASS fm_vector_btree_ops USING btree IS 'ordering of fm_vector: ORDER BY, DISTINCT, GROUP BY, unique indexes';
COMMENT ON OPERATOR FAMILY fm_vector_btree_ops USING btree IS 'ordering of fm_vector';
COMMENT ON OPERATOR CLASS fm_vector_hash_ops USING hash IS 'hashing of fm_vector: hash joins and aggregates, hash indexes';
COMMENT ON OPERATOR FAMILY fm_vector_hash_ops USING hash IS 'hashing of fm_vector';
COMMENT ON OPERATOR CLASS fm_vector_ip_ops USING fm_ivf IS 'ORDER BY <#> (largest inner product first) through an fm_ivf index';
COMMENT ON OPERATOR FAMILY fm_vector_ip_ops USING fm_ivf IS 'inner product search of fm_vector';
COMMENT ON FUNCTION fm_negative_inner_product(fm_vector, fm_vector) IS 'minus the inner product (operator <#>)';
COMMENT ON FUNCTION fm_ivf_handler(internal) IS 'index access method handler of fm_ivf';

-- aggregate support
COMMENT ON FUNCTION fm_sum_transfn(internal, fm_vector) IS 'fm_sum/fm_avg state: adds a vector in double precision';
COMMENT ON FUNCTION fm_sum_combinefn(internal, internal) IS 'fm_sum/fm_avg: combines parallel partial states';
COMMENT ON FUNCTION fm_sum_serialfn(internal) IS 'fm_sum/fm_avg: serialises a partial state for parallel workers';
COMMENT ON FUNCTION fm_sum_deserialfn(bytea, internal) IS 'fm_sum/fm_avg: reads a serialised partial state';
COMMENT ON FUNCTION fm_sum_finalfn(internal) IS 'fm_sum: the sum as fm_vector';
COMMENT ON FUNCTION fm_avg_finalfn(internal) IS 'fm_avg: the mean as fm_vector';

-- models, training, serving, evaluation
COMMENT ON TYPE fm_train_result IS 'what fm_train_from_table returns: the model''s summary';
COMMENT ON FUNCTION fm_drop_model(text, boolean) IS 'deletes a model, its features and its item-table registrations; false (or an error) when it does not exist';
COMMENT ON FUNCTION fm_ranking_metrics(bigint[], bigint[], integer) IS 'precision, recall and NDCG@k (binary relevance) of one ranked list';
COMMENT ON FUNCTION fm_topk_cache_reset() IS 'drops every fm_topk cache of this backend';
COMMENT ON SEQUENCE fm_topk_version_seq IS 'source of the versions in fm_topk_version';

-- internals
COMMENT ON FUNCTION _fm_model_row(text) IS 'internal: a model''s fm_model row, or error 42704';
COMMENT ON FUNCTION _fm_description_sql(text, regclass, text) IS 'internal: SQL of the (feature, value) arrays of a row of a table';
COMMENT ON FUNCTION _fm_relation_must_exist(regclass) IS 'internal: error 42P01 unless the relation exists';
COMMENT ON FUNCTION _fm_topk_version_mark(regclass, boolean) IS 'internal: gives an owned table a fresh fm_topk_version row, or removes it';
