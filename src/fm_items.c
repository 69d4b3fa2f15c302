/*
 * fm_items.c - item tables registered with a model: the trigger that keeps
 * their rows current and the refresh every training runs.
 *
 * fm_materialize_items(model, table, ...) registers a table by creating
 *
 *   fm_items_<model>  BEFORE INSERT OR UPDATE ON table FOR EACH ROW
 *                     EXECUTE FUNCTION fm_items_trigger(model, bias_column,
 *                         embedding_column, version_column or '', key_column)
 *
 * The trigger is the registration (view fm_item_tables reads pg_trigger):
 * it follows renames of the table, goes with DROP TABLE, is dumped and
 * restored with the table, and it keeps the table current between
 * trainings: an inserted row, or an updated row whose values of the model's
 * feature columns changed, gets its vectors from the current model.
 * Firing on every UPDATE (not UPDATE OF the feature columns) and comparing
 * the old and new values lets the trigger follow a retraining that changes
 * the model's feature list, at the cost of one index probe of fm_model per
 * updated row.
 *
 * fm_items_refresh(model), at the end of every training's write, updates
 * every registered table with the SQL-level fm_item (through
 * _fm_items_update), in the training's transaction and as the training's
 * caller.  It first locks the table in SHARE ROW EXCLUSIVE mode: a
 * concurrent writer of the table either committed before (its rows are
 * seen and refreshed) or waits until the training commits (its trigger then
 * reads the new model: the trigger's query is not read-only, so it takes a
 * fresh snapshot under READ COMMITTED).  Readers are not blocked; they see
 * the old model and the old vectors until the commit, then both new.
 *
 * Item vectors are computed by SQL (fm_item), never here, so that a faster
 * fm_item is picked up without a change to this file.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fm_catalog.h"
#include "fm_items.h"

/* Trigger arguments, in order. */
enum
{
	ARG_MODEL,
	ARG_BIAS,
	ARG_EMBEDDING,
	ARG_VERSION,
	ARG_KEY,
	N_ARGS
};

/*
 * The relation fm_items_refresh is updating: its own UPDATE changes no
 * feature column, so the triggers of that table have nothing to do.
 */
static Oid	refreshing_relid = InvalidOid;

/* ---------------------------------------------------------------------
 * _fm_trigger_args(tgargs bytea) -> text[]
 * --------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(fm_trigger_args);
Datum
fm_trigger_args(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(raw);
	const char *end = p + VARSIZE_ANY_EXHDR(raw);
	ArrayBuildState *astate = initArrayResult(TEXTOID, CurrentMemoryContext, false);

	/* each argument is NUL-terminated, in the server encoding */
	while (p < end)
	{
		size_t		len = strnlen(p, end - p);

		astate = accumArrayResult(astate, PointerGetDatum(cstring_to_text_with_len(p, (int) len)),
								  false, TEXTOID, CurrentMemoryContext);
		p += len + 1;
	}
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}

/* ---------------------------------------------------------------------
 * The trigger
 * --------------------------------------------------------------------- */

/*
 * A prepared statement computing one row's bias, embedding and version,
 * valid for one trigger, model version and row type of the table.
 */
typedef struct ItemsPlan
{
	Oid			tgoid;
	int64		version;
	TupleDesc	desc;			/* the table's columns the statement was built for */
	SPIPlanPtr	plan;
	struct ItemsPlan *next;
} ItemsPlan;

#define ITEMS_MAX_PLANS 16

static ItemsPlan *items_plans = NULL;
static SPIPlanPtr model_plan = NULL;
static Oid	model_plan_schema = InvalidOid;

static bool
same_columns(TupleDesc a, TupleDesc b)
{
	if (a->natts != b->natts)
		return false;
	for (int i = 0; i < a->natts; i++)
	{
		Form_pg_attribute x = TupleDescAttr(a, i);
		Form_pg_attribute y = TupleDescAttr(b, i);

		if (x->atttypid != y->atttypid || x->atttypmod != y->atttypmod ||
			x->attisdropped != y->attisdropped || strcmp(NameStr(x->attname), NameStr(y->attname)) != 0)
			return false;
	}
	return true;
}

/* The type of column `attno` of `desc`, qualified, with its typmod. */
static const char *
column_type(TupleDesc desc, AttrNumber attno)
{
	Form_pg_attribute att = TupleDescAttr(desc, attno - 1);

	return format_type_extended(att->atttypid, att->atttypmod,
								FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

/* Attribute number of a user column, or InvalidAttrNumber. */
static AttrNumber
user_column(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return (AttrNumber) (i + 1);
	}
	return InvalidAttrNumber;
}

static AttrNumber
registered_column(Relation rel, const char *model, const char *column)
{
	AttrNumber	attno = user_column(RelationGetDescr(rel), column);

	if (attno == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of item table %s registered with model \"%s\" does not exist",
						column, RelationGetRelationName(rel), model),
				 errhint("Add the column back, or remove the registration: SELECT fm_unregister_items('%s', '%s');",
						 model, RelationGetRelationName(rel))));
	return attno;
}

/* The model's feature columns and version; SPI connected. */
static bool
read_model(Oid schema, const char *model, ArrayType **features, int64 *version)
{
	Datum		arg = CStringGetTextDatum(model);
	bool		isnull;
	int			rc;

	if (model_plan == NULL || model_plan_schema != schema)
	{
		Oid			type = TEXTOID;
		SPIPlanPtr	plan;

		if (model_plan != NULL)
			SPI_freeplan(model_plan);
		model_plan = NULL;
		plan = SPI_prepare(psprintf("SELECT m.features, m.version FROM %s.fm_model m "
									"WHERE m.model OPERATOR(pg_catalog.=) $1",
									quote_identifier(get_namespace_name(schema))), 1, &type);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		model_plan = plan;
		model_plan_schema = schema;
	}
	rc = SPI_execute_plan(model_plan, &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading fm_model failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*features = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return true;
}

/* Whether an UPDATE changed the value of one of the model's feature columns. */
static bool
features_changed(TriggerData *td, ArrayType *features)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	Datum	   *names;
	int			n;

	deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &names, NULL, &n);
	for (int i = 0; i < n; i++)
	{
		AttrNumber	attno = user_column(desc, TextDatumGetCString(names[i]));
		Form_pg_attribute att;
		bool		old_null,
					new_null;
		Datum		old_value,
					new_value;

		if (attno == InvalidAttrNumber)
			continue;
		att = TupleDescAttr(desc, attno - 1);
		old_value = heap_getattr(td->tg_trigtuple, attno, desc, &old_null);
		new_value = heap_getattr(td->tg_newtuple, attno, desc, &new_null);
		if (old_null != new_null ||
			(!old_null && !datumIsEqual(old_value, new_value, att->attbyval, att->attlen)))
			return true;
	}
	return false;
}

/* The statement computing a row's vectors, prepared for this trigger; SPI connected. */
static SPIPlanPtr
row_plan(TriggerData *td, Oid schema, int64 version, const AttrNumber *targets)
{
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	const char *nsp = quote_identifier(get_namespace_name(schema));
	char	  **args = td->tg_trigger->tgargs;
	ItemsPlan **link = &items_plans;
	ItemsPlan  *entry;
	int			count = 0;
	Oid			describe_types[2] = {TEXTOID, OIDOID};
	Datum		describe_args[2];
	Oid			row_types[3];
	char	   *features_sql;
	char	   *values_sql;
	char	   *sql;
	SPIPlanPtr	plan;
	MemoryContext old;

	for (entry = items_plans; entry != NULL; link = &entry->next, entry = entry->next, count++)
		if (entry->tgoid == td->tg_trigger->tgoid)
		{
			if (entry->version == version && same_columns(entry->desc, desc))
				return entry->plan;
			break;
		}
	if (entry != NULL || count >= ITEMS_MAX_PLANS)
	{
		/* drop the stale entry for this trigger, or the last one of a full list */
		if (entry == NULL)
			for (link = &items_plans; (*link)->next != NULL; link = &(*link)->next)
				;
		entry = *link;
		*link = entry->next;
		SPI_freeplan(entry->plan);
		FreeTupleDesc(entry->desc);
		pfree(entry);
	}

	describe_args[0] = CStringGetTextDatum(args[ARG_MODEL]);
	describe_args[1] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (SPI_execute_with_args(psprintf("SELECT d.features_sql, d.values_sql FROM %s._fm_description_sql($1, $2, 'i') d",
									   nsp), 2, describe_types, describe_args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "describing item table %s failed", RelationGetRelationName(rel));
	features_sql = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	values_sql = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	sql = psprintf("SELECT CAST(f.bias AS %s), CAST(f.embedding AS %s)%s%s%s "
				   "FROM (SELECT ($2).*) AS i, LATERAL %s.fm_item($1, %s, %s) AS f",
				   column_type(desc, targets[0]), column_type(desc, targets[1]),
				   targets[2] != InvalidAttrNumber ? ", CAST($3 AS " : "",
				   targets[2] != InvalidAttrNumber ? column_type(desc, targets[2]) : "",
				   targets[2] != InvalidAttrNumber ? ")" : "",
				   nsp, features_sql, values_sql);
	row_types[0] = TEXTOID;
	row_types[1] = rel->rd_rel->reltype;
	row_types[2] = INT8OID;
	plan = SPI_prepare(sql, 3, row_types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));

	old = MemoryContextSwitchTo(TopMemoryContext);
	entry = palloc(sizeof(ItemsPlan));
	entry->tgoid = td->tg_trigger->tgoid;
	entry->version = version;
	entry->desc = CreateTupleDescCopy(desc);
	entry->plan = plan;
	entry->next = items_plans;
	items_plans = entry;
	MemoryContextSwitchTo(old);
	return plan;
}

PG_FUNCTION_INFO_V1(fm_items_trigger);
Datum
fm_items_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	row;
	char	  **args;
	Oid			schema;
	ArrayType  *features;
	int64		version;
	AttrNumber	targets[3];
	int			ntargets;
	Datum		plan_args[3];
	Datum		values[3];
	bool		nulls[3];
	int			columns[3];
	MemoryContext caller = CurrentMemoryContext;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event) ||
		td->tg_trigger->tgnargs != N_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fm_items_trigger() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW with 5 arguments"),
				 errhint("Use fm_materialize_items() to register an item table.")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (RelationGetRelid(rel) == refreshing_relid)
		return PointerGetDatum(row);
	args = td->tg_trigger->tgargs;
	schema = get_func_namespace(fcinfo->flinfo->fn_oid);

	targets[0] = registered_column(rel, args[ARG_MODEL], args[ARG_BIAS]);
	targets[1] = registered_column(rel, args[ARG_MODEL], args[ARG_EMBEDDING]);
	targets[2] = args[ARG_VERSION][0] != '\0' ?
		registered_column(rel, args[ARG_MODEL], args[ARG_VERSION]) : InvalidAttrNumber;
	ntargets = targets[2] != InvalidAttrNumber ? 3 : 2;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!read_model(schema, args[ARG_MODEL], &features, &version))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" of item table %s does not exist", args[ARG_MODEL],
						RelationGetRelationName(rel)),
				 errdetail("The table is registered with the model (trigger %s), whose row of fm_model was deleted.",
						   quote_identifier(td->tg_trigger->tgname)),
				 errhint("Train the model again, or remove the registration: DROP TRIGGER %s ON %s;",
						 quote_identifier(td->tg_trigger->tgname),
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)))));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) && !features_changed(td, features))
	{
		SPI_finish();
		return PointerGetDatum(row);
	}

	plan_args[0] = CStringGetTextDatum(args[ARG_MODEL]);
	plan_args[1] = heap_copy_tuple_as_datum(row, desc);
	plan_args[2] = Int64GetDatum(version);
	rc = SPI_execute_plan(row_plan(td, schema, version, targets), plan_args, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "computing the vectors of an item row failed: %s", SPI_result_code_string(rc));
	for (int i = 0; i < ntargets; i++)
	{
		values[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &nulls[i]);
		columns[i] = targets[i];
	}
	/* the new tuple holds copies of the values: build it outside SPI's memory */
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		row = heap_modify_tuple_by_cols(row, desc, ntargets, columns, values, nulls);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return PointerGetDatum(row);
}

/* ---------------------------------------------------------------------
 * Refresh at training
 * --------------------------------------------------------------------- */

void
fm_items_refresh(const char *model)
{
	const char *nsp = fmrec_schema_quoted();
	Oid			model_type = TEXTOID;
	Datum		model_arg = CStringGetTextDatum(model);
	Datum		view_name;
	int			n;
	Oid		   *relids;
	char	  **bias;
	char	  **embedding;
	char	  **version;
	char	  **key;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the library serves an extension not yet updated to 0.3.0 too */
	view_name = CStringGetTextDatum(psprintf("%s.fm_item_tables", nsp));
	if (SPI_execute_with_args("SELECT 1 WHERE pg_catalog.to_regclass($1) IS NOT NULL",
							  1, &model_type, &view_name, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "looking up fm_item_tables failed");
	if (SPI_processed == 0)
	{
		SPI_finish();
		return;
	}
	if (SPI_execute_with_args(psprintf("SELECT t.item_table::pg_catalog.oid, t.bias_column, t.embedding_column, "
									   "t.version_column, t.key_column FROM %s.fm_item_tables t "
									   "WHERE t.model OPERATOR(pg_catalog.=) $1 ORDER BY 1", nsp),
							  1, &model_type, &model_arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading fm_item_tables failed");
	n = (int) SPI_processed;
	relids = palloc(sizeof(Oid) * Max(n, 1));
	bias = palloc(sizeof(char *) * Max(n, 1));
	embedding = palloc(sizeof(char *) * Max(n, 1));
	version = palloc(sizeof(char *) * Max(n, 1));
	key = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		relids[i] = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
		bias[i] = SPI_getvalue(t, d, 2);
		embedding[i] = SPI_getvalue(t, d, 3);
		version[i] = SPI_getvalue(t, d, 4);
		key[i] = SPI_getvalue(t, d, 5);
	}

	for (int i = 0; i < n; i++)
	{
		const char *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relids[i])),
													   get_rel_name(relids[i]));
		/* the key column is not written, but fold-in reads items by it */
		const char *needed[4] = {bias[i], embedding[i], version[i], key[i]};
		Oid			types[5] = {TEXTOID, OIDOID, NAMEOID, NAMEOID, NAMEOID};
		Datum		values[5];
		char		nulls[5] = {' ', ' ', ' ', ' ', version[i] == NULL ? 'n' : ' '};
		Oid			previous = refreshing_relid;
		bool		isnull;
		int64		updated = 0;

		for (int c = 0; c < 4; c++)
			if (needed[c] != NULL && get_attnum(relids[i], needed[c]) == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("cannot refresh item table %s registered with model \"%s\": column \"%s\" does not exist",
								table, model, needed[c]),
						 errdetail("Every training of a model refreshes the item tables registered with it; the training is rolled back."),
						 errhint("Add the column back, or remove the registration: SELECT fm_unregister_items('%s', '%s');",
								 model, table)));
		if (pg_class_aclcheck(relids[i], GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to refresh item table %s registered with model \"%s\"", table, model),
					 errdetail("Every training of a model updates the item tables registered with it, as the role that trains; the training is rolled back."),
					 errhint("GRANT UPDATE ON %s to the training role, or remove the registration: SELECT fm_unregister_items('%s', '%s');",
							 table, model, table)));

		/* writers of the table wait for this training's commit (see above) */
		if (SPI_execute(psprintf("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", table), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "LOCK TABLE %s failed", table);

		values[0] = model_arg;
		values[1] = ObjectIdGetDatum(relids[i]);
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(bias[i]));
		values[3] = DirectFunctionCall1(namein, CStringGetDatum(embedding[i]));
		values[4] = version[i] != NULL ? DirectFunctionCall1(namein, CStringGetDatum(version[i])) : (Datum) 0;
		refreshing_relid = relids[i];
		PG_TRY();
		{
			if (SPI_execute_with_args(psprintf("SELECT %s._fm_items_update($1, $2::pg_catalog.regclass, $3, $4, $5)", nsp),
									  5, types, values, nulls, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "refreshing item table %s failed", table);
			updated = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
		PG_FINALLY();
		{
			refreshing_relid = previous;
		}
		PG_END_TRY();
		ereport(NOTICE,
				(errmsg("model \"%s\": refreshed " INT64_FORMAT " rows of item table %s", model, updated, table)));
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
}
