/*
 * fm_catalog.c - looks up the extension's schema and type in the catalogs.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "fm_catalog.h"

/* PostgreSQL 15 does not export get_extension_schema(), so read pg_extension. */
static Oid
extension_schema_oid(void)
{
	Oid			ext_oid = get_extension_oid("fmrec", false);
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			schema = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext_oid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		schema = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(schema))
		elog(ERROR, "could not find the schema of extension fmrec");
	return schema;
}

const char *
fmrec_schema_quoted(void)
{
	return quote_identifier(get_namespace_name(extension_schema_oid()));
}

Oid
fmrec_table_oid(const char *name)
{
	Oid			relid = get_relname_relid(name, extension_schema_oid());

	if (!OidIsValid(relid))
		elog(ERROR, "table %s of extension fmrec not found", name);
	return relid;
}

bool
fmrec_model_has_column(const char *column)
{
	return get_attnum(fmrec_table_oid("fm_model"), column) > 0;
}

Oid
fmrec_vector_type_oid(void)
{
	Oid			type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									   CStringGetDatum("fm_vector"),
									   ObjectIdGetDatum(extension_schema_oid()));

	if (!OidIsValid(type))
		elog(ERROR, "type fm_vector of extension fmrec not found");
	return type;
}

char *
fmrec_relation_sql(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
}
