/*
 * fm_topk_version.c - the version rows that let fm_topk() keep its cache of
 * a tracked table across statements and transactions.
 *
 * fm_topk_track(items) installs two triggers on the table:
 *
 *   fm_topk_version           AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW
 *   fm_topk_version_truncate  AFTER TRUNCATE FOR EACH STATEMENT
 *
 * both ENABLE ALWAYS, both calling fm_topk_bump(), which sets the table's
 * row of fm_topk_version to a fresh sequence value in the changing
 * transaction.  Read with a caller's snapshot, that value names the state
 * of the table the caller sees.
 *
 * Why row triggers: they are the only triggers PostgreSQL fires for every
 * way a row of the table can change.  Statement triggers do not fire on a
 * table changed through an inheritance parent or a partitioned parent, nor
 * when logical replication applies rows; row triggers do, and ENABLE ALWAYS
 * keeps them firing under session_replication_role = replica.  TRUNCATE
 * has no row triggers, hence the statement trigger (a TRUNCATE also gives
 * the table a new relfilenode, which fm_topk compares too).  A disabled or
 * altered trigger is seen in the relcache (fm_topk_is_tracked), and the
 * table is then cached only within one snapshot.
 *
 * One bump per statement and table, not per row: all rows a statement
 * writes carry its command id (cmin of an inserted or updated tuple, cmax
 * of a deleted one), so the trigger remembers the last (table, xid,
 * command id) it bumped and returns at once for the other rows.
 *
 * Who may write fm_topk_version: nobody but the extension's owner.  The
 * trigger runs as the role that changes the table, which has no privilege
 * on it; so the trigger switches to the owner of fm_topk_version for one
 * fixed, fully qualified statement, under search_path = pg_catalog,
 * pg_temp and a security-restricted context, as PostgreSQL's own foreign
 * key triggers do (ri_triggers.c).  The statement writes only the row of
 * the table the trigger fired on (TG_RELID, set by the server, not by the
 * caller), so attaching the trigger to one's own table gives no power over
 * any other.  No function of fmrec is declared security definer.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/combocid.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "fm_topk.h"

#if PG_VERSION_NUM >= 160000
#define fm_relation_ownercheck(relid, role) object_ownercheck(RelationRelationId, (relid), (role))
#else
#define fm_relation_ownercheck(relid, role) pg_class_ownercheck((relid), (role))
#endif

/* The statements below, each prepared once per backend and schema. */
typedef struct VersionPlans
{
	Oid			schema;
	SPIPlanPtr	bump;
	SPIPlanPtr	read;
	SPIPlanPtr	forget;
} VersionPlans;

static VersionPlans plans;

/* The last statement that bumped a table, so that its other rows do not. */
static Oid	last_bumped_relid = InvalidOid;
static TransactionId last_bumped_xid = InvalidTransactionId;
static CommandId last_bumped_cid = InvalidCommandId;

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	return plan;
}

/* Prepares the statements on fm_topk_version of `schema`; SPI connected. */
static void
prepare_plans(Oid schema)
{
	const char *nsp = quote_identifier(get_namespace_name(schema));
	Oid			bump_types[2] = {OIDOID, REGCLASSOID};
	Oid			relid_type = OIDOID;

	if (plans.schema == schema)
		return;
	if (plans.bump != NULL)
	{
		SPI_freeplan(plans.bump);
		SPI_freeplan(plans.read);
		SPI_freeplan(plans.forget);
	}
	plans.schema = InvalidOid;
	plans.bump = prepare_kept(psprintf("INSERT INTO %s.fm_topk_version AS v (relid, version) "
									   "VALUES ($1, pg_catalog.nextval($2)) "
									   "ON CONFLICT (relid) DO UPDATE SET version = excluded.version",
									   nsp), 2, bump_types);
	plans.read = prepare_kept(psprintf("SELECT v.version FROM %s.fm_topk_version v "
									   "WHERE v.relid OPERATOR(pg_catalog.=) $1", nsp),
							  1, &relid_type);
	plans.forget = prepare_kept(psprintf("DELETE FROM %s.fm_topk_version v "
										 "WHERE v.relid OPERATOR(pg_catalog.=) $1", nsp),
								1, &relid_type);
	plans.schema = schema;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static Oid
version_table_oid(Oid schema)
{
	Oid			relid = get_relname_relid("fm_topk_version", schema);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table fm_topk_version of extension fmrec not found")));
	return relid;
}

/*
 * Runs one of the version statements as the owner of fm_topk_version, with
 * a search_path no other role can write to.  Errors leave through the
 * caller's transaction, which restores the user and the setting.
 */
static void
run_as_version_owner(Oid schema, SPIPlanPtr *which, Datum *args, int expected)
{
	Oid			table = version_table_oid(schema);
	Oid			save_userid;
	int			save_sec_context;
	int			nest_level;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(relation_owner(table),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_plans(schema);
	rc = SPI_execute_plan(*which, args, NULL, false, 0);
	if (rc != expected)
		elog(ERROR, "fmrec: writing fm_topk_version failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	AtEOXact_GUC(true, nest_level);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

static void
bump_version(Oid relid, Oid schema)
{
	Oid			seq = get_relname_relid("fm_topk_version_seq", schema);
	Datum		args[2];

	if (!OidIsValid(seq))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("sequence fm_topk_version_seq of extension fmrec not found")));
	args[0] = ObjectIdGetDatum(relid);
	args[1] = ObjectIdGetDatum(seq);
	run_as_version_owner(schema, &plans.bump, args, SPI_OK_INSERT);
}

/*
 * The command id of the statement that wrote the trigger's row: cmin of an
 * inserted or updated tuple, cmax of a deleted one (both ours).
 */
static CommandId
row_command_id(TriggerData *td)
{
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return HeapTupleHeaderGetCmax(td->tg_trigtuple->t_data);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return HeapTupleHeaderGetCmin(td->tg_newtuple->t_data);
	return HeapTupleHeaderGetCmin(td->tg_trigtuple->t_data);
}

PG_FUNCTION_INFO_V1(fm_topk_bump);
Datum
fm_topk_bump(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fm_topk_bump() must be fired as an AFTER trigger"),
				 errhint("Use fm_topk_track() to install it.")));
	relid = RelationGetRelid(td->tg_relation);
	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		TransactionId xid = GetTopTransactionIdIfAny();
		CommandId	cid = row_command_id(td);

		if (relid == last_bumped_relid && xid == last_bumped_xid && cid == last_bumped_cid)
			return PointerGetDatum(NULL);
		bump_version(relid, get_func_namespace(fcinfo->flinfo->fn_oid));
		last_bumped_relid = relid;
		last_bumped_xid = xid;
		last_bumped_cid = cid;
	}
	else
		bump_version(relid, get_func_namespace(fcinfo->flinfo->fn_oid));
	return PointerGetDatum(NULL);
}

/*
 * _fm_topk_version_mark(items, tracked): gives a table the caller owns a
 * fresh version row (tracked, from fm_topk_track()) or removes its row
 * (untracked, from fm_topk_untrack() after dropping the triggers).
 */
PG_FUNCTION_INFO_V1(fm_topk_version_mark);
Datum
fm_topk_version_mark(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		tracked = PG_GETARG_BOOL(1);
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	Datum		arg = ObjectIdGetDatum(relid);

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!fm_relation_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	if (tracked)
		bump_version(relid, schema);
	else
		run_as_version_owner(schema, &plans.forget, &arg, SPI_OK_DELETE);
	PG_RETURN_VOID();
}

/* OID of fm_topk_bump(), in our schema. */
static Oid
bump_function_oid(Oid schema)
{
	List	   *name = list_make2(makeString(get_namespace_name(schema)),
								  makeString("fm_topk_bump"));

	return LookupFuncName(name, 0, NULL, true);
}

/* A trigger of ours, enabled in every session_replication_role, unconditional. */
static bool
is_our_trigger(const Trigger *t, Oid bump_oid)
{
	return t->tgfoid == bump_oid && t->tgqual == NULL && t->tgnattr == 0 &&
		t->tgenabled == TRIGGER_FIRES_ALWAYS && TRIGGER_FOR_AFTER(t->tgtype);
}

/*
 * True when the fm_topk_track() triggers are in place and will fire for
 * every change (see the head comment).  Only a heap table without
 * inheritance children qualifies: reading a parent reads its children,
 * whose changes fire their own triggers, not the parent's.
 */
bool
fm_topk_is_tracked(Relation rel, Oid schema)
{
	TriggerDesc *td = rel->trigdesc;
	Oid			bump_oid;
	bool		rows = false;
	bool		truncate = false;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relam != HEAP_TABLE_AM_OID || td == NULL)
		return false;
	bump_oid = bump_function_oid(schema);
	if (!OidIsValid(bump_oid))
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		const Trigger *t = &td->triggers[i];
		int16		type = t->tgtype;

		if (!is_our_trigger(t, bump_oid))
			continue;
		if (TRIGGER_FOR_ROW(type) && TRIGGER_FOR_INSERT(type) && TRIGGER_FOR_UPDATE(type) &&
			TRIGGER_FOR_DELETE(type))
			rows = true;
		if (!TRIGGER_FOR_ROW(type) && TRIGGER_FOR_TRUNCATE(type))
			truncate = true;
	}
	return rows && truncate;
}

/*
 * The version of a tracked table the caller sees (-1 when it has no row),
 * read with the caller's snapshot and rights (fm_topk_version is readable
 * by everyone).  Requires SPI to be connected.
 */
int64
fm_topk_tracked_version(Oid relid, Oid schema)
{
	Datum		arg = ObjectIdGetDatum(relid);
	bool		isnull;
	Datum		version;

	prepare_plans(schema);
	if (SPI_execute_plan(plans.read, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fm_topk_version");
	if (SPI_processed == 0)
		return -1;
	version = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? -1 : DatumGetInt64(version);
}
