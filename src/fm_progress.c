/*
 * fm_progress.c - training you can watch (see fm_progress.h).
 *
 * Each backend owns one slot of a shared array, indexed by its process
 * number, and is its only writer; any backend reads every slot.  A write is
 * bracketed by two increments of the slot's change counter, as PostgreSQL's
 * own backend status is (st_changecount): a reader copies the slot and
 * keeps the copy only if the counter was even and unchanged around the
 * copy, so it never sees half of an update, and the writer never waits.
 *
 * The array lives in a named DSM segment on PostgreSQL 17 and later, and in
 * the main shared memory on 15 and 16, where it must be requested at server
 * start (shared_preload_libraries = 'fmrec'; without it a training reports
 * nothing and the view warns why).  A crash restart reinitialises both, so a
 * killed training leaves no row behind.
 */
#include "postgres.h"

#include "fm_compat.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"	/* get_database_name() up to 18 */
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"		/* get_database_name() from 19 */
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#if PG_VERSION_NUM >= 170000
#include "storage/dsm_registry.h"
#endif

#include "fm_progress.h"

#define SLOT_MODEL_LEN 128		/* longer model names are shown cut */
#define SLOT_METHOD_LEN 8

typedef struct ProgressSlot
{
	int			changecount;	/* odd while its owner writes */
	int			pid;			/* 0: no training */
	Oid			userid;
	Oid			dbid;
	int			phase;			/* FmProgressPhase */
	int32		epoch;			/* epochs done */
	int32		epochs;			/* epochs asked for */
	int64		rows_read;
	double		train_rmse;		/* of the last epoch; NaN: not measured */
	double		validation_rmse;
	double		train_loss;
	double		validation_ndcg;
	double		epoch_seconds;
	TimestampTz started_at;
	TimestampTz changed_at;
	char		method[SLOT_METHOD_LEN];
	char		model[SLOT_MODEL_LEN];
} ProgressSlot;

typedef struct ProgressShared
{
	int			n_slots;
	ProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ProgressShared;

struct FmProgress
{
	bool		shown;			/* owns this backend's slot */
	MemoryContext context;		/* where the history grows */
	StringInfoData history;		/* "[{...}, {...}" without the closing ] */
	char	   *history_json;	/* the closed array, made on demand */
	int32		n_epochs;
};

static const char *const phase_names[] = {"reading", "training", "writing"};

static const struct config_enum_entry training_notices_options[] = {
	{"epochs", FM_NOTICES_EPOCHS, false},
	{"summary", FM_NOTICES_SUMMARY, false},
	{"none", FM_NOTICES_NONE, false},
	{NULL, 0, false}
};

static int	training_notices = FM_NOTICES_EPOCHS;

/* The shared array, once found or attached; NULL on 15/16 when not preloaded. */
static ProgressShared *shared = NULL;

/* This backend's slot while a training shows in it, else -1. */
static int	my_slot = -1;

/*
 * The trainings running in this backend, outermost first, by the
 * transaction nesting level that began each: an abort of level L ends those
 * begun at L or deeper.  Only the outermost is shown; rows are counted only
 * while it runs alone (not those an inner training reads).
 */
#define MAX_NESTED 16
static int	n_running = 0;
static int	running_level[MAX_NESTED];

static bool callbacks_registered = false;

static Size
shared_size(void)
{
	return add_size(offsetof(ProgressShared, slots),
					mul_size(sizeof(ProgressSlot), (Size) MaxBackends));
}

static void
init_shared(ProgressShared *s)
{
	memset(s, 0, shared_size());
	s->n_slots = MaxBackends;
}

#if PG_VERSION_NUM >= 170000

static void
init_segment(FM_DSM_INIT_CALLBACK_ARGS)
{
	init_shared((ProgressShared *) ptr);
}

static ProgressShared *
get_shared(void)
{
	bool		found;

	if (shared == NULL)
		shared = FM_GET_NAMED_DSM_SEGMENT("fmrec training progress", shared_size(),
										  init_segment, &found);
	return shared;
}

#else							/* 15 and 16: main shared memory, if preloaded */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
request_shared(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
}

static void
startup_shared(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("fmrec training progress", shared_size(), &found);
	if (!found)
		init_shared(shared);
	LWLockRelease(AddinShmemInitLock);
}

static ProgressShared *
get_shared(void)
{
	return shared;
}

#endif

void
fm_progress_init(void)
{
	DefineCustomEnumVariable("fmrec.training_notices",
							 "Which NOTICEs a training prints.",
							 "epochs: one per epoch and the summary; summary: only the summary at "
							 "the end; none: neither.  NOTICEs about the data (rows skipped) are "
							 "always printed.",
							 &training_notices,
							 FM_NOTICES_EPOCHS,
							 training_notices_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
#if PG_VERSION_NUM < 170000
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = request_shared;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = startup_shared;
	}
#endif
}

bool
fm_progress_notice_epochs(void)
{
	return training_notices == FM_NOTICES_EPOCHS;
}

bool
fm_progress_notice_summary(void)
{
	return training_notices != FM_NOTICES_NONE;
}

/* ---- writing this backend's slot ---- */

/*
 * Between the two increments nothing may fail (a reader would wait for the
 * counter to become even again): plain stores only, in a critical section.
 */
#define BEGIN_SLOT_WRITE(slot) \
	do { \
		START_CRIT_SECTION(); \
		(slot)->changecount++; \
		pg_write_barrier(); \
	} while (0)

#define END_SLOT_WRITE(slot) \
	do { \
		pg_write_barrier(); \
		(slot)->changecount++; \
		Assert(((slot)->changecount & 1) == 0); \
		END_CRIT_SECTION(); \
	} while (0)

static volatile ProgressSlot *
my_slot_ptr(void)
{
	return my_slot < 0 ? NULL : &shared->slots[my_slot];
}

static void
release_slot(void)
{
	volatile ProgressSlot *slot = my_slot_ptr();

	if (slot == NULL)
		return;
	BEGIN_SLOT_WRITE(slot);
	slot->pid = 0;
	END_SLOT_WRITE(slot);
	my_slot = -1;
}

/* Forgets the trainings begun at nesting level `level` or deeper. */
static void
end_running_from(int level)
{
	while (n_running > 0 && running_level[Min(n_running, MAX_NESTED) - 1] >= level)
		n_running--;
	if (n_running == 0)
		release_slot();
}

/*
 * An error, a cancel or a FATAL ends the training without fm_progress_end:
 * the abort of the (sub)transaction that began it, or the backend's exit,
 * releases the slot.  (Commit too, should a training ever return without
 * ending.)  They touch no handle: its memory goes with the transaction.
 */
static void
on_xact_event(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			end_running_from(0);
			break;
		default:
			break;
	}
}

static void
on_subxact_event(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				 void *arg)
{
	/* the aborting level is still current */
	if (event == SUBXACT_EVENT_ABORT_SUB && n_running > 0)
		end_running_from(GetCurrentTransactionNestLevel());
}

static void
on_backend_exit(int code, Datum arg)
{
	end_running_from(0);
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(on_xact_event, NULL);
	RegisterSubXactCallback(on_subxact_event, NULL);
	before_shmem_exit(on_backend_exit, (Datum) 0);
	callbacks_registered = true;
}

FmProgress *
fm_progress_begin(const char *model, const char *method, int32 epochs)
{
	FmProgress *p = palloc0(sizeof(FmProgress));
	ProgressShared *s;
	int			index = FM_MY_PROC_INDEX();
	char		model_cut[SLOT_MODEL_LEN];
	char		method_cut[SLOT_METHOD_LEN];
	TimestampTz now = GetCurrentTimestamp();
	volatile ProgressSlot *slot;

	p->context = CurrentMemoryContext;
	initStringInfo(&p->history);
	register_callbacks();
	/* (past MAX_NESTED the deepest level stands for all deeper ones) */
	running_level[Min(n_running, MAX_NESTED - 1)] = GetCurrentTransactionNestLevel();
	n_running++;
	if (n_running > 1)			/* a training inside a training: not shown */
		return p;
	s = get_shared();
	if (s == NULL || index < 0 || index >= s->n_slots)
		return p;

	strlcpy(model_cut, model, pg_mbcliplen(model, strlen(model), sizeof(model_cut) - 1) + 1);
	strlcpy(method_cut, method, sizeof(method_cut));
	slot = &s->slots[index];
	BEGIN_SLOT_WRITE(slot);
	slot->pid = MyProcPid;
	slot->userid = GetUserId();
	slot->dbid = MyDatabaseId;
	slot->phase = FM_PHASE_READING;
	slot->epoch = 0;
	slot->epochs = epochs;
	slot->rows_read = 0;
	slot->train_rmse = NAN;
	slot->validation_rmse = NAN;
	slot->train_loss = NAN;
	slot->validation_ndcg = NAN;
	slot->epoch_seconds = NAN;
	slot->started_at = now;
	slot->changed_at = now;
	memcpy((char *) slot->method, method_cut, sizeof(method_cut));
	memcpy((char *) slot->model, model_cut, sizeof(model_cut));
	END_SLOT_WRITE(slot);

	my_slot = index;
	p->shown = true;
	return p;
}

void
fm_progress_phase(FmProgress *p, FmProgressPhase phase)
{
	volatile ProgressSlot *slot = p->shown ? my_slot_ptr() : NULL;
	TimestampTz now;

	if (slot == NULL)
		return;
	now = GetCurrentTimestamp();
	BEGIN_SLOT_WRITE(slot);
	slot->phase = phase;
	slot->changed_at = now;
	END_SLOT_WRITE(slot);
}

void
fm_progress_rows(int64 rows)
{
	volatile ProgressSlot *slot = my_slot_ptr();

	if (slot == NULL || n_running > 1)
		return;
	BEGIN_SLOT_WRITE(slot);
	slot->rows_read += rows;
	END_SLOT_WRITE(slot);
}

/* A JSON number, or null for NaN and infinities (which JSON lacks). */
static void
append_json_number(StringInfo s, double x)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(x) || isinf(x))
		appendStringInfoString(s, "null");
	else
	{
		double_to_shortest_decimal_buf(x, buf);
		appendStringInfoString(s, buf);
	}
}

static void
append_history(FmProgress *p, const FmEpochReport *r)
{
	MemoryContext old = MemoryContextSwitchTo(p->context);
	StringInfo	s = &p->history;

	appendStringInfoString(s, p->n_epochs == 0 ? "[" : ", ");
	appendStringInfo(s, "{\"epoch\": %d, \"train_rmse\": ", r->epoch);
	append_json_number(s, r->train_rmse);
	appendStringInfoString(s, ", \"validation_rmse\": ");
	append_json_number(s, r->valid_rmse);
	appendStringInfoString(s, ", \"train_loss\": ");
	append_json_number(s, r->train_loss);
	appendStringInfoString(s, ", \"validation_ndcg\": ");
	append_json_number(s, r->valid_ndcg);
	appendStringInfoString(s, ", \"seconds\": ");
	append_json_number(s, r->seconds);
	appendStringInfoChar(s, '}');
	p->n_epochs++;
	p->history_json = NULL;
	MemoryContextSwitchTo(old);
}

void
fm_progress_epoch(FmProgress *p, const FmEpochReport *r)
{
	volatile ProgressSlot *slot = p->shown ? my_slot_ptr() : NULL;
	TimestampTz now;

	append_history(p, r);
	if (slot == NULL)
		return;
	now = GetCurrentTimestamp();
	BEGIN_SLOT_WRITE(slot);
	slot->epoch = r->epoch;
	slot->train_rmse = r->train_rmse;
	slot->validation_rmse = r->valid_rmse;
	slot->train_loss = r->train_loss;
	slot->validation_ndcg = r->valid_ndcg;
	slot->epoch_seconds = r->seconds;
	slot->changed_at = now;
	END_SLOT_WRITE(slot);
}

const char *
fm_progress_history(const FmProgress *p)
{
	FmProgress *cache = (FmProgress *) p;	/* the closed array is cached */

	if (p->n_epochs == 0)
		return NULL;
	if (p->history_json == NULL)
		cache->history_json = MemoryContextStrdup(p->context, psprintf("%s]", p->history.data));
	return p->history_json;
}

void
fm_progress_end(FmProgress *p)
{
	if (n_running > 0)
		n_running--;
	if (p->shown || n_running == 0)
		release_slot();
	p->shown = false;
}

/* ---- reading every slot: the view fm_training_progress ---- */

/* A consistent copy of a slot: retried while its owner is writing it. */
static void
read_slot(volatile ProgressSlot *slot, ProgressSlot *copy)
{
	for (;;)
	{
		int			before = slot->changecount;
		int			after;

		pg_read_barrier();
		memcpy(copy, (const ProgressSlot *) slot, sizeof(ProgressSlot));
		pg_read_barrier();
		after = slot->changecount;
		if (before == after && (before & 1) == 0)
			return;
		CHECK_FOR_INTERRUPTS();
	}
}

static Datum
float_or_null(double x, bool *isnull)
{
	*isnull = isnan(x);
	return Float8GetDatum(*isnull ? 0.0 : x);
}

static Datum
name_datum(const char *str)
{
	Name		name = palloc0(NAMEDATALEN);

	namestrcpy(name, str);
	return NameGetDatum(name);
}

#define PROGRESS_COLUMNS 16

PG_FUNCTION_INFO_V1(fm_training_progress);
Datum
fm_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProgressShared *s;
	bool		read_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	InitMaterializedSRF(fcinfo, 0);
	s = get_shared();
	if (s == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("training progress is not available: fmrec is not in shared_preload_libraries"),
				 errdetail("On PostgreSQL 15 and 16 the progress of trainings lives in shared memory "
						   "reserved at server start."),
				 errhint("Add fmrec to shared_preload_libraries and restart the server.")));
		return (Datum) 0;
	}
	for (int i = 0; i < s->n_slots; i++)
	{
		ProgressSlot slot;
		Datum		values[PROGRESS_COLUMNS];
		bool		nulls[PROGRESS_COLUMNS];
		char	   *role;
		char	   *database;

		if (s->slots[i].pid == 0)	/* a cheap look first: most slots are idle */
			continue;
		read_slot(&s->slots[i], &slot);
		if (slot.pid == 0)
			continue;
		memset(nulls, true, sizeof(nulls));
		values[0] = Int32GetDatum(slot.pid);
		nulls[0] = false;
		database = get_database_name(slot.dbid);
		if (database != NULL)
		{
			values[1] = name_datum(database);
			nulls[1] = false;
		}
		role = GetUserNameFromId(slot.userid, true);
		if (role != NULL)
		{
			values[2] = name_datum(role);
			nulls[2] = false;
		}
		if (slot.phase >= 0 && slot.phase < lengthof(phase_names))
		{
			values[3] = CStringGetTextDatum(phase_names[slot.phase]);
			nulls[3] = false;
		}
		/* as pg_stat_activity: the rest only for the same role or pg_read_all_stats */
		if (read_all || has_privs_of_role(GetUserId(), slot.userid))
		{
			values[4] = CStringGetTextDatum(slot.model);
			values[5] = CStringGetTextDatum(slot.method);
			values[6] = Int32GetDatum(slot.epoch);
			values[7] = Int32GetDatum(slot.epochs);
			values[8] = Int64GetDatum(slot.rows_read);
			for (int c = 4; c <= 8; c++)
				nulls[c] = false;
			values[9] = float_or_null(slot.train_rmse, &nulls[9]);
			values[10] = float_or_null(slot.validation_rmse, &nulls[10]);
			values[11] = float_or_null(slot.train_loss, &nulls[11]);
			values[12] = float_or_null(slot.validation_ndcg, &nulls[12]);
			values[13] = float_or_null(slot.epoch_seconds, &nulls[13]);
			values[14] = TimestampTzGetDatum(slot.started_at);
			values[15] = TimestampTzGetDatum(slot.changed_at);
			nulls[14] = nulls[15] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
