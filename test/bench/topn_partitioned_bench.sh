#!/usr/bin/env bash
# topn_partitioned_bench.sh - the top-N scan on a partitioned item table
# against the same rows in one table.
#
#   test/bench/topn_partitioned_bench.sh [N [DIM [PARTITIONS [REPS]]]]
#                                        (default 1000000 120 4 7)
#   --no-install as the first argument: do not build and install fmrec first
#
# Loads N random items (serving_gen.c: Gaussian embeddings and biases, the
# serving benchmark's catalogue) into one table and the same rows into a
# table range-partitioned on id in PARTITIONS equal parts, in a throwaway
# cluster (test/lib/common.sh) whose shared buffers hold both.  Then, REPS
# times, for each of 20 query vectors, runs
#   SELECT id FROM <table> ORDER BY fm_score(q, embedding, bias) DESC LIMIT 10
# on each layout and plan in turn (interleaved, so that the machine's load
# weighs on all of them alike), timing each execution inside the server
# (clock_timestamp() around EXECUTE: planning included, no client round
# trip).  Plans:
#   serial     max_parallel_workers_per_gather = 0: the top-N scan (one
#              table) or a Merge Append of per-partition top-N scans
#   default    the planner's choice with the default parallel settings
#   sort       fmrec.enable_topn_scan = off, serial: PostgreSQL's own plan
#              (Limit, Sort, Seq Scan or Append of Seq Scans)
# Prints a markdown table: median latency per layout and plan, the ratio
# partitioned / one table, and whether every query gave the same ids on
# both layouts (and under the Sort plan).  The bar (issue 17): partitioned
# within 1.2x of one table, same answer.  Progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
source "$HERE/../lib/common.sh"

INSTALL=1
if [ "${1:-}" = --no-install ]; then INSTALL=0; shift; fi
N=${1:-1000000}
DIM=${2:-120}
PARTS=${3:-4}
REPS=${4:-7}
QUERIES=20

BUILD=$HERE/build
mkdir -p "$BUILD"
trap stop_cluster EXIT

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

ensure_packages gcc
[ "$INSTALL" = 1 ] && build_and_install
gcc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$FMREC_ROOT/src/core" \
	-o "$BUILD/serving_gen" "$HERE/serving_gen.c" "$FMREC_ROOT/src/core/rng.c" -lm

# both tables in shared buffers: ~ (DIM * 4 + 60) bytes a row, twice, + 30%
SB_MB=$(awk -v n="$N" -v d="$DIM" 'BEGIN { printf "%d", n * (d * 4 + 60) * 2 * 1.3 / 1048576 + 256 }')
start_cluster "shared_buffers = ${SB_MB}MB" "max_wal_size = 16GB" "checkpoint_timeout = 1h"
q -c "CREATE EXTENSION fmrec" -c "CREATE EXTENSION pg_prewarm"

log "loading $N x $DIM items into one table and into $PARTS partitions"
q -c "CREATE TABLE items_one (id bigint, bias real, embedding fm_vector)"
"$BUILD/serving_gen" "$N" "$DIM" 1 fm_vector | q -c "COPY items_one FROM STDIN (FORMAT binary)"
q -c "CREATE TABLE items_part (id bigint, bias real, embedding fm_vector) PARTITION BY RANGE (id)"
for ((p = 0; p < PARTS; p++)); do
	lo=$((p * N / PARTS + 1)); hi=$(((p + 1) * N / PARTS + 1))
	[ "$p" = $((PARTS - 1)) ] && hi=MAXVALUE
	q -c "CREATE TABLE items_part_$p PARTITION OF items_part FOR VALUES FROM ($lo) TO ($hi)"
done
q -c "INSERT INTO items_part SELECT * FROM items_one"
q -c "CREATE TABLE queries (u bigint, bias real, q fm_vector)"
"$BUILD/serving_gen" "$QUERIES" "$DIM" 2 fm_vector | q -c "COPY queries FROM STDIN (FORMAT binary)"
q -c "VACUUM (FREEZE, ANALYZE) items_one" -c "VACUUM (FREEZE, ANALYZE) items_part" -c "ANALYZE queries"
q -c "SELECT pg_prewarm(c::regclass) FROM (VALUES ('items_one')) v(c)
      UNION ALL SELECT pg_prewarm(inhrelid::regclass) FROM pg_inherits WHERE inhparent = 'items_part'::regclass" >/dev/null

# The plans, for the record (the default settings: parallel where chosen).
for t in items_one items_part; do
	q -c "EXPLAIN (COSTS OFF) SELECT id FROM $t ORDER BY fm_score((SELECT q FROM queries WHERE u = 1), embedding, bias) DESC LIMIT 10" >&2
done

log "timing: $REPS rounds x $QUERIES queries x 2 layouts x 3 plans, interleaved"
q <<EOF
CREATE TEMP TABLE timings (layout text, plan text, rep int, u int, ms float8, ids bigint[]);
DO \$\$
DECLARE
  t0 timestamptz;
  got bigint[];
  layout text;
  plan text;
BEGIN
  FOR rep IN 0..$REPS LOOP          -- round 0 warms up and is left out
    FOR qu IN 1..$QUERIES LOOP
      FOREACH plan IN ARRAY ARRAY['serial', 'default', 'sort'] LOOP
        PERFORM set_config('max_parallel_workers_per_gather', CASE plan WHEN 'default' THEN '2' ELSE '0' END, true);
        PERFORM set_config('fmrec.enable_topn_scan', CASE plan WHEN 'sort' THEN 'off' ELSE 'on' END, true);
        FOREACH layout IN ARRAY CASE (rep + qu) % 2 WHEN 0 THEN ARRAY['items_one', 'items_part']
                                                    ELSE ARRAY['items_part', 'items_one'] END LOOP
          t0 := clock_timestamp();
          EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I
                           ORDER BY fm_score((SELECT q FROM queries WHERE u = \$1), embedding, bias) DESC
                           LIMIT 10) r', layout) INTO got USING qu;
          IF rep > 0 THEN
            INSERT INTO timings VALUES (layout, plan, rep, qu,
              extract(epoch FROM clock_timestamp() - t0) * 1000, got);
          END IF;
        END LOOP;
      END LOOP;
    END LOOP;
  END LOOP;
END \$\$;
\echo
\echo '| items x dims | partitions | plan | one table (ms) | partitioned (ms) | ratio | same answer |'
\echo '|---|---|---|---|---|---|---|'
SELECT format('| %s x %s | %s | %s | %s | %s | %sx | %s/%s |', $N, $DIM, $PARTS, o.plan,
              round(o.med::numeric, 1), round(p.med::numeric, 1), round((p.med / o.med)::numeric, 2),
              s.same, s.total)
  FROM (SELECT plan, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med FROM timings WHERE layout = 'items_one' GROUP BY plan) o
  JOIN (SELECT plan, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med FROM timings WHERE layout = 'items_part' GROUP BY plan) p USING (plan)
  JOIN (SELECT a.plan, count(*) FILTER (WHERE a.ids = b.ids AND a.ids = r.ids) AS same, count(*) AS total
          FROM timings a
          JOIN timings b ON b.plan = a.plan AND b.rep = a.rep AND b.u = a.u AND b.layout = 'items_part'
          JOIN timings r ON r.plan = 'sort' AND r.rep = a.rep AND r.u = a.u AND r.layout = 'items_one'
         WHERE a.layout = 'items_one' GROUP BY a.plan) s USING (plan)
 ORDER BY array_position(ARRAY['serial', 'default', 'sort'], o.plan);
\echo
SELECT format('partitioned: the Sort plan takes %sx the serial top-N scans (%s against %s ms)',
              round((s.med / t.med)::numeric, 2), round(s.med::numeric, 1), round(t.med::numeric, 1))
  FROM (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med FROM timings WHERE layout = 'items_part' AND plan = 'sort') s,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med FROM timings WHERE layout = 'items_part' AND plan = 'serial') t;
EOF
