#!/usr/bin/env bash
# The same training through the core alone and through PostgreSQL, in one
# run (a command, not a test; issue #16's bar: the DB path within 1.3x of the
# core-only benchmark).
#
#   test/bench/core_vs_db_bench.sh [--method sgd] [--k 64] [--epochs 30] [--repeat 5] [--perf]
#
# --perf: instead of timing, profile one training of each path (perf record,
# software cpu-clock sampling: the virtual machine has no hardware counters)
# and print the top symbols of each, so the two can be compared line by line.
#
# The same work on both sides:
#   data        MovieLens 100K u1.base (80,000 ratings) to train, u1.test
#               (20,000) to validate: the core reads the files
#               (train_core_bench --fold 1 --genres), the database the same
#               rows from ratings_split (fold 1) joined to users and movies,
#               with validation => the u1.test table;
#   features    user id, movie id, age group, gender, occupation, genres
#               (each 1 / number of the movie's genres): 5 + 1.7 non-zeros;
#   parameters  the method's defaults, k, epochs, seed 42 on both sides;
#   timed       fm_train() as a whole: every epoch's update pass, the
#               validation RMSE on u1.test after every epoch (included on
#               both sides) and the final exact train RMSE; the database's
#               time is its final NOTICE's "trained N epochs in X s" (reading,
#               canonical order and writing the model excluded), the core's
#               its "fold 1 ... X s" line.  The database side additionally
#               pays what the DB path adds inside fm_train: a NOTICE and a
#               progress update per epoch, CHECK_FOR_INTERRUPTS every
#               FM_TICK_ROWS rows, palloc'd memory, the extension's compiler
#               flags.
# Medians of REPEAT interleaved runs (core, database, core, ...) and their ratio.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

METHOD=sgd
K=64
EPOCHS=30
REPEAT=5
PERF=
while [ $# -gt 0 ]; do
	case $1 in
		--perf) PERF=1; shift ;;
		--method) METHOD=$2; shift 2 ;;
		--k) K=$2; shift 2 ;;
		--epochs) EPOCHS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		*) die "unknown option $1" ;;
	esac
done


DATA=$("$FMREC_ROOT/test/movielens/fetch_data.sh")
[ -f "$DATA/u1.base" ] || die "$DATA has no u1.base: the comparison needs MovieLens 100K's folds"
build_and_install
make -C "$FMREC_ROOT/test/bench" -s build/train_core_bench >/dev/null
CORE=$FMREC_ROOT/test/bench/build/train_core_bench

start_cluster "shared_buffers = 256MB"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"
"$FMREC_ROOT/test/movielens/load.sh" "$DATA" bench >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d bench <<'SQL'
CREATE TABLE u1_base AS
SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
 WHERE s.fold = 1 AND s.part = 'base';
CREATE TABLE u1_test AS
SELECT r.* FROM ratings_with_meta r JOIN ratings_split s USING (user_id, movie_id)
 WHERE s.fold = 1 AND s.part = 'test';
ANALYZE u1_base, u1_test;
SQL
read -r n_base n_test < <(psql -qAtX -F' ' -d bench -c "SELECT (SELECT count(*) FROM u1_base), (SELECT count(*) FROM u1_test)")

# core_once EPOCHS -> "fm_train_seconds cpu_seconds" (cpu: the whole process)
core_once() {
	local out
	out=$(/usr/bin/time -f 'cpu %U %S' "$CORE" --dir "$DATA" --method "$METHOD" --k "$K" --epochs "$1" \
		--seed 42 --genres --fold 1 --quiet 2>&1)
	awk '/^fold 1 / { for (i = 1; i < NF; i++) if ($(i + 1) == "s") t = $i }
		$1 == "cpu" { c = $2 + $3 } END { print t, c }' <<<"$out"
}

# db_once EPOCHS -> "fm_train_seconds cpu_seconds" (fm_train: the final NOTICE;
# cpu: the backend's utime + stime across the call, from /proc/<pid>/stat)
db_once() {
	local out
	out=$(psql -X -d bench 2>&1 <<SQL
SET client_min_messages = notice;
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! echo "stat0 \$(cut -d' ' -f14,15 /proc/\$BACKEND_PID/stat)"
SELECT 1 FROM fm_train_from_table('u1_base', 'rating',
	ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'], 'core_vs_db',
	method => '$METHOD', k => $K, epochs => $1, seed => 42, validation => 'u1_test');
\! echo "stat1 \$(cut -d' ' -f14,15 /proc/\$BACKEND_PID/stat)"
SQL
)
	awk -v hz="$(getconf CLK_TCK)" '
		match($0, /trained [0-9]+ [a-z]+ in [0-9.]+ s/) { split(substr($0, RSTART, RLENGTH), w, " "); t = w[5] }
		$1 == "stat0" { c0 = $2 + $3 } $1 == "stat1" { c1 = $2 + $3 } END { print t, (c1 - c0) / hz }' <<<"$out"
}

if [ -n "$PERF" ]; then
	PD=$(mktemp -d /tmp/core_vs_db_perf.XXXXXX)
	chmod 777 "$PD"
	log "profiling: core"
	perf record -q -F 999 -o "$PD/core.data" -- "$CORE" --dir "$DATA" --method "$METHOD" --k "$K" \
		--epochs "$EPOCHS" --seed 42 --genres --fold 1 --quiet >/dev/null 2>&1
	log "profiling: database (perf record -p <backend pid> during the call)"
	psql -X -d bench >/dev/null 2>&1 <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! perf record -q -F 999 -p \$BACKEND_PID -o $PD/db.data >/dev/null 2>&1 & echo \$! > $PD/perf.pid; sleep 1
SELECT 1 FROM fm_train_from_table('u1_base', 'rating',
	ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'], 'core_vs_db',
	method => '$METHOD', k => $K, epochs => $EPOCHS, seed => 42, validation => 'u1_test');
\! kill -INT \$(cat $PD/perf.pid); sleep 2
SQL
	for side in core db; do
		echo
		echo "== $side: top symbols (share, samples at 999 Hz)"
		perf report -i "$PD/$side.data" --stdio -n --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' | head -15 || true
	done
	rm -rf "$PD"
	exit 0
fi

E2=$((2 * EPOCHS))
log "$METHOD, k $K, $EPOCHS and $E2 epochs on u1.base ($n_base ratings; validation u1.test, $n_test), $REPEAT interleaved runs"
walls_c=() walls_d=() cpus_c=() cpus_d=() ratios=() cratios=()
for r in $(seq "$REPEAT"); do
	read -r cw1 cc1 < <(core_once "$EPOCHS")
	read -r dw1 dc1 < <(db_once "$EPOCHS")
	read -r cw2 cc2 < <(core_once "$E2")
	read -r dw2 dc2 < <(db_once "$E2")
	[ -n "$cw1" ] && [ -n "$dw1" ] && [ -n "$cw2" ] && [ -n "$dw2" ] || die "a run printed no time"
	# wall: fm_train of EPOCHS epochs; cpu: per epoch, the difference of the two lengths
	cpe=$(awk -v a="$cc1" -v b="$cc2" -v e="$EPOCHS" 'BEGIN { printf "%.4f", (b - a) / e }')
	dpe=$(awk -v a="$dc1" -v b="$dc2" -v e="$EPOCHS" 'BEGIN { printf "%.4f", (b - a) / e }')
	log "run $r: fm_train of $EPOCHS epochs: core $cw1 s, database $dw1 s; CPU per epoch: core $cpe s, database $dpe s"
	walls_c+=("$cw1") walls_d+=("$dw1") cpus_c+=("$cpe") cpus_d+=("$dpe")
	ratios+=("$(awk -v a="$dw1" -v b="$cw1" 'BEGIN { printf "%.3f", a / b }')")
	cratios+=("$(awk -v a="$dpe" -v b="$cpe" 'BEGIN { printf "%.3f", a / b }')")
done
core_med=$(printf '%s\n' "${walls_c[@]}" | median)
db_med=$(printf '%s\n' "${walls_d[@]}" | median)
ccpu_med=$(printf '%s\n' "${cpus_c[@]}" | median)
dcpu_med=$(printf '%s\n' "${cpus_d[@]}" | median)
ratio_med=$(printf '%s\n' "${ratios[@]}" | median)
cratio_med=$(printf '%s\n' "${cratios[@]}" | median)

echo
echo "u1.base ($n_base ratings), $METHOD, k $K, per-epoch validation RMSE on u1.test ($n_test) included on both sides;"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'); medians of $REPEAT interleaved runs"
echo
echo "| path | fm_train s, $EPOCHS epochs (wall) | s / epoch (wall) | CPU s / epoch ($E2 minus $EPOCHS epochs) | ratings·epochs / CPU s |"
echo "|---|---|---|---|---|"
awk -v c="$core_med" -v d="$db_med" -v cc="$ccpu_med" -v dc="$dcpu_med" -v n="$n_base" -v e="$EPOCHS" 'BEGIN {
	printf "| core only (train_core_bench) | %.2f | %.4f | %.4f | %.0f |\n", c, c / e, cc, n / cc
	printf "| database (fm_train_from_table) | %.2f | %.4f | %.4f | %.0f |\n", d, d / e, dc, n / dc
}'
echo
echo "database / core, wall: $ratio_med (median of the per-run ratios ${ratios[*]}); CPU per epoch: $cratio_med (${cratios[*]}); bar: at most 1.3"
