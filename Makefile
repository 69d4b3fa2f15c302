# fmrec - PGXS build.  `make && make install`, then `make installcheck`.
# The whole test suite (unit tests under sanitizers, pg_regress, TAP) runs
# with test/run_all_tests.sh, which also installs what it needs.

EXTENSION = fmrec
MODULE_big = fmrec
# The install script of the current version is assembled from the parts in
# src/sql/ (one concern per part, in file-name order).  upgrade/ holds the
# install scripts of released versions (so that an upgrade from them can be
# installed and tested, t/080_upgrade.pl) and the upgrade scripts
# fmrec--A--B.sql, written by hand.
EXTVERSION = 0.3.0
DATA_built = fmrec--$(EXTVERSION).sql
DATA = $(wildcard upgrade/fmrec--*.sql)

# The plain-C core (no PostgreSQL headers) and the glue that calls it.
# alloc.c is the core's malloc allocator for tools and tests, not the server.
CORE_OBJS = $(patsubst %.c,%.o,$(filter-out src/core/alloc.c,$(wildcard src/core/*.c)))
GLUE_OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
OBJS = $(CORE_OBJS) $(GLUE_OBJS)

REGRESS = vector_io vector_ops aggregate train train_order train_compact train_errors train_hostile train_implicit topk topk_tracking topk_autotrack topn ivf train_features train_recovery evaluate serve items progress fold_in train_parallel train_parallel_implicit hijack
REGRESS_OPTS = --load-extension=fmrec

# TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster) through PGXS, as other
# extensions do: `make installcheck` runs pg_regress and then them against
# the installed build; `make prove_installcheck` runs only them
# (PROVE_TESTS=test/t/050_load.pl for one file, PROVE_FLAGS=-v for every
# assertion).  They start their own clusters, so not as root.
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
# (override: PGXS resets PROVE_FLAGS, and a command-line PROVE_FLAGS=-v keeps this)
override PROVE_FLAGS += -I test/t

# No -Werror here: a newer compiler's new warning must not fail a user's
# install.  The test command and CI build with `make COPT=-Werror`.
# -fno-math-errno lets GCC inline and vectorise sqrtf (Adam); nothing reads
# errno after a math call.  -ffp-contract=off keeps every instruction-set clone of the kernels
# bit-identical (no FMA fusion), see src/core/vec.c.
PG_CFLAGS = -Isrc -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare -ffp-contract=off -fno-math-errno
SHLIB_LINK = -lm

# PGXS tracks no header dependencies (without --enable-depend): rebuild an
# object when any header it may include changes.
$(CORE_OBJS): $(wildcard src/core/*.h)
$(GLUE_OBJS): $(wildcard src/*.h src/core/*.h)

# The kernels are the hot path: let the vectoriser use its full cost model
# (-O2 in GCC 12 only vectorises loops that need no epilogue).
src/core/vec.o src/core/sq8.o: CFLAGS += -O3

# (This rule precedes PGXS's, so name the default goal explicitly.)
.DEFAULT_GOAL := all
fmrec--$(EXTVERSION).sql: $(sort $(wildcard src/sql/*.sql))
	cat $^ > $@

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: prove_installcheck unitcheck
prove_installcheck:
	$(prove_installcheck)


unitcheck:
	$(MAKE) -C test/unit check
