#!/usr/bin/env bash
# Training at scale (a command, not a test; issue #16): fm_train_from_table
# on MovieLens-25M-shaped generated ratings (test/bench/scale_gen.c:
# 162,000 users, 59,000 movies, Zipf-Mandelbrot popularity, user metadata,
# 1-3 genres per movie, about 6.9 non-zeros per row), for each method:
#
#   read s           the source read (the final NOTICE's "read ... in X s"),
#                    next to COPY (SELECT the same columns) TO '/dev/null'
#   s / epoch        the median of the epochs' own times (their NOTICEs,
#                    set-up and the final exact RMSE pass not included),
#                    over --repeat interleaved runs (1 worker, 2 workers,
#                    1, 2, ...: a load that comes and goes hits both
#                    alike), with 1 and 2 workers when the training has a workers
#                    setting (a GUC fmrec.*worker* or a `workers` argument,
#                    detected; 'n/a' otherwise).  "N workers" = N processes
#                    training, the leader included: the setting gets N - 1,
#                    PostgreSQL's convention (workers besides the leader)
#   ratings x epochs / s
#   speed-up         the median s / epoch with 1 worker over that with 2; every
#                    repetition's own ratio is printed under the table
#   training memory  the final NOTICE's "training memory N MB", per rating
#   peak RSS         the backend's VmHWM from /proc/<pid>/status, read while
#                    its session is still open (psql runs the training, then
#                    `SELECT pg_backend_pid() \gset`, `\setenv` and `\! grep ... /proc/$PID/status`);
#                    every training runs in a new session, so VmHWM is that
#                    training's peak.  VmHWM counts the shared buffers the
#                    backend touched (RssShmem, printed too): shared_buffers
#                    is 128MB here, and the "private" column is VmHWM -
#                    RssShmem (an estimate: RssShmem only grows in a session)
#   two processes    scale_random (random reads of model-row-sized blocks, 8
#                    in flight) and scale_flops alone and as two copies at
#                    once: the ratio is the most a second worker can add
#   two at once      (unless --no-concurrent) two serial trainings of the
#                    method at the same time, each its own model: their
#                    s / epoch against one alone, 2 x alone / together =
#                    what a second process adds to this kernel on this
#                    machine with nothing shared, the bound of the
#                    2-worker speed-up that no sharing scheme can pass
#   limit            the hardware's bound on one epoch: ratings x max(bytes /
#                    bandwidth, flops / one core's peak), the bandwidth from
#                    serving_membw.c (a sequential read), the peak from
#                    scale_flops.c (FMA chains); the assumptions per method
#                    are printed under the table.  "of limit" = limit /
#                    measured (1.0 = at the hardware's limit).
#
#   test/bench/scale_bench.sh [--ratings N] [--users N] [--movies N]
#       [--methods "sgd ials als bpr"] [--epochs E] [--k K] [--memory MB]
#       [--workers "1 2"] [--repeat R] [--seed S] [--no-concurrent]
#
# Defaults: 25,000,000 ratings, methods sgd and ials, 2 epochs, k 64, the
# default fmrec.max_training_memory (--memory MB sets it for the trainings),
# workers 1 and 2, 3 repetitions.  validation_fraction => 0: an epoch is the update pass
# only (no per-epoch validation).  A training that fails (e.g. over the
# memory budget) prints its ERROR in the table and the script goes on.
# Uses a throwaway cluster; the 25M table is about 3 GB on disk.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

RATINGS=25000000
USERS=162000
MOVIES=59000
METHODS="sgd ials"
EPOCHS=2
K=64
MEMORY=
WORKERS="1 2"
SEED=1
REPEAT=3
CONCURRENT=t
while [ $# -gt 0 ]; do
	case $1 in
		--ratings) RATINGS=$2; shift 2 ;;
		--users) USERS=$2; shift 2 ;;
		--movies) MOVIES=$2; shift 2 ;;
		--methods) METHODS=$2; shift 2 ;;
		--epochs) EPOCHS=$2; shift 2 ;;
		--k) K=$2; shift 2 ;;
		--memory) MEMORY=$2; shift 2 ;;
		--workers) WORKERS=$2; shift 2 ;;
		--seed) SEED=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		--no-concurrent) CONCURRENT=f; shift ;;
		*) die "unknown option $1" ;;
	esac
done

HERE=$FMREC_ROOT/test/bench
BUILD=$HERE/build
FEATURES="ARRAY['user_id', 'movie_id', 'age_group', 'gender', 'occupation', 'genres']"

build_and_install
mkdir -p "$BUILD"
gcc -std=c11 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -I"$FMREC_ROOT/src/core" \
	-o "$BUILD/scale_gen" "$HERE/scale_gen.c" "$FMREC_ROOT/src/core/rng.c" -lm
gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$BUILD/scale_flops" "$HERE/scale_flops.c"
gcc -O3 -march=native -o "$BUILD/serving_membw" "$HERE/serving_membw.c" -lpthread
gcc -O3 -march=native -Wall -Wextra -Werror -o "$BUILD/scale_random" "$HERE/scale_random.c"

start_cluster "shared_buffers = 128MB" "max_wal_size = 8GB" "checkpoint_timeout = 1h" \
	"max_parallel_maintenance_workers = 2" "max_parallel_workers = 8"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"

log "generating $RATINGS ratings ($USERS users, $MOVIES movies, seed $SEED)"
psql -qX -v ON_ERROR_STOP=1 -d bench -c "CREATE UNLOGGED TABLE big (user_id integer, movie_id integer,
	age_group text, gender text, occupation integer, genres text[], rating real)"
t0=$(date +%s.%N)
"$BUILD/scale_gen" "$RATINGS" "$USERS" "$MOVIES" "$SEED" |
	psql -qX -v ON_ERROR_STOP=1 -d bench -c "COPY big FROM STDIN"
t1=$(date +%s.%N)
psql -qX -d bench -c "VACUUM ANALYZE big"
# the catalogue ials needs (one row per movie)
psql -qX -v ON_ERROR_STOP=1 -d bench -c "CREATE TABLE movies AS SELECT movie_id, min(genres) AS genres FROM big GROUP BY movie_id"
TABLE_MB=$(psql -qAtX -d bench -c "SELECT pg_relation_size('big') / 1048576")
NNZ=$(psql -qAtX -d bench -c "SELECT round(5 + avg(cardinality(genres)), 3) FROM big")
log "loaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s: $TABLE_MB MB, $NNZ non-zeros per row"

# the table's own speed: the same columns through COPY, twice (the second warm)
copy_s=
for _ in 1 2; do
	t0=$(date +%s.%N)
	psql -qX -d bench -c "COPY (SELECT user_id, movie_id, age_group, gender, occupation, genres, rating FROM big) TO '/dev/null'"
	t1=$(date +%s.%N)
	copy_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
done

# the workers setting of the training, if it has one
WORKER_GUC=$(psql -qAtX -d bench -c "SELECT name FROM pg_settings WHERE name ~ '^fmrec\\..*worker' ORDER BY name LIMIT 1")
WORKER_ARG=$(psql -qAtX -d bench -c "SELECT 'workers' = ANY (proargnames) FROM pg_proc WHERE proname = 'fm_train_from_table'")
if [ -n "$WORKER_GUC" ]; then
	WORKER_HOW="GUC $WORKER_GUC"
elif [ "$WORKER_ARG" = t ]; then
	WORKER_HOW="argument workers"
else
	WORKER_HOW=
fi

# The hardware's figures, measured before and after the trainings (the best
# of both: other work on the machine only ever lowers them).
BW=0 GF_FLOAT=0 GF_DOUBLE=0 RANDOM_ONE=0 RANDOM_TWO=0 FLOAT_TWO=0
# a measuring program alone, then two copies at once: prints "alone both"
# (the second figure the two copies' sum), its value in field 2 of its line
alone_and_two() {	# alone_and_two PATTERN COMMAND...
	local pattern=$1 one a b
	shift
	one=$("$@" | awk -v p="$pattern" '$0 ~ p { print $NF; exit }')
	a=$(mktemp) b=$(mktemp)
	"$@" >"$a" & "$@" >"$b"; wait
	echo "$one $(awk -v p="$pattern" '$0 ~ p { s += $NF } END { print s }' "$a" "$b")"
	rm -f "$a" "$b"
}
measure_hardware() {
	local bw gf gd r1 r2 f1 f2
	log "hardware: memory bandwidth and one core's arithmetic"
	read -r _ _ bw < <("$BUILD/serving_membw" 1024 1) || bw=0
	read -r gf gd < <("$BUILD/scale_flops" 2 | awk '$1 == "gflops" { v[$2] = $3 } END { print v["float"], v["double"] }')
	[ -n "$gf" ] && [ -n "$gd" ] || { gf=0; gd=0; }
	BW=$(awk -v a="$BW" -v b="$bw" 'BEGIN { print (b > a ? b : a) }')
	GF_FLOAT=$(awk -v a="$GF_FLOAT" -v b="$gf" 'BEGIN { print (b > a ? b : a) }')
	GF_DOUBLE=$(awk -v a="$GF_DOUBLE" -v b="$gd" 'BEGIN { print (b > a ? b : a) }')
	# what a second core can add: random 256-byte row reads (an sgd
	# epoch's access) and FMA chains, one process against two at once
	read -r r1 r2 < <(alone_and_two random_rows_per_s "$BUILD/scale_random" 1024 $((4 * (K + 1)))) || { r1=0; r2=0; }
	read -r f1 f2 < <(alone_and_two "gflops float" "$BUILD/scale_flops" 2) || { f1=0; f2=0; }
	if awk -v a="$RANDOM_TWO" -v b="$RANDOM_ONE" -v c="$r2" -v d="$r1" 'BEGIN { exit !(d > 0 && (b == 0 || c / d > a / b)) }'; then
		RANDOM_ONE=$r1 RANDOM_TWO=$r2
	fi
	if awk -v a="$FLOAT_TWO" -v c="$f2" -v d="$f1" 'BEGIN { exit !(d > 0 && c / d > a) }'; then
		FLOAT_TWO=$(awk -v c="$f2" -v d="$f1" 'BEGIN { printf "%.2f", c / d }')
	fi
}
measure_hardware

# train METHOD WORKERS -> the whole psql output (NOTICEs, errors, /proc lines) on stdout
train() {
	local method=$1 workers=$2 model=scale_$1${3:-} extra= set_workers= set_memory=
	case $method in
		ials|bpr) extra=", item_features => ARRAY['movie_id', 'genres'], items => 'movies', positive_threshold => 4" ;;
	esac
	# WORKERS counts the processes that train (the leader included); the
	# setting counts the workers besides the leader, PostgreSQL's convention
	# (max_parallel_workers_per_gather): 1 process = 0 workers = serial
	if [ -n "$workers" ] && [ -n "$WORKER_GUC" ]; then
		set_workers="SET $WORKER_GUC = $((workers - 1));"
	elif [ -n "$workers" ] && [ "$WORKER_ARG" = t ]; then
		extra="$extra, workers => $((workers - 1))"
	fi
	[ -z "$MEMORY" ] || set_memory="SET fmrec.max_training_memory = '${MEMORY}MB';"
	psql -X -d bench 2>&1 <<SQL
SET client_min_messages = notice;
SET fmrec.training_notices = 'epochs';
$set_memory
$set_workers
SELECT 1 AS trained FROM fm_train_from_table('big', 'rating', $FEATURES, '$model',
	method => '$method', k => $K, epochs => $EPOCHS, validation_fraction => 0$extra);
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! grep -E '^(VmHWM|RssShmem):' /proc/\$BACKEND_PID/status
SQL
}

RESULTS=()
CONCURRENT_LINES=()
MEMORY_LINES=()
REPEAT_LINES=()
for method in $METHODS; do
	declare -A epoch_s=() runs_s=()
	first=
	for rep in $(seq "$REPEAT"); do
		for w in $WORKERS; do
			if [ -z "$WORKER_HOW" ] && [ -n "$first" ]; then
				epoch_s[$w]=n/a
				continue
			fi
			case ${epoch_s[$w]:-} in ERROR*) continue ;; esac
			if [ -n "$WORKER_HOW" ]; then
				log "training $method, k $K, $EPOCHS epochs, $w process(es): $WORKER_HOW = $((w - 1)) (run $rep of $REPEAT)"
			else
				log "training $method, k $K, $EPOCHS epochs, workers setting absent (run $rep of $REPEAT)"
			fi
			out=$(train "$method" "$([ -n "$WORKER_HOW" ] && echo "$w")")
			if grep -q '^ERROR' <<<"$out"; then
				printf '%s\n' "$out" | grep -E '^(ERROR|DETAIL|HINT)' >&2
				epoch_s[$w]="ERROR: $(grep -m1 '^ERROR' <<<"$out" | sed 's/^ERROR: *//')"
				first=${first:-$w}
				[ -n "${res_read:-}" ] || res_read=error
				continue
			fi
			summary=$(grep -m1 'NOTICE:  model "scale_.*training memory' <<<"$out")
			grep -E 'NOTICE:  model "scale_' <<<"$out" | grep -v 'training memory' >&2 || true
			printf '%s\n' "$summary" >&2
			read_s=$(sed -nE 's/.*read [0-9]+ rows( and [0-9]+ items)? in ([0-9.]+) s.*/\2/p' <<<"$summary")
			trained=$(sed -nE 's/.*trained ([0-9]+) [a-z]+ in ([0-9.]+) s.*/\1 \2/p' <<<"$summary")
			mem_mb=$(sed -nE 's/.*training memory ([0-9.]+) MB.*/\1/p' <<<"$summary")
			pairs=$(sed -nE 's/.* ([0-9]+) contexts and ([0-9]+) positive pairs.*/\1 \2/p' <<<"$summary")
			hwm_kb=$(awk '$1 == "VmHWM:" { print $2 }' <<<"$out")
			shm_kb=$(awk '$1 == "RssShmem:" { print $2 }' <<<"$out")
			# the median of the epochs' own times (their NOTICEs): the summary's
			# "trained N epochs in T s" also holds the set-up and the final
			# exact training RMSE, a serial third of an epoch
			run_s=$(sed -nE 's/^NOTICE:  (epoch|iteration) [0-9]+\/[0-9]+: .*\(([0-9.]+) s\)$/\2/p' <<<"$out" | median)
			[ -n "$run_s" ] || run_s=$(awk -v t="$trained" 'BEGIN { split(t, a, " "); printf "%.2f", a[2] / a[1] }')
			runs_s[$w]="${runs_s[$w]:-}${runs_s[$w]:+ }$run_s"
			epoch_s[$w]=$(tr ' ' '\n' <<<"${runs_s[$w]}" | median)
			[ "$rep" != 1 ] || mem_by_processes="${mem_by_processes:-}${mem_by_processes:+, }$w: $mem_mb MB"
			if [ -z "$first" ]; then
				first=$w
				res_read=$read_s res_mem=$mem_mb res_hwm=$hwm_kb res_shm=$shm_kb res_pairs=$pairs
			fi
		done
	done
	# every repetition's own s / epoch and ratio: the spread the medians hide
	line="$method:"
	for w in $WORKERS; do line="$line $w worker(s) ${runs_s[$w]:-n/a} s;"; done
	read -r -a w_list <<<"$WORKERS"
	if [ ${#w_list[@]} -ge 2 ] && [ -n "${runs_s[${w_list[0]}]:-}" ] && [ -n "${runs_s[${w_list[1]}]:-}" ]; then
		line="$line ratios $(paste -d' ' <(tr ' ' '\n' <<<"${runs_s[${w_list[0]}]}") <(tr ' ' '\n' <<<"${runs_s[${w_list[1]}]}") |
			awk '$2 > 0 { printf "%s%.2fx", (n++ ? ", " : ""), $1 / $2 }')"
	fi
	REPEAT_LINES+=("$line")
	# two serial trainings at once, each with its own model (nothing shared):
	# how much a second process adds to this very kernel on this machine
	if [ "$CONCURRENT" = t ] && [ -n "$WORKER_HOW" ] && [ "${epoch_s[1]:-}" != "" ]; then
		log "training $method twice at once, serially, separate models"
		pair_dir=$(mktemp -d)
		train "$method" 1 _a >"$pair_dir/a" &
		train "$method" 1 _b >"$pair_dir/b"
		wait
		both=$(cat "$pair_dir/a" "$pair_dir/b" |
			sed -nE 's/^NOTICE:  (epoch|iteration) [0-9]+\/[0-9]+: .*\(([0-9.]+) s\)$/\2/p' | median)
		CONCURRENT_LINES+=("$method: $both s per epoch each against ${epoch_s[1]} alone: $(awk -v a="${epoch_s[1]}" -v b="$both" 'BEGIN { printf "%.2f", (b > 0 ? 2 * a / b : 0) }')x")
		rm -rf "$pair_dir"
		psql -X -qAt -d bench -c "SELECT fm_drop_model('scale_${method}_a'), fm_drop_model('scale_${method}_b')" >/dev/null
	fi
	MEMORY_LINES+=("$method: ${mem_by_processes:-n/a}")
	unset mem_by_processes
	# one table row per method: the first worker count's read, memory and RSS
	row="$method|${res_read:-}|${res_mem:-}|${res_hwm:-}|${res_shm:-}|${res_pairs:-}"
	for w in $WORKERS; do row="$row|${epoch_s[$w]}"; done
	RESULTS+=("$row")
	unset epoch_s runs_s res_read res_mem res_hwm res_shm res_pairs
done

# Hardware limit of one epoch, per method (bytes, flops per rating; precision):
#  sgd: every rating reads and writes the user's and the movie's rows (k + 1
#       floats each) from DRAM (the ~50 metadata and genre rows stay in cache;
#       the model, 221k x (k + 1) floats = 57 MB at k 64, does not fit the
#       32 MB L3), plus its CSR row (8 bytes per non-zero, 4 target, 8 order):
#       bytes = 2 x 2 x 4 (k + 1) + 8 nnz + 12; flops = 8 nnz k (prediction:
#       sum and sum of squares, 2 x 2 nnz k; update 4 nnz k), float.
#  als: each iteration sweeps every parameter over its rows: the error and
#       the factor cache of each non-zero's row read and written once per
#       factor (4 bytes each), bytes = 2 x 2 x 4 nnz (k + 1), flops = 6 nnz (k + 1), float.
#  ials: per positive pair per epoch, for each of the (k + 1) parameters of
#       the m_c = 4 context and m_i = nnz - 4 item features: ~6 flops (the
#       pair's h*y, h^2 and the prediction update), in double and from cache;
#       per context and item per parameter a (k + 2) Gram row: 2 (k + 2) flops.
#       flops per epoch = 6 pairs nnz (k + 1) + 2 (k + 1) (k + 2) (4 contexts
#       + (nnz - 4) items); bytes: the pair lists once per feature, 24 bytes
#       per pair and feature.
#  bpr: per positive pair per epoch one step over the context's 4 features
#       and both items' nnz - 4: each row's V and Adagrad sums (k floats
#       each) read and written; only the user's and the two movies' rows come
#       from DRAM: bytes = 3 x 2 x 2 x 4 (k + 1); flops = 12 k per row
#       touched (the sums, the gradients, Adagrad), float.
limit_s() {	# METHOD CONTEXTS PAIRS -> "bytes_per_rating flops_per_rating limit_s"
	awk -v m="$1" -v c="${2:-0}" -v p="${3:-0}" -v r="$RATINGS" -v k="$K" -v nnz="$NNZ" \
		-v items="$MOVIES" -v bw="$BW" -v gf="$GF_FLOAT" -v gd="$GF_DOUBLE" 'BEGIN {
		if (m == "sgd" || m == "adam") { b = 16 * (k + 1) + 8 * nnz + 12; f = 8 * nnz * k; peak = gf }
		else if (m == "als") { b = 16 * nnz * (k + 1); f = 6 * nnz * (k + 1); peak = gf }
		else if (m == "ials") {
			b = 24 * p * nnz / r
			f = (6 * p * nnz * (k + 1) + 2 * (k + 1) * (k + 2) * (4 * c + (nnz - 4) * items)) / r
			peak = gd
		} else if (m == "bpr") {
			b = 48 * (k + 1) * p / r
			f = 12 * k * (4 + 2 * (nnz - 4)) * p / r
			peak = gf
		} else { b = 0; f = 0; peak = gf }
		if (bw <= 0 || peak <= 0) { printf "%.0f %.0f n/a unmeasured\n", b, f; exit }
		t = r * b / (bw * 1e9); u = r * f / (peak * 1e9)
		printf "%.0f %.0f %.2f %s\n", b, f, (t > u ? t : u), (t > u ? "memory" : "compute")
	}'
}

measure_hardware
echo
echo "MovieLens-25M-shaped data: $RATINGS ratings, $USERS users, $MOVIES movies, $NNZ non-zeros per row, k $K, $EPOCHS epochs;"
echo "table $TABLE_MB MB; COPY (SELECT the same columns) TO '/dev/null' ${copy_s} s; workers setting: $([ -n "$WORKER_HOW" ] && echo "$WORKER_HOW = processes - 1" || echo absent)"
echo "hardware (best of before and after): read bandwidth $BW GB/s (serving_membw, 1 thread), one core $GF_FLOAT GFLOP/s float, $GF_DOUBLE double (scale_flops);"
echo "two processes at once against one (the most 2 workers can give; best of before and after): random $((4 * (K + 1)))-byte row reads $(awk -v a="$RANDOM_TWO" -v b="$RANDOM_ONE" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')x ($(awk -v b="$RANDOM_ONE" 'BEGIN { printf "%.1f", b / 1e6 }') M rows/s alone, scale_random), FMA ${FLOAT_TWO}x (scale_flops);"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
header="| method | read s | read / COPY |"
sep="|---|---|---|"
for w in $WORKERS; do header="$header s / epoch, $w worker$([ "$w" = 1 ] || echo s) |"; sep="$sep---|"; done
echo "$header ratings·epochs / s | speed-up | training memory MB | B / rating | peak RSS MB (private) | private B / rating | bytes, flops / rating | limit s / epoch | of limit |"
echo "$sep---|---|---|---|---|---|---|---|---|"
for row in "${RESULTS[@]}"; do
	IFS='|' read -r method read_s mem hwm shm pairs rest <<<"$row"
	IFS='|' read -r -a eps <<<"$rest"
	e1=${eps[0]}
	e2=${eps[1]:-n/a}
	read -r contexts npairs <<<"${pairs:-0 0}"
	read -r bpr fpr lim bound <<<"$(limit_s "$method" "$contexts" "$npairs")"
	awk -v m="$method" -v rd="$read_s" -v cp="$copy_s" -v e1="$e1" -v e2="$e2" -v eps="$rest" \
		-v mem="$mem" -v hwm="$hwm" -v shm="$shm" -v r="$RATINGS" -v bpr="$bpr" -v fpr="$fpr" \
		-v lim="$lim" -v bound="$bound" 'BEGIN {
		num = (e1 ~ /^[0-9.]+$/)
		printf "| %s | %s | %s |", m, rd, (rd ~ /^[0-9.]+$/ && cp > 0) ? sprintf("%.2f", rd / cp) : "n/a"
		n = split(eps, parts, "|")
		for (i = 1; i <= n; i++) printf " %s |", parts[i]
		printf " %s | %s |", num ? sprintf("%.0f", r / e1) : "n/a",
			(num && e2 ~ /^[0-9.]+$/) ? sprintf("%.2f", e1 / e2) : "n/a"
		printf " %s | %s |", mem != "" ? sprintf("%.0f", mem) : "n/a", mem != "" ? sprintf("%.0f", mem * 1048576 / r) : "n/a"
		printf " %s | %s |", hwm != "" ? sprintf("%.0f (%.0f)", hwm / 1024, (hwm - shm) / 1024) : "n/a",
			hwm != "" ? sprintf("%.0f", (hwm - shm) * 1024 / r) : "n/a"
		printf " %s B, %s | %s (%s) | %s |\n", bpr, fpr, lim, bound, (num && lim != "n/a") ? sprintf("%.2f", lim / e1) : "n/a"
	}'
done
echo
echo "Each of the $REPEAT interleaved runs (s / epoch, the median of its epochs; ratio = 1 worker / 2 workers of that run):"
for line in "${REPEAT_LINES[@]}"; do echo "  $line"; done
echo
echo "Training memory by processes training (the table shows the first):"
for line in "${MEMORY_LINES[@]}"; do echo "  $line"; done
if [ ${#CONCURRENT_LINES[@]} -gt 0 ]; then
	echo
	echo "Two serial trainings at once, each its own model (nothing shared; 2 x alone / together = the most a second process adds to this kernel here):"
	for line in "${CONCURRENT_LINES[@]}"; do echo "  $line"; done
fi
cat <<'EOF'

Assumptions of the limit (k = K, nnz = non-zeros per row; "of limit" = limit / measured):
  sgd:  DRAM traffic = the user's and the movie's rows read and written (2 x 2 x 4(k+1) B) + the CSR row
        (8 B per non-zero + 12); the ~50 metadata/genre rows stay in cache. flops = 8 nnz k, float.
  als:  per iteration each non-zero's row error and factor cache read and written once per factor:
        16 nnz (k+1) B; flops 6 nnz (k+1), float.
  ials: per positive pair and epoch 6 flops per parameter of its nnz features (double, from cache),
        plus 2 (k+1)(k+2) per context/item feature (the Gram row); bytes 24 per pair and feature.
  bpr:  per positive pair and epoch one step: the user's and both movies' V and Adagrad rows from DRAM,
        read and written (48 (k+1) B); 12 k flops per feature row touched (4 + 2 (nnz-4)), float.
  bandwidth: a sequential read (the best case; sgd's rows are random 260 B reads), peak: FMA chains.
  1 worker = the single-core bound; with 2 workers the bound halves at best (bandwidth is shared).
EOF
