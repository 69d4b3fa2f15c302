#!/usr/bin/env bash
# Reading benchmark (a command, not a test): how long fm_train_from_table
# takes to read a generated MovieLens-shaped table (7 non-zeros a row: user,
# movie, 3 user metadata columns, a genres array of 2) against
# COPY (SELECT the same columns) TO '/dev/null' in the same run, and the
# memory per rating: the training memory of the final NOTICE (what
# fmrec.max_training_memory charges) and the backend's peak resident memory
# (growth of VmHWM of /proc/<pid>/status over the training; shared buffers
# the backend touched count in it, so that growth less RssShmem's is printed
# too).
# Medians of REPEAT interleaved repetitions (default 3), and their ratio.
#
#   test/bench/read_bench.sh [--rows N] [--repeat R] [--no-install]
#
# Training is 1 SGD epoch at k 8 with a 10% validation split: the read and
# the memory are what is measured, not the epoch.  Uses a throwaway cluster.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ROWS=1000000
REPEAT=3
INSTALL=1
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		--no-install) INSTALL=0; shift ;;
		*) die "unknown option $1" ;;
	esac
done


COLUMNS_SQL="rating, user_id, movie_id, age_group, gender, occupation, genres"

# copy_once -> milliseconds of the COPY
copy_once() {
	psql -qX -d bench <<SQL | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p'
\\timing on
COPY (SELECT $COLUMNS_SQL FROM big) TO '/dev/null';
SQL
}

# train_once -> "read_s canonical_s memory_mb hwm_growth_kb shmem_growth_kb epoch_s" in a fresh
# backend: VmHWM and RssShmem after training less before it (fmrec loaded)
train_once() {
	psql -qX -d bench 2>&1 <<'SQL' |
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
SELECT count(*) FROM fm_model \g /dev/null
\! grep -E '^(VmHWM|RssShmem)' /proc/$BENCH_PID/status
SELECT 1 FROM fm_train_from_table('big', 'rating',
	ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres'],
	'read_bench', k => 8, epochs => 1, validation_fraction => 0.1) \g /dev/null
\! grep -E '^(VmHWM|RssShmem)' /proc/$BENCH_PID/status
SQL
	awk 'function after(text) { match($0, text); v = substr($0, RSTART + RLENGTH); sub(/ .*/, "", v); return v }
		/read [0-9]+ rows in/ { rd = after("rows in "); cs = after("s [(]"); mb = after("training memory ")
			ep = after("epochs in ") }
		/^VmHWM/ { hwm[++h] = $2 } /^RssShmem/ { shm[++s] = $2 }
		/ERROR/ { print > "/dev/stderr" }
		END { print rd, cs, mb, hwm[2] - hwm[1], shm[2] - shm[1], ep }'
}

[ "$INSTALL" = 1 ] && build_and_install
start_cluster "shared_buffers = 256MB" "max_wal_size = 8GB" "checkpoint_timeout = 1h"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"
log "generating a $ROWS-row table shaped like MovieLens (users, movies, metadata, genres)"
generate_ratings bench big "$ROWS" "VACUUM ANALYZE big;" "SELECT count(*) FROM big;"
log "reading (median of $REPEAT interleaved repetitions)"
copies=() reads=() canons=() mems=() hwms=() privs=() epochs=()
for r in $(seq "$REPEAT"); do
	copies+=("$(copy_once)")
	read -r rd cs mb hwm shm ep <<<"$(train_once)"
	reads+=("$rd"); canons+=("$cs"); mems+=("$mb"); hwms+=("$hwm"); privs+=("$((hwm - shm))"); epochs+=("$ep")
done
m() { printf '%s\n' "$@" | median; }
awk -v n="$ROWS" -v copy="$(m "${copies[@]}")" -v rd="$(m "${reads[@]}")" -v cs="$(m "${canons[@]}")" \
	-v mb="$(m "${mems[@]}")" -v hwm="$(m "${hwms[@]}")" -v priv="$(m "${privs[@]}")" \
	-v ep="$(m "${epochs[@]}")" 'BEGIN {
	printf "rows %d, 7 non-zeros a row\n", n
	printf "COPY (SELECT ...) TO /dev/null  %8.2f s\n", copy / 1000
	printf "fm_train_from_table read        %8.2f s  (%.2f s of it canonical order)\n", rd, cs
	printf "read / COPY                     %8.2f\n", rd / (copy / 1000)
	printf "one sgd epoch at k 8            %8.2f s  (with the validation RMSE)\n", ep
	printf "training memory                 %8.1f MB  %6.1f bytes per rating\n", mb, mb * 1048576 / n
	printf "backend peak resident growth    %8.1f MB  %6.1f bytes per rating  (VmHWM after - before)\n", hwm / 1024, hwm * 1024 / n
	printf "  less shared buffers touched   %8.1f MB  %6.1f bytes per rating  (- RssShmem growth)\n", priv / 1024, priv * 1024 / n
}'
