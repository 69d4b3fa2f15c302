/*
 * fm_model_store.c - writes a trained model into fm_model and fm_feature.
 *
 * Feature rows go in with one INSERT ... SELECT FROM unnest(arrays) per
 * batch of 10,000: a planned statement per batch, not per row.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "fm_catalog.h"
#include "fm_items.h"
#include "fm_model_store.h"
#include "fm_vector.h"

#define WRITE_BATCH 10000

/* First key of fmrec's advisory locks: "FM" */
#define FMREC_LOCK_SPACE 0x464D

static void
spi_exec(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "fmrec: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/* pg_class_aclcheck() accepts any one of several modes: ask for each. */
static void
check_table_privilege(const char *table, AclMode mode)
{
	Oid			relid = fmrec_table_oid(table);

	for (AclMode bit = 1; bit != 0 && bit <= mode; bit <<= 1)
	{
		AclResult	result;

		if (!(mode & bit))
			continue;
		result = pg_class_aclcheck(relid, GetUserId(), bit);
		if (result != ACLCHECK_OK)
			aclcheck_error(result, OBJECT_TABLE, table);
	}
}

void
fm_store_check_writable(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot train a model during recovery"),
				 errdetail("This server is a standby: models are trained on the primary and replicated here."),
				 errhint("Connect to the primary to train; a standby serves the replicated model.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot train a model in a read-only transaction")));
	/* the write needs these; find out before reading and training, not after */
	check_table_privilege("fm_model", ACL_SELECT | ACL_INSERT | ACL_DELETE);
	check_table_privilege("fm_feature", ACL_INSERT);
}

void
fm_store_lock_model(const char *model)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		values[2];

	values[0] = Int32GetDatum(FMREC_LOCK_SPACE);
	values[1] = Int32GetDatum((int32) hash_bytes((const unsigned char *) model, (int) strlen(model)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_exec("SELECT pg_catalog.pg_advisory_xact_lock($1, $2)", 2, types, values, SPI_OK_SELECT);
	SPI_finish();
}

static double
finite_or_null(double x, bool *isnull)
{
	*isnull = isnan(x) || isinf(x);
	return *isnull ? 0.0 : x;
}

static void
write_model_row(const char *schema, const ModelSummary *s, const TrainingSource *src,
				const FmModel *model)
{
	Oid			types[19] = {TEXTOID, TEXTOID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
		TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, INT4OID, INT8OID, INT8OID,
	INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTARRAYOID, TEXTOID};
	Datum		values[19];
	char		nulls[19];
	Datum	   *columns = palloc(sizeof(Datum) * src->n_columns);
	Datum	   *kinds = palloc(sizeof(Datum) * src->n_columns);
	bool		isnull;
	bool		kinds_written;
	char	   *sql;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	for (int c = 0; c < src->n_columns; c++)
		columns[c] = CStringGetTextDatum(src->columns[c].name);
	for (int c = 0; c < src->n_columns; c++)
		kinds[c] = CStringGetTextDatum(fm_kind_name(src->columns[c].kind));
	values[0] = CStringGetTextDatum(s->model);
	values[1] = CStringGetTextDatum(s->method);
	values[2] = Int32GetDatum(model->k);
	values[3] = Float8GetDatum(model->w0);
	values[4] = Float8GetDatum(model->target_min);
	values[5] = Float8GetDatum(model->target_max);
	values[6] = CStringGetTextDatum(quote_qualified_identifier(get_namespace_name(get_rel_namespace(src->relid)),
															   get_rel_name(src->relid)));
	values[7] = CStringGetTextDatum(src->target);
	values[8] = PointerGetDatum(construct_array(columns, src->n_columns, TEXTOID, -1, false, TYPALIGN_INT));
	values[9] = CStringGetTextDatum(s->params_json);
	values[10] = Int32GetDatum(s->epochs_run);
	values[11] = Int64GetDatum(s->rows_used);
	values[12] = Int64GetDatum(s->rows_skipped);
	values[13] = Int32GetDatum(model->n_features);
	values[14] = Float8GetDatum(finite_or_null(s->train_rmse, &isnull));
	nulls[14] = isnull ? 'n' : ' ';
	values[15] = Float8GetDatum(finite_or_null(s->validation_rmse, &isnull));
	nulls[15] = isnull ? 'n' : ' ';
	values[16] = Float8GetDatum(s->seconds);
	values[17] = PointerGetDatum(construct_array(kinds, src->n_columns, TEXTOID, -1, false, TYPALIGN_INT));
	values[18] = s->history ? CStringGetTextDatum(s->history) : (Datum) 0;
	nulls[18] = s->history ? ' ' : 'n';

	/*
	 * (before ALTER EXTENSION UPDATE fm_model has none of 0.3.0's columns,
	 * feature_kinds and history: all categorical then, and no curve kept)
	 */
	kinds_written = fmrec_model_has_column("feature_kinds");
	sql = psprintf("INSERT INTO %s.fm_model (model, method, k, w0, target_min, target_max, source, "
				   "target, features, params, epochs, rows_used, rows_skipped, n_features, "
				   "train_rmse, validation_rmse, seconds, trained_at%s) "
				   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_catalog.jsonb, $11, $12, $13, $14, $15, "
				   "$16, $17, pg_catalog.clock_timestamp()%s) ON CONFLICT (model) DO NOTHING", schema,
				   kinds_written ? ", feature_kinds, history" : "",
				   kinds_written ? ", $18, $19::pg_catalog.jsonb" : "");
	rc = SPI_execute_with_args(sql, kinds_written ? 19 : 17, types, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "fmrec: writing fm_model failed: %s", SPI_result_code_string(rc));

	/*
	 * Under our lock and after our DELETE, a row of this model exists only
	 * if another transaction committed one that our snapshot cannot see: a
	 * concurrent training under REPEATABLE READ (ON CONFLICT itself raises
	 * 40001 there) or a write that bypassed fmrec.  Either way it is a
	 * serialization failure to retry, not a duplicate key.
	 */
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent write of model \"%s\"", s->model),
				 errhint("Retry the training.")));
}

static void
write_feature_batch(SPIPlanPtr plan, const char *model_name, const TrainingSource *src,
					const FmModel *model, Oid vector_type, int32 first, int32 count)
{
	Datum	   *features = palloc(sizeof(Datum) * count);
	Datum	   *values = palloc(sizeof(Datum) * count);
	Datum	   *biases = palloc(sizeof(Datum) * count);
	Datum	   *embeddings = palloc(sizeof(Datum) * count);
	float	   *rescaled = palloc(sizeof(float) * model->k);
	Datum		args[5];
	int			rc;

	for (int32 i = 0; i < count; i++)
	{
		int32		id = first + i;
		const FeatureColumn *col = &src->columns[src->data.feature_group[id]];

		features[i] = CStringGetTextDatum(col->name);
		values[i] = CStringGetTextDatum(src->feature_value[id]);
		if (col->kind == FM_KIND_NUMERIC)
		{
			/* trained on x / scale: stored so that serving multiplies by x */
			float		bias = (float) (model->w[id] / col->scale);
			bool		finite = isfinite(bias);

			for (int32 f = 0; f < model->k; f++)
			{
				rescaled[f] = (float) (fm_model_v(model, id)[f] / col->scale);
				finite = finite && isfinite(rescaled[f]);
			}
			if (!finite)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("the parameters of numeric feature \"%s\" are out of range for type real",
								col->name),
						 errdetail("Its values are at most %g in magnitude: the parameters are divided by that.",
								   col->scale),
						 errhint("Multiply the column by a constant, e.g. in a view.")));
			biases[i] = Float4GetDatum(bias);
			embeddings[i] = PointerGetDatum(fm_vector_from_floats(rescaled, model->k));
			continue;
		}
		biases[i] = Float4GetDatum(model->w[id]);
		embeddings[i] = PointerGetDatum(fm_vector_from_floats(fm_model_v(model, id), model->k));
	}
	args[0] = CStringGetTextDatum(model_name);
	args[1] = PointerGetDatum(construct_array(features, count, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(values, count, TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(biases, count, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_array(embeddings, count, vector_type, -1, false, TYPALIGN_INT));
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "fmrec: writing fm_feature failed: %s", SPI_result_code_string(rc));
}

static void
check_model_finite(const FmModel *model)
{
	bool		finite = isfinite(model->w0);

	for (int32 i = 0; finite && i < model->n_features; i++)
		finite = isfinite(model->w[i]);
	for (size_t i = 0; finite && i < (size_t) model->n_features * model->k; i++)
		finite = isfinite(model->V[i]);
	if (!finite)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("training diverged: the model has non-finite parameters"),
				 errhint("Lower learning_rate or raise regularization; the previous model is kept.")));
}

void
fm_store_write(const ModelSummary *summary, const TrainingSource *src, const FmModel *model)
{
	const char *schema;
	Oid			vector_type;
	Oid			delete_types[1] = {TEXTOID};
	Datum		delete_values[1];
	Oid			batch_types[5];
	SPIPlanPtr	plan;
	MemoryContext batch_context;
	MemoryContext old;

	check_model_finite(model);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	schema = fmrec_schema_quoted();
	vector_type = fmrec_vector_type_oid();

	/* fm_feature rows go with their fm_model row (ON DELETE CASCADE) */
	delete_values[0] = CStringGetTextDatum(summary->model);
	spi_exec(psprintf("DELETE FROM %s.fm_model m WHERE m.model OPERATOR(pg_catalog.=) $1", schema), 1, delete_types,
			 delete_values, SPI_OK_DELETE);
	write_model_row(schema, summary, src, model);

	batch_types[0] = TEXTOID;
	batch_types[1] = TEXTARRAYOID;
	batch_types[2] = TEXTARRAYOID;
	batch_types[3] = FLOAT4ARRAYOID;
	batch_types[4] = get_array_type(vector_type);
	plan = SPI_prepare(psprintf("INSERT INTO %s.fm_feature (model, feature, value, bias, embedding) "
								"SELECT $1, f, v, b, e FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
								"pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(f, v, b, e)",
								schema), 5, batch_types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));

	batch_context = AllocSetContextCreate(CurrentMemoryContext, "fmrec write batch", ALLOCSET_DEFAULT_SIZES);
	for (int32 first = 0; first < model->n_features; first += WRITE_BATCH)
	{
		old = MemoryContextSwitchTo(batch_context);
		write_feature_batch(plan, summary->model, src, model, vector_type, first,
							Min(WRITE_BATCH, model->n_features - first));
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_context);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(batch_context);
	SPI_finish();

	/* the item tables registered with the model follow it, in this transaction */
	fm_items_refresh(summary->model);
}
