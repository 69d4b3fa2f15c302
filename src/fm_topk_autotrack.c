/*
 * fm_topk_autotrack.c - fm_topk() tracks an item table on first use, so
 * that its cache survives across statements without the caller having read
 * about fm_topk_track().
 *
 * An untracked table is cached only within one snapshot: every autocommit
 * statement reads the whole table again (671 ms a call at 1M x 120, against
 * 248 ms for the plain ORDER BY fm_score(...) LIMIT 10 scan).  So the first
 * fm_topk() call on a plain table runs fm_topk_track() itself when it can
 * do so safely and cheaply:
 *
 * - fmrec.topk_auto_track is on (the default);
 * - the caller owns the table (fm_topk_track's own requirement);
 * - the transaction may write (not read-only, not a standby) and no
 *   parallel operation is running (catalog writes are not allowed then);
 * - the SHARE ROW EXCLUSIVE lock that CREATE TRIGGER takes is free now: it
 *   is asked for without waiting, so a reader never queues behind a
 *   writer of the table (nor deadlocks with one); when it is busy, a later
 *   call tries again.  Once taken it is held to the end of the caller's
 *   transaction (writers of the table wait for that, once).
 *
 * fm_topk is STABLE and usually runs inside a SELECT, so the tracking runs
 * in an internal subtransaction: whatever goes wrong there leaves the table
 * untracked and the call goes on (with a NOTICE).  Creating triggers while
 * the statement runs is safe for the cache because of one rule: in the
 * transaction that tracked the table, the cache is trusted only under an
 * identical snapshot (fm_topk_tracked_here).  A statement of that
 * transaction that began before the triggers existed may still change rows
 * without bumping the version (its trigger list was fixed at its start),
 * but every later transaction reads the table again under the version the
 * tracking set, with a snapshot that sees those changes; from then on every
 * change bumps.  Concurrent writers cannot slip through: they hold ROW
 * EXCLUSIVE until they commit, which the lock above excludes.
 *
 * When the table cannot be tracked (another owner, a read-only
 * transaction, the setting off), fm_topk says so in a NOTICE, once per
 * backend and table, naming fm_topk_track(); a read-only transaction does
 * not keep a later writable one from tracking the table.  A table whose
 * tracking failed is not tried again by this backend.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "fm_compat.h"
#include "fm_topk.h"

#if PG_VERSION_NUM >= 160000
#define fm_relation_ownercheck(relid, role) object_ownercheck(RelationRelationId, (relid), (role))
#else
#define fm_relation_ownercheck(relid, role) pg_class_ownercheck((relid), (role))
#endif

static bool topk_auto_track = true;

/*
 * Tables this backend gave the NOTICE about, and tables it failed to track
 * (not tried again): small sets, a forgotten entry only repeats a NOTICE
 * or an attempt.
 */
#define SEEN_MAX 64
typedef struct SeenSet
{
	Oid			relids[SEEN_MAX];
	int			n;
} SeenSet;
static SeenSet told;
static SeenSet failed;

/* Tables tracked by this backend, and in which transaction. */
#define HERE_MAX 8
static Oid	here_relid[HERE_MAX];
static LocalTransactionId here_lxid[HERE_MAX];
static int	nhere;

void
fm_topk_define_autotrack_setting(void)
{
	DefineCustomBoolVariable("fmrec.topk_auto_track",
							 "Whether fm_topk() tracks an item table its caller owns on first use.",
							 "Tracking (fm_topk_track) installs two triggers so that the cache of the "
							 "table survives across statements and transactions.  off: an untracked "
							 "table is cached within one snapshot only.",
							 &topk_auto_track, true, PGC_USERSET, 0, NULL, NULL, NULL);
}

static bool
seen(const SeenSet *set, Oid relid)
{
	for (int i = 0; i < set->n; i++)
		if (set->relids[i] == relid)
			return true;
	return false;
}

static void
remember(SeenSet *set, Oid relid)
{
	if (set->n < SEEN_MAX)
		set->relids[set->n++] = relid;
	else
		set->relids[relid % SEEN_MAX] = relid;
}

bool
fm_topk_tracked_here(Oid relid)
{
	for (int i = 0; i < nhere; i++)
		if (here_relid[i] == relid && here_lxid[i] == FM_MY_LOCAL_XID())
			return true;
	return false;
}

static void
remember_here(Oid relid)
{
	int			slot = nhere < HERE_MAX ? nhere++ : (int) (relid % HERE_MAX);

	here_relid[slot] = relid;
	here_lxid[slot] = FM_MY_LOCAL_XID();
}

static void
spi_utility(const char *sql)
{
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "\"%s\" failed", sql);
}

/*
 * Installs fm_topk_track()'s triggers (see src/sql/40_topk.sql, which this
 * follows) in a subtransaction; NULL, or the error message.  Not by
 * calling fm_topk_track(): its ALTER TABLE ... ENABLE ALWAYS TRIGGER
 * refuses a table that the running statement uses (this call has it open),
 * while CREATE TRIGGER and EnableDisableTrigger() do not check.
 */
static char *
track_in_subtransaction(Relation rel, Oid schema)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile failure = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		const char *table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													   RelationGetRelationName(rel));
		const char *nsp = quote_identifier(get_namespace_name(schema));
		Oid			type = REGCLASSOID;
		Datum		arg = ObjectIdGetDatum(RelationGetRelid(rel));

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		spi_utility(psprintf("CREATE OR REPLACE TRIGGER fm_topk_version AFTER INSERT OR UPDATE OR DELETE ON %s "
							 "FOR EACH ROW EXECUTE FUNCTION %s.fm_topk_bump()", table, nsp));
		spi_utility(psprintf("CREATE OR REPLACE TRIGGER fm_topk_version_truncate AFTER TRUNCATE ON %s "
							 "FOR EACH STATEMENT EXECUTE FUNCTION %s.fm_topk_bump()", table, nsp));
#if PG_VERSION_NUM >= 160000
		EnableDisableTrigger(rel, "fm_topk_version", InvalidOid, TRIGGER_FIRES_ALWAYS, false, false,
							 ShareRowExclusiveLock);
		EnableDisableTrigger(rel, "fm_topk_version_truncate", InvalidOid, TRIGGER_FIRES_ALWAYS, false, false,
							 ShareRowExclusiveLock);
#else
		EnableDisableTrigger(rel, "fm_topk_version", TRIGGER_FIRES_ALWAYS, false, ShareRowExclusiveLock);
		EnableDisableTrigger(rel, "fm_topk_version_truncate", TRIGGER_FIRES_ALWAYS, false, ShareRowExclusiveLock);
#endif
		CommandCounterIncrement();
		if (SPI_execute_with_args(psprintf("SELECT %s._fm_topk_version_mark($1, true)", nsp),
								  1, &type, &arg, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "_fm_topk_version_mark failed");
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(caller);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		failure = error->message;
	}
	PG_END_TRY();
	return failure;
}

void
fm_topk_auto_track(Relation rel, Oid schema)
{
	Oid			relid = RelationGetRelid(rel);
	const char *name;
	const char *reason = NULL;
	char	   *failure;

	/* only what tracking serves: plain heap tables (RLS tables are never cached) */
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relam != HEAP_TABLE_AM_OID || rel->rd_rel->relrowsecurity ||
		fm_topk_is_tracked(rel, schema))
		return;
	name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
	if (!topk_auto_track)
		reason = "fmrec.topk_auto_track is off";
	else if (!fm_relation_ownercheck(relid, GetUserId()))
		reason = "only its owner can track it";
	else if (RecoveryInProgress() || XactReadOnly)
		reason = "the transaction is read-only";
	else if (seen(&failed, relid))
		return;					/* told when it failed */
	if (reason != NULL)
	{
		if (seen(&told, relid))
			return;
		remember(&told, relid);
		ereport(NOTICE,
				(errmsg("fm_topk caches table %s only within one statement: it is not tracked and %s",
						name, reason),
				 errdetail("Every statement reads the whole table again."),
				 errhint("Its owner can run SELECT fm_topk_track('%s'); once: the cache then lasts across statements and transactions.",
						 name)));
		return;
	}
	/* transient: try again in a later call */
	if (IsInParallelMode() || !ConditionalLockRelationOid(relid, ShareRowExclusiveLock))
		return;

	failure = track_in_subtransaction(rel, schema);
	if (failure != NULL)
	{
		remember(&failed, relid);
		ereport(NOTICE,
				(errmsg("fm_topk caches table %s only within one statement: tracking it failed: %s",
						name, failure),
				 errhint("SELECT fm_topk_track('%s'); says why.", name)));
		return;
	}
	remember_here(relid);
	ereport(NOTICE,
			(errmsg("fm_topk now tracks table %s: its cache lasts across statements and transactions", name),
			 errdetail("fm_topk_track() installed the triggers fm_topk_version and fm_topk_version_truncate on it."),
			 errhint("fm_topk_untrack() removes them; fmrec.topk_auto_track = off stops fm_topk from tracking tables.")));
}
